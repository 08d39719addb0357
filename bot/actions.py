"""Notification intents in chat: each action as a button of the flows, `open` as a link.

The one table of the chat channels (Telegram, the browser chat): an action on a subject
becomes a button whose callback data the flows handle ("rv:claim:12"), and `open` a link to
the subject's admin page ("/cases/12"), which each channel shows its way (Telegram with the
public address, the browser chat as it is). A kind of the domain offering an action this
table cannot render stops the bot at import, so a gap shows at start-up and in the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.flows.messages import Buttons
from domain.platform.errors import N_
from domain.platform.intents import KINDS, Action, Intent, Kind, Subject, SubjectType

PER_ROW = 2
OPEN_IN_WEB = N_("Open in web")
RETAKE = N_("Retake the flagged items")
TOOK_IT_BACK = N_("I took it back")
COUNT_NOW = N_("Count now")
COUNT_AND_CONFIRM = N_("Count and confirm")
START_NOW = N_("Start the inspection")


@dataclass(frozen=True)
class ChatButton:
    """A button's label msgid and its data, `{id}` standing for the subject's id."""

    label: str
    data: str

    def render(self, subject: Subject) -> tuple[str, str]:
        """(label msgid, data) for one subject."""
        return self.label, self.data.format(id=subject.id)


_A, _S = Action, SubjectType
BUTTONS: dict[tuple[SubjectType, Action], ChatButton] = {
    (_S.CASE, _A.CLAIM): ChatButton(N_("Claim"), "rv:claim:{id}"),
    (_S.CASE, _A.APPROVE): ChatButton(N_("Approve"), "rv:approve:{id}"),
    (_S.CASE, _A.RETURN): ChatButton(N_("Return"), "rv:return:{id}"),
    (_S.CASE, _A.RETAKE): ChatButton(RETAKE, "cap:retake:{id}"),
    (_S.CASE, _A.OPEN): ChatButton(OPEN_IN_WEB, "/cases/{id}"),
    (_S.SPECIAL_APPROVAL, _A.APPROVE): ChatButton(N_("Approve"), "sp:approve:{id}"),
    (_S.SPECIAL_APPROVAL, _A.REFUSE): ChatButton(N_("Refuse"), "sp:refuse:{id}"),
    (_S.SPECIAL_APPROVAL, _A.OPEN): ChatButton(OPEN_IN_WEB, "/special-approvals"),
    (_S.DEVICE, _A.CONFIRM_RECEIPT): ChatButton(N_("Confirm receipt"), "dev:confirm:{id}"),
    (_S.MIS_ISSUE, _A.TAKE_BACK): ChatButton(TOOK_IT_BACK, "vc:back:{id}"),
    (_S.BOX_COUNT, _A.COUNT): ChatButton(COUNT_NOW, "vc:count:{id}"),
    (_S.BOX_COUNT, _A.TAKE_OVER): ChatButton(COUNT_AND_CONFIRM, "vc:handover:{id}"),
    (_S.INSPECTION, _A.COUNT): ChatButton(COUNT_NOW, "insp:count:{id}"),
    (_S.INSPECTION, _A.START): ChatButton(START_NOW, "insp:start:{id}"),
    (_S.CALLBACK, _A.OPEN): ChatButton(OPEN_IN_WEB, "/callbacks/{id}"),
    (_S.STAFF, _A.OPEN): ChatButton(OPEN_IN_WEB, "/staff/{id}"),
}


def button(subject_type: SubjectType, action: Action, subject_id: int) -> tuple[str, str]:
    """(label msgid, data) of one action on one record, for the flows' own replies too."""
    return BUTTONS[subject_type, action].render(Subject(subject_type, subject_id))


def translated(translate: Callable[[str], str], subject_type: SubjectType, action: Action,
               subject_id: int) -> tuple[str, str]:
    """(label in the reader's language, data) of one action on one record."""
    label, data = button(subject_type, action, subject_id)
    return translate(label), data


def buttons(intent: Intent) -> Buttons:
    """The intent's actions as rows of (label msgid, data), `PER_ROW` to a row."""
    pairs = [BUTTONS[intent.subject.type, action].render(intent.subject)
             for action in intent.actions]
    return tuple(tuple(pairs[i:i + PER_ROW]) for i in range(0, len(pairs), PER_ROW))


def unrendered(kinds: dict[str, Kind]) -> list[tuple[str, Action]]:
    """(kind, action) pairs of `kinds` this table has no button for."""
    return [(kind.name, action) for kind in kinds.values() for action in kind.actions
            if (kind.subject, action) not in BUTTONS]


if _gaps := unrendered(KINDS):
    raise RuntimeError(f"notification actions without a chat button: {_gaps}")
