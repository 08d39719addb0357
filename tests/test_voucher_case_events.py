"""Vouchers on the case timeline and the paged tail box page (issue 5): reserving, issuing and
releasing a serial are entries of the case, shown with their labels on the admin case page; a
big box lists its serials a page at a time with the totals per type (C3, C9, V1)."""

from __future__ import annotations

import re

from admin_web.app import AdminConfig
from bot.actions import TOOK_IT_BACK
from domain.cases import review
from domain.cases.case_words import CASE_SENTENCES
from domain.models import (
    Case,
    CaseEvent,
    CaseEventKind,
    MisIssue,
    MisIssueKind,
    MisIssueStatus,
    MovementKind,
    OutboxMessage,
    Role,
    Voucher,
    VoucherMovement,
    VoucherState,
    VoucherType,
)
from domain.vouchers import mis_issues, voucher_stock
from tests import test_admin_vouchers as ledgers
from tests import test_voucher_capture as capture
from tests.admin_support import admin_site, log_in, zh
from tests.chat_driver import Chat
from tests.factories import capture_context, web_user
from tests.outbox_support import chat_buttons
from tests.review_support import seen

desk = capture.desk
fake = capture.fake
chat = capture.chat
ledger = ledgers.ledger
MINE = capture.MINE


async def voucher_events(case_id: int) -> list[tuple[str, dict[str, str]]]:
    """The voucher entries of a case's timeline, oldest first."""
    kinds = [CaseEventKind.VOUCHER_RESERVED, CaseEventKind.VOUCHER_ISSUED,
             CaseEventKind.VOUCHER_RELEASED, CaseEventKind.VOUCHER_TO_RECOVER,
             CaseEventKind.VOUCHER_TAKEN_BACK]
    rows = await CaseEvent.filter(case_id=case_id, kind__in=kinds).order_by("id")
    return [(row.kind.value, row.detail) for row in rows]


def reserved(serial: str) -> tuple[str, dict[str, str]]:
    """The timeline entry of a reserved debit card."""
    return "voucher_reserved", {"serial": serial, "voucher_type": "DEBIT_CARD"}


async def test_reserving_and_approval_write_the_case_timeline(
    chat: Chat, desk: capture.Desk
) -> None:
    case = await capture.submitted_case(chat, MINE[0])
    assert await voucher_events(case.id) == [reserved(MINE[0])]
    await seen(desk.reviewer, case.id)
    await review.approve(desk.reviewer, case.id, capture_context(desk.media_root))
    assert await voucher_events(case.id) == [reserved(MINE[0]), (
        "voucher_issued", {"serial": MINE[0], "voucher_type": "DEBIT_CARD"})]


async def test_a_rejected_case_asks_the_agent_to_take_the_card_back_then_it_is_in_the_box(
    chat: Chat, desk: capture.Desk
) -> None:
    case = await capture.submitted_case(chat, MINE[1])
    await review.reject(desk.reviewer, case.id, "identity_doubt", "",
                        capture_context(desk.media_root))
    card = {"serial": MINE[1], "voucher_type": "DEBIT_CARD"}
    assert await voucher_events(case.id) == [reserved(MINE[1]), ("voucher_to_recover", card)]
    voucher = await Voucher.get(serial=MINE[1])
    mis = await MisIssue.get(case_id=case.id)
    assert (voucher.state, mis.kind, mis.status, mis.incident_id) == (  # type: ignore[attr-defined]
        VoucherState.MIS_ISSUED, MisIssueKind.CASE_CLOSED, MisIssueStatus.RECOVERING, None)
    asked = await OutboxMessage.get(template=mis_issues.TO_RECOVER_TO_HOLDER)
    assert asked.recipient_id == desk.agent.id  # type: ignore[attr-defined]
    assert chat_buttons(asked) == [[[TOOK_IT_BACK, f"vc:back:{mis.id}"]]]
    box = await chat.say("/box")
    assert f"Take serial {MINE[1]} of case {case.case_no} back from the customer by" in box.text
    assert box.buttons[TOOK_IT_BACK] == f"vc:back:{mis.id}"
    took = await chat.press(f"vc:back:{mis.id}")
    assert took.text == f"Serial {MINE[1]} is back in your tail box."
    assert await voucher_events(case.id) == [reserved(MINE[1]), ("voucher_to_recover", card),
                                             ("voucher_taken_back", card)]
    assert (await Voucher.get(serial=MINE[1])).state == VoucherState.IN_BOX
    assert [m.kind for m in await VoucherMovement.filter(voucher_id=voucher.id).order_by(
        "id")][-2:] == [MovementKind.TO_RECOVER, MovementKind.TAKEN_BACK]
    again = await chat.press(f"vc:back:{mis.id}")
    assert again.text == f"Mis-issue #{mis.id} is no longer being recovered."
    _, username = await web_user(desk.ids["branch_a"], Role.REVIEWER, no="R9")
    config = AdminConfig(secret_key="test-secret", capture=capture_context(desk.media_root))
    async with admin_site(config) as client:
        assert (await log_in(client, username)).url.path == "/"
        page = await (await client.get(f"/cases/{case.id}")).text()
    words = {"actor": desk.agent.name, "serial": MINE[1],
             "voucher_type": (await VoucherType.get(id=voucher.voucher_type_id)).name_zh}
    assert all(zh(CASE_SENTENCES[kind], **words) in page for kind in (
        CaseEventKind.VOUCHER_RESERVED, CaseEventKind.VOUCHER_TO_RECOVER,
        CaseEventKind.VOUCHER_TAKEN_BACK)), page


async def test_changing_the_serial_in_the_draft_releases_the_old_one_on_the_timeline(
    chat: Chat, desk: capture.Desk
) -> None:
    summary = await capture.to_summary(chat, MINE[0])
    await chat.press(summary.buttons[capture.CHANGE_SERIAL])
    again = await chat.say(MINE[2])
    assert f"Debit card handed over: {MINE[2]}" in again.text
    case = await Case.get(agent_id=desk.agent.id)
    assert [kind for kind, _ in await voucher_events(case.id)] == [
        "voucher_reserved", "voucher_released", "voucher_reserved"]


def serial_cells(page: str, type_name: str) -> list[str]:
    """The serials of one voucher type listed in the serial table of a box page."""
    return re.findall(r'<td class="serial">(\d{8})</td>\s*<td>' + re.escape(type_name) + '</td>',
                      page)


async def test_a_big_box_lists_its_serials_a_hundred_at_a_time(
    ledger: ledgers.Ledger
) -> None:
    await voucher_stock.set_cap(ledger.ops, ledger.ids["outlet_a"], ledger.key.id, 200)
    await ledgers.stock(ledger, "10000001", "10000150")
    await voucher_stock.allocate(ledger.ops, ledger.box_a.id, ledger.key.id, count=150)
    box = f"/vouchers/boxes/{ledger.box_a.id}"
    async with ledgers.session(ledger.ids["province"], Role.OPS_ADMIN, "O002") as client:
        first = await (await client.get(box)).text()
        more = re.search(r'<a href="([^"]+)" rel="next">' + re.escape(zh("More serials")),
                         first)
        assert more is not None
        second = await (await client.get(more.group(1).replace("&amp;", "&"))).text()
    assert serial_cells(first, ledger.key.name_zh) == [str(n) for n in range(10000001, 10000101)]
    assert serial_cells(second, ledger.key.name_zh) == [str(n) for n in range(10000101, 10000151)]
    assert zh("%(type)s: %(count)s serials", type=ledger.key.name_zh, count=150) in first
    assert zh("More serials") not in second
