"""Cards with buttons sent in chat (issue 15): a press resolves once to the flows' own data.

A platform that shows buttons as a card (WeCom's button_interaction template card) gives each
button a short key ("k0", "k1", …) and answers a press with the card's id (task id), the key
and a response code that updates the card once, within its validity. The card is kept here
with its keys' labels and data, so that a press becomes the flows' callback data exactly
once — a second press of the same card, or a press of someone else's card, resolves to
nothing — and the card's latest unused response code is at hand to update it. A text
message is kept too, without keys, under an id of ours: the platform's msgid (what a recall
takes) can be longer than the message ids the outbox and `chat_privacy` keep.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.models import ChatCard

# WeCom: a response code updates its card once, within 72 hours.
CODE_VALID_FOR = timedelta(hours=72)
Keys = dict[str, tuple[str, str]]


async def record_sent(channel: str, recipient: str, task_id: str, msgid: str, keys: Keys,
                      response_code: str | None, now: datetime) -> None:
    """Keep a card (or text) the platform accepted: its keys' (label, data) and its response
    code."""
    await ChatCard.create(channel=channel, recipient=recipient, task_id=task_id, msgid=msgid,
                          keys={key: list(value) for key, value in keys.items()},
                          response_code=response_code,
                          code_at=now if response_code else None, sent_at=now)


async def card(channel: str, task_id: str) -> ChatCard | None:
    """The card sent with this task id on a channel, or None."""
    return await ChatCard.get_or_none(channel=channel, task_id=task_id)


async def current(channel: str, task_id: str) -> ChatCard | None:
    """The message a notice sent under this task id shows now: the one an edit sent anew in
    its place, else itself; None when unknown."""
    found = await card(channel, task_id)
    if found is None or found.replaced_by is None:
        return found
    return await card(channel, found.replaced_by) or found


async def superseded(channel: str, task_id: str, found: ChatCard, by: str,
                     now: datetime) -> None:
    """An edit of the notice sent as `task_id` sent its current message `found` anew as `by`:
    both resolve to the new one, and the replaced card's buttons take no press."""
    await ChatCard.filter(channel=channel, task_id__in=(task_id, found.task_id)).update(
        replaced_by=by)
    await ChatCard.filter(id=found.id, pressed_at=None).update(pressed_at=now)


async def press(channel: str, user_id: str, task_id: str, key: str, response_code: str,
                now: datetime) -> str | None:
    """The flows' data of a pressed button, once per card: None for an unknown card or key,
    someone else's card, or a card pressed already. The press's response code is kept."""
    found = await ChatCard.get_or_none(channel=channel, task_id=task_id, recipient=user_id)
    if found is None or key not in found.keys:
        return None
    taken = await ChatCard.filter(id=found.id, pressed_at=None).update(
        pressed_at=now, pressed_key=key, response_code=response_code or None,
        code_at=now if response_code else None)
    return str(found.keys[key][1]) if taken else None


def pressed_label(found: ChatCard) -> str | None:
    """The label of the button the card was pressed with, or None."""
    entry = found.keys.get(found.pressed_key or "")
    return str(entry[0]) if entry else None


def unused_code(found: ChatCard, now: datetime) -> str | None:
    """The card's latest response code while it is unused and valid, else None."""
    if found.response_code and found.code_at and found.code_at + CODE_VALID_FOR > now:
        return found.response_code
    return None


async def code_used(found: ChatCard, code: str) -> None:
    """A response code updated the card (or was refused): it cannot serve again."""
    await ChatCard.filter(id=found.id, response_code=code).update(response_code=None)


async def replaced(found: ChatCard, keys: Keys) -> None:
    """The card was updated as a whole with new buttons (its code used): it takes a press
    again."""
    await ChatCard.filter(id=found.id).update(
        keys={key: list(value) for key, value in keys.items()}, pressed_at=None,
        pressed_key=None, response_code=None)
