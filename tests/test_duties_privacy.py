"""Customer data by duty (S2, issue 13): the system administrator and the branch supervisor see
no ID-card image, every view of one is audited, clear ID numbers and mobiles are revealed at
one limited rate per person with an alert to the supervisors, and every refused reveal is
audited."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from admin_web.app import AdminConfig
from domain.cases import case_summaries
from domain.models import (
    AuditLog,
    BusinessType,
    Callback,
    CasePhoto,
    OutboxMessage,
    PhotoKind,
    Role,
    Staff,
)
from domain.oversight import callbacks
from domain.platform.calendar import Calendar
from domain.platform.clock import utcnow
from domain.platform.errors import DomainError
from domain.platform.privacy import RevealLimits
from tests.admin_support import admin_site, log_in, sent_back, submit, web_login, zh
from tests.callback_support import approved
from tests.case_support import ID_NUMBER, MOBILE
from tests.factories import person
from tests.review_support import build_desk, submitted_case

REFUSED = "You may reveal customer data in clear at most %(n)s times an hour. Try again " \
          "later; your supervisors see how many you revealed."


async def test_id_card_images_go_only_to_the_roles_whose_duty_needs_them(
        database_url: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    await person(desk.ids["province"], Role.SYSADMIN, no="Y001")
    case = await submitted_case(desk)
    photos = dict(await CasePhoto.filter(case_id=case.id).values_list("kind", "sha256"))
    config = AdminConfig(secret_key="test-secret", capture=desk.ctx)
    seen, pages = {}, {}
    for no in ("Y001", "S001", "R001", "O001"):
        async with admin_site(config) as client:
            await log_in(client, await web_login(no))
            pages[no] = await (await client.get(f"/cases/{case.id}")).text()
            base = f"/cases/{case.id}/photos"
            seen[no] = ((await client.get(f"{base}/{photos[PhotoKind.ID_FRONT]}")).status,
                        (await client.get(f"{base}/{photos[PhotoKind.ID_BACK]}?size=small")
                         ).status,
                        (await client.get(f"{base}/{photos[PhotoKind.ONSITE_WITH_AGENT]}")
                         ).status)
    assert seen == {"Y001": (403, 403, 200), "S001": (403, 403, 200),
                    "R001": (200, 200, 200), "O001": (200, 200, 200)}
    link = f"/cases/{case.id}/photos/{{}}?size=small".format
    assert link(photos[PhotoKind.ID_FRONT]) not in pages["Y001"] + pages["S001"]
    assert link(photos[PhotoKind.ONSITE_WITH_AGENT]) in pages["Y001"]
    assert link(photos[PhotoKind.ID_FRONT]) in pages["R001"]
    views = await AuditLog.filter(action="case.id_image_view", object_id=str(case.id)
                                  ).values_list("actor_id", "detail")
    viewers = {no: (await Staff.get(employee_no=no)).id for no in ("R001", "O001")}
    assert sorted((actor, detail["kind"]) for actor, detail in views) == sorted(
        (viewers[no], kind) for no in viewers for kind in ("id_back", "id_front"))


async def test_reveals_past_the_hourly_rate_are_refused_and_supervisors_alerted(
        database_url: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    boss, _ = await person(desk.ids["branch_a"], Role.SUPERVISOR, no="M001")
    ctx = replace(desk.ctx, reveal_limits=RevealLimits(per_hour=3, alert_from=2))
    case = await submitted_case(desk)
    page = f"/cases/{case.id}"
    async with admin_site(AdminConfig(secret_key="test-secret", capture=ctx)) as client:
        await log_in(client, await web_login("R001"))
        answers = [await submit(client, f"{page}/reveal", {}, page=page) for _ in range(4)]
        texts = [await answer.text() for answer in answers]
    assert [ID_NUMBER in text for text in texts] == [True, True, True, False]
    assert sent_back(answers[3], page) and zh(REFUSED, n=3) in texts[3]
    reviewer = desk.reviewer.staff_id
    assert await AuditLog.filter(action="case.customer_reveal", actor_id=reviewer).count() == 3
    alerted = await OutboxMessage.filter(kind="staff.reveals_alert", subject_id=reviewer
                                         ).values_list("recipient_id", flat=True)
    assert sorted(alerted) == sorted([boss.id, desk.ops.staff_id])


async def refusals(action: str) -> list[tuple[int | None, str, str]]:
    """(actor, object, reason) of the audited refusals of one kind of reveal."""
    rows = await AuditLog.filter(action=f"{action}_refused").order_by("id")
    return [(row.actor_id, row.object_id, row.detail["reason"]) for row in rows]


async def test_refused_reveals_are_audited_with_who_what_and_why(
        database_url: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    admin, _ = await person(desk.ids["province"], Role.SYSADMIN, no="Y001")
    ctx = replace(desk.ctx, reveal_limits=RevealLimits(per_hour=1, alert_from=5))
    case = await submitted_case(desk)
    front = await CasePhoto.get(case_id=case.id, kind=PhotoKind.ID_FRONT)
    page = f"/cases/{case.id}"
    async with admin_site(AdminConfig(secret_key="test-secret", capture=ctx)) as client:
        await log_in(client, await web_login("Y001"))
        by_admin = await submit(client, f"{page}/reveal", {}, page=page)
        image = await client.get(f"{page}/photos/{front.sha256}")
    async with admin_site(AdminConfig(secret_key="test-secret", capture=ctx)) as client:
        await log_in(client, await web_login("R001"))
        answers = [await submit(client, f"{page}/reveal", {}, page=page) for _ in range(2)]
    assert (by_admin.status, image.status, answers[0].status) == (403, 403, 200)
    assert sent_back(answers[1], page)
    no_permission = "You do not have permission for this action."
    assert await refusals("case.customer_reveal") == [
        (admin.id, str(case.id), no_permission), (desk.reviewer.staff_id, str(case.id), REFUSED)]
    assert [(actor, reason.startswith("ID-card images")) for actor, _, reason in
            await refusals("case.id_image_view")] == [(admin.id, True)]
    assert await AuditLog.filter(action="case.customer_reveal").count() == 1


async def test_mobile_reveals_share_the_rate_and_the_alert_of_id_reveals(
        database_url: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    await BusinessType.all().update(callback_rate=100)
    caller_row, _ = await person(desk.ids["branch_a"], Role.CALLBACK_AGENT, no="C001")
    await approved(desk)
    await callbacks.sample_callbacks(utcnow(), Calendar())
    callback = await Callback.get(assigned_to_id=caller_row.id)
    ctx = replace(desk.ctx, reveal_limits=RevealLimits(per_hour=2, alert_from=2))
    page = f"/callbacks/{callback.id}"
    config = AdminConfig(secret_key="test-secret", capture=ctx, calendar=Calendar())
    async with admin_site(config) as client:
        await log_in(client, await web_login("C001"))
        answers = [await submit(client, f"{page}/reveal", {}, page=page) for _ in range(3)]
        texts = [await answer.text() for answer in answers]
    assert [MOBILE in text for text in texts] == [True, True, False]
    assert sent_back(answers[2], page) and zh(REFUSED, n=2) in texts[2]
    assert await refusals("callback.customer_reveal") == [
        (caller_row.id, str(callback.id), REFUSED)]
    alerted = await OutboxMessage.filter(kind="staff.reveals_alert", subject_id=caller_row.id
                                         ).values_list("recipient_id", flat=True)
    assert alerted == [desk.ops.staff_id]
    ops = replace(desk.ctx, reveal_limits=RevealLimits(per_hour=1, alert_from=5))
    await case_summaries.reveal_customer(desk.ops, callback.case_id, ops)  # type: ignore[attr-defined]
    with pytest.raises(DomainError) as refusal:
        await callbacks.reveal_mobile(desk.ops, callback.id, ops.cipher, ops.reveal_limits)
    assert refusal.value.key == REFUSED
