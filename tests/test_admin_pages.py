"""Every admin page renders, for every role that may open it, with rows of every kind."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from admin_web.views.incidents import KIND_LABELS
from domain.models import Incident, IncidentKind, IncidentStatus
from locales import translate
from tests.admin_support import (
    DEMO_USERS,
    admin_site,
    demo_log_in,
    site_config,
)
from tests.page_walk_support import detail_links, filtered, list_pages


async def test_every_page_renders_rows_of_every_kind_for_every_role(
    every_kind_media: Path
) -> None:
    kinds = set(await Incident.all().values_list("kind", flat=True))
    assert kinds >= set(IncidentKind) - {IncidentKind.PAPERS_LOSS}
    assert await Incident.filter(status=IncidentStatus.CLOSED).exists()
    statuses: dict[tuple[str, str], int] = {}
    opened = 0
    for username in DEMO_USERS:
        async with admin_site(site_config(every_kind_media)) as client:
            assert (await demo_log_in(client, username)).url.path == "/"
            seen: Counter[str] = Counter()
            for page in list_pages(client):
                response = await client.get(page)
                statuses[(username, page)] = response.status
                if response.status != 200:
                    continue
                html = await response.text()
                for url in filtered(page, html) + detail_links(html, seen):
                    statuses[(username, url)] = (await client.get(url)).status
                    opened += 1
    broken = {key: status for key, status in statuses.items() if status not in (200, 403)}
    assert broken == {}, sorted(broken.items())
    assert opened > 100
    # The system admin opens every page but the forms of what operations management keeps
    # and the person pages (the history is for supervisors, operations management, auditors).
    assert {page for (user, page), status in statuses.items()
            if user == "admin" and "?" not in page and status != 200
            and not page.startswith("/people/")} == {
        "/business-types/new", "/review-reasons/new", "/vouchers/receive"}


async def test_incidents_of_every_kind_show_with_their_major_reason(
    every_kind_media: Path
) -> None:
    pages = {}
    for username in ("ops", "it", "supervisor", "auditor", "admin"):
        async with admin_site(site_config(every_kind_media)) as client:
            await demo_log_in(client, username)
            response = await client.get("/incidents?status=all")
            pages[username] = (response.status, await response.text())
    assert {user: status for user, (status, _) in pages.items()} == dict.fromkeys(pages, 200)
    html = pages["ops"][1]
    for kind in set(IncidentKind) - {IncidentKind.PAPERS_LOSS}:
        assert translate("zh_CN", KIND_LABELS[kind]) in html, kind
    for reason in ("Repeated loss of vouchers or customer papers (Q4)",
                   "The customer denied the business at the callback (Q4, K1)",
                   "Mis-issued voucher not recovered (Q4)"):
        assert reason in html or translate("zh_CN", reason) in html, reason
    assert "客户资料外泄风险" in html and "已向客户致歉并重新培训" in html
    assert "callback_denied" not in html
