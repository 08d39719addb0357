"""Notification intents (issue 12): the domain says what happened and which actions are
possible; Telegram, the browser chat, the admin and a second chat platform each render the
same intent in their medium, and an action an edge cannot render is an error, not a gap."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from admin_web import links
from bot import actions
from bot.flows import router
from bot.flows.messages import absolute_links
from bot.telegram.convert import markup
from domain.cases import cases, review, review_sla, special
from domain.cases.business_types import BusinessTypeForm, create_business_type
from domain.ledgers import (
    devices,
    idle_accounts,
    incidents,
    major_incidents,
    qualification_basis,
    qualifications,
)
from domain.ledgers.devices import DeviceForm
from domain.ledgers.incidents import LossReport
from domain.models import (
    BoxCount,
    BusinessType,
    Callback,
    Inspection,
    OutboxMessage,
    PhotoKind,
    QualificationBasis,
    Role,
)
from domain.oversight import callback_deadlines, callbacks, inspection_deadlines, inspections
from domain.oversight.callbacks import CallRecord
from domain.people import staff
from domain.platform import digest, outbox
from domain.platform.calendar import DEFAULT_ZONE, Calendar
from domain.platform.clock import utcnow
from domain.platform.intents import KINDS, Action, Intent, Kind, Subject, SubjectType
from domain.vouchers import (
    case_vouchers,
    day_end_counts,
    mis_issue_deadlines,
    mis_issues,
    tail_boxes,
    voids,
    voucher_counts,
    voucher_stock,
)
from tests.case_support import MONDAY_8PM, MONDAY_10AM
from tests.duties_support import grants_and_reveals
from tests.factories import ISSUED_AT, ROOT, operational, org_tree, person
from tests.inspection_support import NOV_1, NOV_DUE, STOCK, vault_world
from tests.review_support import build_desk, seen, submitted_case
from tests.voucher_support import card, voucher_world

PUBLIC_URL = "https://fieldops.example"
LATER = MONDAY_10AM + timedelta(minutes=5)
T0 = MONDAY_10AM

# --- a second chat platform, for the tests only ---------------------------------------------


@dataclass(frozen=True)
class CardButton:
    """A button of a pretend card-based platform: its text and a short key to resolve."""

    text: str
    key: str


CARD_TEXTS: dict[Action, str] = {
    Action.OPEN: "Details", Action.CLAIM: "Take it", Action.APPROVE: "OK",
    Action.RETURN: "Send back", Action.REFUSE: "No", Action.RETAKE: "Retake",
    Action.CONFIRM_RECEIPT: "Received", Action.TAKE_BACK: "Recovered", Action.COUNT: "Count",
    Action.TAKE_OVER: "Take over", Action.START: "Start",
}


def card_buttons(intent: Intent) -> list[CardButton]:
    """The intent as the buttons of one card, keyed by what the domain said alone."""
    subject = intent.subject
    return [CardButton(CARD_TEXTS[action], f"{subject.type}.{subject.id}.{action}")
            for action in intent.actions]


# --- the kinds the real services enqueue -----------------------------------------------------


async def review_desk(tmp_path: Path) -> None:
    """Submit, approve with four eyes, return, reject, hold, chase; special approvals."""
    desk = await build_desk(tmp_path)
    four = await submitted_case(desk, four_eyes=True, seed=1)
    await seen(desk.reviewer, four.id)
    await review.approve(desk.reviewer, four.id, desk.ctx, LATER)
    await seen(desk.second, four.id)
    await review.approve(desk.second, four.id, desk.ctx, LATER)
    for seed, decide in (
        (2, lambda c: review.return_case(desk.reviewer, c, ["portrait_mismatch"], "",
                                         desk.ctx, now=LATER)),
        (3, lambda c: review.reject(desk.reviewer, c, "networked_check_failed", "",
                                    desk.ctx, LATER)),
        (4, lambda c: review.hold(desk.reviewer, c, "联网核查系统故障", desk.ctx, LATER)),
    ):
        await decide((await submitted_case(desk, seed=seed)).id)
    await submitted_case(desk, seed=5)
    claimed = await submitted_case(desk, seed=6)
    await review.claim(desk.reviewer, claimed.id, LATER)
    repeat = timedelta(minutes=30)
    await review_sla.sweep_sla(MONDAY_10AM + timedelta(minutes=10), repeat, desk.ctx)
    await review_sla.sweep_sla(MONDAY_10AM + timedelta(minutes=20), repeat, desk.ctx)
    asked_at = MONDAY_8PM - timedelta(hours=3)
    for approve in (False, True):
        request = await special.request_special(
            desk.agent, MONDAY_8PM - timedelta(hours=1), MONDAY_8PM + timedelta(hours=2),
            "客户住院，只能晚间办理", asked_at)
        await special.decide_special(desk.supervisor, request.id, approve, "", asked_at)


async def vault(tmp_path: Path) -> None:
    """Day-end counts, monthly inspections chased and counted apart, a surprise round."""
    v = await vault_world()
    calendar = Calendar()
    await inspections.create_monthly_inspections(NOV_1)
    await inspection_deadlines.sweep_inspection_deadlines(NOV_DUE - timedelta(hours=71),
                                                          calendar)
    await inspection_deadlines.sweep_inspection_deadlines(NOV_DUE + timedelta(minutes=1),
                                                          calendar)
    row = await Inspection.get(box_id=v.box.id)
    await inspections.start_inspection(v.supervisor, row.id, now=NOV_DUE + timedelta(hours=1))
    await inspections.record_count(v.holder, row.id, {"KEY": 2, "SIM": 2})
    await inspections.record_count(v.supervisor, row.id, STOCK)
    await inspections.launch_surprise(v.ops, v.ids["province"], percent=100,
                                      now=NOV_DUE + timedelta(days=1),
                                      due_hours=calendar.surprise_due_hours)
    await day_end_counts.sweep_unanswered_counts(NOV_DUE + timedelta(days=9),
                                                 timedelta(minutes=30), timedelta(hours=1))


async def tablets_and_staff(tmp_path: Path) -> None:
    """A tablet issued, left unconfirmed, confirmed, lost and found; roles changed, idle
    accounts flagged, one kept and the others disabled; a deactivation; the next day's
    digest of what was not urgent."""
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001")
    _, it = await person(ids["branch_a"], Role.IT_ADMIN, no="I001")
    await person(ids["sub_a"], Role.SUPERVISOR, no="S001")
    agent_row, agent = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001")
    debit = await create_business_type(ops, "DEBIT_CARD", BusinessTypeForm(
        "借记卡开户", "Debit card opening",
        frozenset({PhotoKind.ID_FRONT, PhotoKind.ONSITE_WITH_AGENT})))
    idle_row, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F002")
    for row in (agent_row, idle_row):
        await qualification_basis.record_counter_qualification(
            ROOT, row.id, f"GT{row.employee_no}", date(2020, 1, 6))
        await qualifications.grant(ROOT, row.id, [debit.id], QualificationBasis.COUNTER)
    tablet = await devices.register_device(it, DeviceForm(
        "PAD0001", "SN000001", None, "Huawei MatePad 11", date(2025, 3, 1), ids["outlet_a"]))
    await devices.issue_device(it, tablet.id, agent_row.id, now=ISSUED_AT)
    await devices.sweep_unconfirmed_receipts(ISSUED_AT + timedelta(hours=25))
    await devices.confirm_receipt(agent, tablet.id, ISSUED_AT + timedelta(hours=26))
    lost_at = ISSUED_AT + timedelta(hours=27)
    incident = await incidents.report_loss(agent, LossReport(
        "device", "PAD0001", lost_at, "幸福小区3号楼", "放在客户家门口后不见了"), lost_at)
    await devices.mark_found(it, tablet.id, "客户送回")
    await incidents.close_incident(ops, incident.id, "设备已找回，数据无泄露")
    await staff.update_staff(ROOT, agent_row.id, staff.StaffForm(
        employee_no="F001", name=agent_row.name, org_id=ids["outlet_a"],
        roles=frozenset({Role.FIELD_AGENT, Role.CALLBACK_AGENT})))
    flagged_at = utcnow() + timedelta(days=91)
    await idle_accounts.sweep_idle_accounts(flagged_at, 90, 14)
    await idle_accounts.keep_idle_account(ops, agent_row.id,
                                          (flagged_at + timedelta(days=60)).date(), "下月展业")
    await idle_accounts.sweep_idle_accounts(flagged_at + timedelta(days=14), 90, 14)
    await staff.set_active(ROOT, agent_row.id, False)
    tomorrow = (utcnow() + timedelta(days=1)).astimezone(DEFAULT_ZONE).date()
    await digest.send_due_digests(Calendar(working_weekdays=frozenset(range(7))),
                                  datetime.combine(tomorrow, time(9), DEFAULT_ZONE))


async def recovery_and_voids(tmp_path: Path) -> None:
    """A cancelled case's card and a mis-issued card chased; voids signed and refused; a
    box frozen by a loss and unfrozen."""
    w = await voucher_world(tmp_path / "media")
    await person(w.ids["outlet_a"], Role.SUPERVISOR, no="S001")
    await voucher_stock.set_cap(w.ops, w.ids["outlet_a"], w.card_type.id, 10)
    await voucher_stock.receive_range(w.ops, w.ids["outlet_a"], w.card_type.id, card(1),
                                      card(6), T0)
    await voucher_stock.allocate(w.ops, w.box.id, w.card_type.id, count=4, now=T0)
    case = await cases.start_draft(w.agent, w.business_type_id, w.ctx, T0)
    await case_vouchers.reserve_for_case(w.agent, case.id, card(1), T0)
    await cases.cancel(w.agent, case.id)
    mis = await mis_issues.record_mis_issue(w.ops, card(2), "拿错", now=T0)
    for moment in (mis.recover_by - timedelta(hours=47), mis.recover_by + timedelta(minutes=1)):
        await mis_issue_deadlines.sweep_mis_issue_deadlines(moment, Calendar())
    signed = await voids.request_void(w.ops, [card(5)], "expired", "过期", T0)
    await voids.sign_void(w.head, signed.id, T0)
    await voids.sign_void(w.ops2, signed.id, T0)
    refused = await voids.request_void(w.ops, [card(6)], "expired", "过期", T0)
    await voids.refuse_void(w.ops2, refused.id, "已找回", T0)
    await incidents.report_loss(w.agent, LossReport("device", w.asset_tag, T0, "地铁", "平板遗失"),
                                T0)
    await tail_boxes.unfreeze_box(w.ops, w.box.id, "平板已找回")


async def counts_and_hand_over(tmp_path: Path) -> None:
    """A day-end count left unanswered, a hand-over, then a count that does not match."""
    w = await voucher_world(tmp_path / "media")
    await person(w.ids["sub_a"], Role.SUPERVISOR, no="S001")
    taker_row, taker = await person(w.ids["outlet_a"], Role.FIELD_AGENT, no="F002")
    await operational(taker_row, tablet=False)
    await voucher_stock.set_cap(w.ops, w.ids["outlet_a"], w.card_type.id, 10)
    await voucher_stock.receive_range(w.ops, w.ids["outlet_a"], w.card_type.id, card(1),
                                      card(3), T0)
    await voucher_stock.allocate(w.ops, w.box.id, w.card_type.id, count=3, now=T0)
    evening = T0 + timedelta(hours=8)
    await day_end_counts.request_day_end_counts(evening)
    for minutes in (31, 61):
        await day_end_counts.sweep_unanswered_counts(evening + timedelta(minutes=minutes),
                                                     timedelta(minutes=30), timedelta(hours=1))
    count = await BoxCount.get(box_id=w.box.id)
    await voucher_counts.answer_count(w.agent, count.id, {"CARD": 3}, evening)
    pending = await voucher_counts.hand_over(w.agent, w.box.id, taker_row.id, {"CARD": 3},
                                             evening + timedelta(hours=2))
    await voucher_counts.answer_count(taker, pending.id, {"CARD": 3},
                                      evening + timedelta(hours=2))
    await day_end_counts.request_day_end_counts(evening + timedelta(days=1))
    second = await BoxCount.filter(box_id=w.box.id).order_by("-id").first()
    assert second is not None
    for _ in range(2):
        await voucher_counts.answer_count(taker, second.id, {"CARD": 2},
                                          evening + timedelta(days=1))


async def callbacks_due_and_answered(tmp_path: Path) -> None:
    """Callbacks drawn at 100 %: reminded when due, escalated when late, a complaint and a
    denial recorded; the denial's major incident flags the agent for retraining."""
    desk = await build_desk(tmp_path)
    await BusinessType.all().update(callback_rate=100)
    _, caller = await person(desk.ids["branch_a"], Role.CALLBACK_AGENT, no="C001")
    calendar = Calendar()
    for seed in (1, 2, 3):
        case = await submitted_case(desk, seed=seed)
        await review.claim(desk.reviewer, case.id, now=MONDAY_10AM)
        await seen(desk.reviewer, case.id)
        await review.approve(desk.reviewer, case.id, desk.ctx, now=MONDAY_10AM)
    await callbacks.sample_callbacks(MONDAY_10AM, calendar)
    late, complained, denied = await Callback.all().order_by("id")
    await callback_deadlines.sweep_callback_deadlines(late.scheduled_at, calendar)
    await callback_deadlines.sweep_callback_deadlines(late.due_at + timedelta(minutes=1),
                                                      calendar)
    for row, record in ((complained, CallRecord("complaint", in_person="yes", risk_hints="no",
                                                satisfaction=2, comment="未提示风险")),
                        (denied, CallRecord("denied", in_person="no", comment="从未办理"))):
        fresh = await Callback.get(id=row.id)
        await callbacks.record_call(caller, row.id, CallRecord(
            **{**record.__dict__, "attempts_seen": fresh.attempts}), calendar,
            now=fresh.scheduled_at)
    await major_incidents.sweep_major_incidents(MONDAY_10AM + timedelta(days=1), threshold=1)


