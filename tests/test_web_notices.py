"""Web notifications (issue 16): every alert that goes to chat also waits in the admin, behind
a bell, for its recipient only; read ones are pruned after the retention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tortoise.transactions import in_transaction

from domain.cases import review, review_duty
from domain.models import OutboxMessage, WebNotice
from domain.platform import housekeeping, outbox, web_notices
from domain.platform.clock import utcnow
from domain.platform.errors import NotFound
from domain.platform.intents import KINDS, Intent
from domain.platform.paging import PageRequest
from tests.admin_support import admin_site, log_in, submit, web_login
from tests.case_support import MONDAY_10AM, ZONE
from tests.review_support import Desk, build_desk, submitted_case

ALL = PageRequest()


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    return await build_desk(tmp_path)


async def _notices_of(staff_id: int | None) -> list[WebNotice]:
    return await WebNotice.filter(recipient_id=staff_id).order_by("id")


async def test_a_new_case_waits_in_the_admin_of_each_reviewer_on_duty(desk: Desk) -> None:
    await review_duty.set_on_duty(desk.reviewer, True, ZONE, now=MONDAY_10AM)

    case = await submitted_case(desk)

    sent = await OutboxMessage.filter(kind="case.submitted").order_by("recipient_id")
    shown = await WebNotice.filter(kind="case.submitted").order_by("recipient_id")
    assert [m.recipient_id for m in sent] == [desk.reviewer.staff_id]
    assert await _notices_of(desk.second.staff_id) == []  # in the chain, off duty
    assert [(n.recipient_id, n.idempotency_key, n.subject_id, n.template, n.params)
            for n in shown] == [(m.recipient_id, m.idempotency_key, case.id, m.template,
                                 m.params) for m in sent]
    assert await _notices_of(desk.outsider.staff_id) == []  # another branch's reviewer
    assert await web_notices.unread_count(desk.reviewer) == 1


async def test_the_notice_is_written_in_the_transaction_of_its_outbox_message(desk: Desk
                                                                           ) -> None:
    intent = Intent.of("incident.reported", 1)
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await outbox.enqueue(desk.supervisor.staff_id or 0, "lost", intent=intent,
                                 idempotency_key="loss:1")
            assert await WebNotice.exists(idempotency_key="loss:1")
            raise RuntimeError("the change failed after its notice was queued")
    assert not await OutboxMessage.exists(idempotency_key="loss:1")
    assert not await WebNotice.exists(idempotency_key="loss:1")
    for _twice in range(2):
        await outbox.enqueue(desk.supervisor.staff_id or 0, "lost", intent=intent,
                             idempotency_key="loss:1")
    assert await WebNotice.filter(idempotency_key="loss:1").count() == 1


async def test_a_notice_is_read_and_counted_only_by_its_recipient(desk: Desk) -> None:
    await submitted_case(desk)
    await submitted_case(desk, seed=1)
    mine = await _notices_of(desk.reviewer.staff_id)
    assert len(mine) == 2 and await web_notices.unread_count(desk.reviewer) == 2

    with pytest.raises(NotFound):
        await web_notices.mark_read(desk.outsider, mine[0].id)
    await web_notices.mark_read(desk.reviewer, mine[0].id)

    assert await web_notices.unread_count(desk.reviewer) == 1
    assert await web_notices.unread_count(desk.second) == 2  # his own notices are his
    page = await web_notices.notices(desk.reviewer, ALL, unread_only=True)
    assert [n.id for n in page.rows] == [mine[1].id]
    assert [n.id for n in (await web_notices.notices(desk.outsider, ALL)).rows] == []


async def test_mark_all_read_leaves_a_notice_that_came_meanwhile_unread(desk: Desk) -> None:
    await submitted_case(desk)
    seen = await web_notices.newest_id(desk.reviewer)
    await submitted_case(desk, seed=1)  # arrives while the list is open

    assert await web_notices.mark_all_read(desk.reviewer, seen) == 1
    assert await web_notices.unread_count(desk.reviewer) == 1


async def test_a_claim_rewrites_the_other_reviewers_notice_as_in_chat(desk: Desk) -> None:
    case = await submitted_case(desk)
    await review.claim(desk.reviewer, case.id)

    notice = (await _notices_of(desk.second.staff_id))[0]
    assert notice.kind == "case.claimed"
    assert notice.params["reviewer"] == desk.reviewer.label


def test_digest_notices_the_digest_and_secrets_stay_out_of_the_admin() -> None:
    hidden = {name for name, kind in KINDS.items()
              if not web_notices.shown_on_web(Intent.of(name, 1))}
    assert hidden == {name for name, kind in KINDS.items() if kind.digest} | {
        "digest.daily", "staff.password_issued"}
    assert "case.submitted" not in hidden and "incident.reported" not in hidden


async def test_read_notices_are_pruned_after_the_retention_unread_ones_stay(desk: Desk
                                                                         ) -> None:
    now = utcnow()
    for key, read_at in (("old", now - timedelta(days=31)), ("recent", now - timedelta(days=1)),
                         ("unread", None)):
        await WebNotice.create(recipient_id=desk.reviewer.staff_id, kind="case.submitted",
                               subject_type="case", subject_id=1, template="t",
                               idempotency_key=key, created_at=now - timedelta(days=40),
                               read_at=read_at)

    removed = await housekeeping.prune(housekeeping.Retention(days=30))

    assert removed["web_notice"] == 1
    assert set(await WebNotice.filter(idempotency_key__in=("old", "recent", "unread"))
               .values_list("idempotency_key", flat=True)) == {"recent", "unread"}


async def test_a_reviewer_in_the_browser_sees_opens_and_reads_the_new_case(desk: Desk) -> None:
    username = await web_login("R001")
    outsider = await web_login("R003")
    case = await submitted_case(desk)
    notice = (await _notices_of(desk.reviewer.staff_id))[0]
    async with admin_site() as client:
        await log_in(client, username)
        assert (await (await client.get("/notifications/status")).json()) == {"unread": 1}
        page = await (await client.get("/notifications")).text()
        assert case.case_no in page and 'data-bell-count>1<' in page
        opened = await submit(client, f"/notifications/{notice.id}/read", {"open": "1"},
                              page="/notifications")
        assert opened.url.path == f"/cases/{case.id}"
        assert (await (await client.get("/notifications/status")).json()) == {"unread": 0}
    async with admin_site() as client:
        await log_in(client, outsider)
        refused = await submit(client, f"/notifications/{notice.id}/read", {},
                               page="/notifications")
        assert refused.status == 404
        assert case.case_no not in await (await client.get("/notifications")).text()
    assert (await WebNotice.get(id=notice.id)).read_at is not None
