"""Notification intents (issue 12): the domain says what happened and which actions are
possible; Telegram, the browser chat, the admin and a second chat platform each render the
same intent in their medium, and an action an edge cannot render is an error, not a gap."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from admin_web import links
from bot import actions
from bot.flows import router
from bot.flows.messages import absolute_links
from bot.telegram.convert import markup
from domain.cases import review, review_sla, special
from domain.models import Inspection, OutboxMessage
from domain.oversight import inspection_deadlines, inspections
from domain.platform import outbox
from domain.platform.calendar import Calendar
from domain.platform.intents import KINDS, Action, Intent, Kind, Subject, SubjectType
from domain.vouchers import voucher_counts
from tests.case_support import MONDAY_8PM, MONDAY_10AM
from tests.inspection_support import NOV_1, NOV_DUE, STOCK, vault_world
from tests.review_support import build_desk, submitted_case

PUBLIC_URL = "https://fieldops.example"
LATER = MONDAY_10AM + timedelta(minutes=5)

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


def card(intent: Intent) -> list[CardButton]:
    """The intent as the buttons of one card, keyed by what the domain said alone."""
    subject = intent.subject
    return [CardButton(CARD_TEXTS[action], f"{subject.type}.{subject.id}.{action}")
            for action in intent.actions]


# --- the kinds the real services enqueue -----------------------------------------------------


async def review_desk(tmp_path: Path) -> None:
    """Submit, approve with four eyes, return, reject, hold, chase; special approvals."""
    desk = await build_desk(tmp_path)
    four = await submitted_case(desk, four_eyes=True, seed=1)
    await review.approve(desk.reviewer, four.id, desk.ctx, LATER)
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
    await voucher_counts.sweep_unanswered_counts(NOV_DUE + timedelta(days=9),
                                                 timedelta(minutes=30), timedelta(hours=1))


SCENARIOS: dict[str, tuple[Callable[[Path], Awaitable[None]], set[str]]] = {
    "review desk": (review_desk, {
        "case.submitted", "case.first_approved", "case.second_approval", "case.approved",
        "case.returned", "case.rejected", "case.held", "case.held_alert",
        "case.sla_reminder", "case.sla_escalation",
        "special.requested", "special.approved", "special.refused"}),
    "vault": (vault, {
        "box_count.requested", "inspection.reminder", "inspection.escalated",
        "inspection.count_requested", "inspection.completed", "inspection.discrepancy",
        "inspection.surprise"}),
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
        assert len(shown) == len(intent.actions) == len(card(intent))
        for (label, data, url), action in zip(shown, intent.actions, strict=True):
            assert label
            if action == Action.OPEN:
                assert url == f"{PUBLIC_URL}{links.open_link(intent)}"
            else:
                assert data is not None and routed(data), (message.kind, data)
        assert (links.open_link(intent) is not None) == (Action.OPEN in intent.actions)


def test_the_scenarios_drive_every_kind_that_offers_an_action() -> None:
    driven = set().union(*(kinds for _, kinds in SCENARIOS.values()))
    assert driven <= set(KINDS)
    assert {name for name, kind in KINDS.items() if kind.actions} - driven == {
        "device.issued", "mis_issue.to_recover", "mis_issue.reminder", "box_count.reminded",
        "box_count.handover", "callback.due", "callback.overdue"}


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
    assert links.unlinked({odd.name: odd}) == ["incident.opened"]
    monkeypatch.setitem(KINDS, odd.name, odd)
    for edge in (actions, links):
        with pytest.raises(RuntimeError, match=r"incident\.opened"):
            importlib.reload(edge)
    monkeypatch.undo()
    for edge in (actions, links):
        importlib.reload(edge)


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