SCENARIOS: dict[str, tuple[Callable[[Path], Awaitable[None]], set[str]]] = {
    "review desk": (review_desk, {
        "case.submitted", "case.first_approved", "case.second_approval", "case.approved",
        "case.returned", "case.rejected", "case.held", "case.held_alert",
        "case.sla_reminder", "case.sla_escalation", "case.claimed",
        "special.requested", "special.approved", "special.refused"}),
    "vault": (vault, {
        "box_count.requested", "inspection.reminder", "inspection.escalated",
        "inspection.count_requested", "inspection.completed", "inspection.discrepancy",
        "inspection.surprise"}),
    "tablets and staff": (tablets_and_staff, {
        "qualification.changed", "device.issued", "device.unconfirmed", "incident.reported",
        "incident.closed", "staff.roles_changed", "staff.idle_flagged", "staff.idle_kept",
        "staff.idle_disabled", "staff.activation_changed", "digest.daily"}),
    "recovery and voids": (recovery_and_voids, {
        "mis_issue.to_recover", "mis_issue.to_holder", "mis_issue.to_chain",
        "mis_issue.reminder", "mis_issue.escalated", "void.asked", "void.voided",
        "void.refused", "tail_box.unfrozen"}),
    "counts and hand-over": (counts_and_hand_over, {
        "box_count.requested", "box_count.reminded", "box_count.escalated",
        "box_count.handover", "box_count.handed_over", "box_count.discrepancy"}),
    "callbacks": (callbacks_due_and_answered, {
        "callback.due", "callback.overdue", "callback.complaint", "callback.denied",
        "staff.retraining_flagged", "staff.retraining_proposed"}),
    "duties": (grants_and_reveals, {
        "staff.grant_asked", "staff.grant_decided", "staff.reveals_alert",
        "staff.grant_expired", "staff.password_issued"}),
}


