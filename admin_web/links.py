"""Notification intents on the admin site: the `open` action as a link to its subject's page.

The one table of the admin: which page shows each kind of subject a notice may offer to open.
A kind of the domain offering `open` on a subject without a page stops the site at import,
so a gap shows at start-up and in the tests.
"""

from __future__ import annotations

from domain.models import OutboxMessage
from domain.platform import outbox
from domain.platform.intents import KINDS, Action, Intent, Kind, SubjectType

PAGES: dict[SubjectType, str] = {
    SubjectType.CASE: "/cases/{id}",
    SubjectType.CALLBACK: "/callbacks/{id}",
    SubjectType.SPECIAL_APPROVAL: "/special-approvals",
    SubjectType.STAFF: "/staff/{id}",
}


def open_link(intent: Intent | None) -> str | None:
    """The page the intent's `open` action leads to; None when it offers none."""
    if intent is None or Action.OPEN not in intent.actions:
        return None
    return PAGES[intent.subject.type].format(id=intent.subject.id)


def message_links(messages: list[OutboxMessage]) -> dict[int, str]:
    """The `open` link of each outbox message that offers one, by message id (a kind this
    version no longer sends offers none)."""
    links = {message.id: open_link(outbox.intent_of(message)) for message in messages
             if message.kind in KINDS}
    return {message_id: link for message_id, link in links.items() if link}


def unlinked(kinds: dict[str, Kind]) -> list[str]:
    """Kinds of `kinds` offering `open` on a subject that has no page here."""
    return [kind.name for kind in kinds.values()
            if Action.OPEN in kind.actions and kind.subject not in PAGES]


if _gaps := unlinked(KINDS):
    raise RuntimeError(f"notifications offer to open a subject without a page: {_gaps}")
