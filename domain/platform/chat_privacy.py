"""Customer data does not stay in the chat (C10): the agent's messages that carried an ID
number, a mobile or a photo are deleted once their case is submitted or its draft cancelled.

A chat adapter that can delete its messages (Telegram lets a bot delete messages of a
private chat for 48 hours) deletes those due; one that fails is tried again by the next
sweep until the 48 hours are over, then it is given up and logged. The browser chat keeps
no clear values in its transcript at all: typed ID and mobile numbers are masked when a line
is written, and the case's photos leave the transcript when the case is released.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.models import CasePhoto, ChatCustomerMessage, WebChatMessage
from domain.platform.identity import ID_LENGTH, mask_mobile, mask_resident_id, normalise_text

log = logging.getLogger(__name__)
DELETABLE_FOR = timedelta(hours=48)
KEPT_AFTER = timedelta(days=7)  # notes of deleted or given-up messages, then pruned
BATCH = 100
WEB = "web"
PHOTO_REMOVED = "…"
# What people type between the digits of a number: spaces, dashes, dots, invisible spaces.
_SEP = r"[\s.\-\u2010-\u2015\u2212\u200b-\u200d\u2060\ufeff]"
# A run of digit groups with separators between them, as a number is typed
_RUN = re.compile(rf"(?<![0-9])[0-9]+[Xx]?(?:{_SEP}{{1,3}}[0-9]+[Xx]?)*(?![0-9])")
_GROUP = re.compile(r"[0-9]+[Xx]?")
_ID_SHAPE = re.compile(r"[1-9][0-9]{16}[0-9X]")
_MOBILE_SHAPE = re.compile(r"(0086|86)?(1[3-9][0-9]{9})")
Span = tuple[int, int, str]


def masked_text(text: str) -> str:
    """A typed text with every ID number and mainland mobile number in it masked (C10),
    however it is written: full-width digits, and spaces, dashes or dots between the digits
    ("110 101 1990 0101 123X", "138-0013-8000", "１３８００１３８０００")."""
    # NFKC one character at a time, so that what is not a number keeps its place and form
    view = "".join(folded if len(folded := normalise_text(char)) == 1 else char
                   for char in text)
    spans = [span for run in _RUN.finditer(view) for span in _numbers_in(run)]
    for start, end, masked in reversed(spans):
        text = text[:start] + masked + text[end:]
    return text


def _numbers_in(run: re.Match[str]) -> list[Span]:
    """The ID and mobile numbers among a run's digit groups: consecutive whole groups that
    read as one, an ID number before a mobile starting at the same group."""
    groups = [(run.start() + g.start(), run.start() + g.end(), g[0].upper())
              for g in _GROUP.finditer(run[0])]
    spans: list[Span] = []
    first = 0
    while first < len(groups):
        found = _number_from(groups[first:])
        if found is None:
            first += 1
            continue
        taken, masked = found
        spans.append((groups[first][0], groups[first + taken - 1][1], masked))
        first += taken
    return spans


def _number_from(groups: list[tuple[int, int, str]]) -> tuple[int, str] | None:
    """How many groups from the first make an ID number or a mobile, and its masked form."""
    digits, mobile = "", None
    for taken, (_, _, group) in enumerate(groups, start=1):
        if "X" in digits or len(digits + group) > ID_LENGTH:
            break
        digits += group
        if _ID_SHAPE.fullmatch(digits):
            return taken, mask_resident_id(digits)
        if mobile is None and (number := _MOBILE_SHAPE.fullmatch(digits)):
            prefix = f"{number[1]} " if number[1] else ""
            mobile = taken, prefix + mask_mobile(number[2])
    return mobile


async def note_customer_message(case_id: int, channel: str, chat_id: str, message_id: str,
                                 sent_at: datetime) -> None:
    """Keep an agent's message that carried customer data of a case, to delete it later."""
    try:
        async with in_transaction():
            await ChatCustomerMessage.create(case_id=case_id, channel=channel, chat_id=chat_id,
                                             message_id=message_id, sent_at=sent_at)
    except IntegrityError:  # the same message handled again after a redelivery
        return


async def release_case_messages(case_id: int, staff_id: int, now: datetime) -> int:
    """The case was submitted or its draft cancelled: its customer-data messages become due
    for deletion, and its photos leave the agent's browser chat transcript (C10)."""
    hashes = await CasePhoto.filter(case_id=case_id).values_list("sha256", flat=True)
    if hashes:
        await WebChatMessage.filter(staff_id=staff_id, from_bot=False,
                                    photo_sha256__in=list(hashes)).update(
            photo_sha256=None, text=PHOTO_REMOVED)
    return await ChatCustomerMessage.filter(case_id=case_id, delete_from=None).update(
        delete_from=now)


async def due_deletions(channel: str, now: datetime, chat_id: str | None = None, *,
                        deletable_for: timedelta = DELETABLE_FOR) -> list[ChatCustomerMessage]:
    """Released messages of a channel (or one chat) still to delete; those past the time a
    chat lets a bot delete them (`deletable_for`: Telegram's 48 hours, WeCom's 24) are given
    up first, each logged (C10)."""
    expired = ChatCustomerMessage.filter(channel=channel, deleted_at=None, gave_up_at=None,
                                         delete_from__not_isnull=True,
                                         sent_at__lt=now - deletable_for)
    for row in await expired:
        log.error("%s message %s in chat %s of case %s could not be deleted within %s: "
                  "given up after %d attempts", channel, row.message_id, row.chat_id,
                  row.case_id, deletable_for, row.attempts)  # type: ignore[attr-defined]
    await expired.update(gave_up_at=now)
    due = ChatCustomerMessage.filter(channel=channel, deleted_at=None, gave_up_at=None,
                                     delete_from__lte=now)
    if chat_id is not None:
        due = due.filter(chat_id=chat_id)
    return await due.order_by("id").limit(BATCH)


async def message_deleted(row: ChatCustomerMessage, now: datetime) -> None:
    """The chat deleted the message (or it was gone already)."""
    await ChatCustomerMessage.filter(id=row.id).update(deleted_at=now,
                                                       attempts=row.attempts + 1)


async def deletion_failed(row: ChatCustomerMessage, error: str) -> None:
    """The chat refused or failed the deletion; the next sweep tries again."""
    log.warning("%s message %s in chat %s not deleted (attempt %d): %s", row.channel,
                row.message_id, row.chat_id, row.attempts + 1, error)
    await ChatCustomerMessage.filter(id=row.id).update(attempts=row.attempts + 1)


async def prune_finished(now: datetime) -> int:
    """Drop the notes of messages deleted or given up more than a week ago."""
    before = now - KEPT_AFTER
    return await ChatCustomerMessage.filter(Q(deleted_at__lt=before)
                                            | Q(gave_up_at__lt=before)).delete()