def telegram_buttons(intent: Intent) -> list[tuple[str, str | None, str | None]]:
    """(label, callback data, url) of every button Telegram shows for the intent."""
    keyboard = markup(absolute_links(actions.buttons(intent), PUBLIC_URL))
    rows = keyboard.inline_keyboard if keyboard else ()
    return [(button.text, button.callback_data, button.url) for row in rows for button in row]


def routed(data: str) -> bool:
    """Whether a flow of the bot handles a press carrying this callback data."""
    return any(data.startswith(prefix) for prefix in router.CALLBACKS)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_every_notice_the_services_queue_renders_in_every_edge(
        scenario: str, database_url: str, tmp_path: Path) -> None:
    drive, kinds = SCENARIOS[scenario]
    await drive(tmp_path)
    queued = [message for message in await OutboxMessage.all() if message.kind != outbox.REPLY]
    assert kinds <= {message.kind for message in queued}
    for message in queued:
        intent = outbox.intent_of(message)
        assert intent is not None and intent.kind in KINDS, message.kind
        shown = telegram_buttons(intent)
        assert len(shown) == len(intent.actions) == len(card_buttons(intent))
        for (label, data, url), action in zip(shown, intent.actions, strict=True):
            assert label
            if action == Action.OPEN:
                assert url == f"{PUBLIC_URL}{links.open_link(intent)}"
            else:
                assert data is not None and routed(data), (message.kind, data)
        assert (links.open_link(intent) is not None) == (Action.OPEN in intent.actions)


def test_the_scenarios_drive_every_kind() -> None:
    assert set().union(*(kinds for _, kinds in SCENARIOS.values())) == set(KINDS)


def test_every_action_of_every_kind_has_a_rendering_in_every_edge() -> None:
    for kind in KINDS.values():
        for action in kind.actions:
            assert (kind.subject, action) in actions.BUTTONS, (kind.name, action)
            assert action in CARD_TEXTS
            if action == Action.OPEN:
                assert kind.subject in links.PAGES, kind.name
            else:
                button = actions.BUTTONS[kind.subject, action]
                assert routed(button.data.format(id=1)), (kind.name, action)
    assert actions.unrendered(KINDS) == [] and links.unlinked(KINDS) == []


def test_an_action_an_edge_cannot_render_stops_the_start(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    odd = Kind("incident.opened", SubjectType.INCIDENT, (Action.CLAIM, Action.OPEN))
    assert actions.unrendered({odd.name: odd}) == [("incident.opened", Action.CLAIM),
                                                   ("incident.opened", Action.OPEN)]
    # every subject has an admin page now (issue 16): take the incidents' away to see a gap
    monkeypatch.delitem(links.PAGES, SubjectType.INCIDENT)
    assert links.unlinked({odd.name: odd}) == ["incident.opened"]
    monkeypatch.setitem(KINDS, odd.name, odd)
    with pytest.raises(RuntimeError, match=r"incident\.opened"):
        importlib.reload(actions)
    monkeypatch.undo()
    for edge in (actions, links):
        importlib.reload(edge)


def test_every_notice_dropped_once_settled_has_a_check_of_its_subject() -> None:
    settling = {kind.subject for kind in KINDS.values() if kind.until_settled}
    assert settling <= set(outbox.SETTLED)


def test_an_intent_offers_only_what_its_kind_allows() -> None:
    with pytest.raises(ValueError, match="unknown notification kind"):
        Intent.of("case.vanished", 1)
    with pytest.raises(ValueError, match="offers no"):
        Intent.of("case.approved", 1, Action.CLAIM)
    with pytest.raises(ValueError, match="is about a case"):
        Intent("case.submitted", Subject(SubjectType.DEVICE, 1))


def test_chat_links_lead_to_the_pages_the_admin_renders() -> None:
    for (subject_type, action), button in actions.BUTTONS.items():
        if action == Action.OPEN:
            intent = next(Intent.of(kind.name, 12, Action.OPEN) for kind in KINDS.values()
                          if kind.subject == subject_type and Action.OPEN in kind.actions)
            assert button.render(intent.subject)[1] == links.open_link(intent)


def test_telegram_keeps_the_callback_data_and_links_of_before() -> None:
    notice = Intent.of("case.submitted", 12, Action.CLAIM, Action.APPROVE, Action.RETURN,
                       Action.OPEN, revision=1)
    assert actions.buttons(notice) == (
        (("Claim", "rv:claim:12"), ("Approve", "rv:approve:12")),
        (("Return", "rv:return:12"), ("Open in web", "/cases/12")))
    assert telegram_buttons(notice)[-1] == ("Open in web", None, f"{PUBLIC_URL}/cases/12")
    assert absolute_links(actions.buttons(notice), "")[-1] == (("Return", "rv:return:12"),)
