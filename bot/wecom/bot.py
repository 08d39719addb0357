"""The WeCom adapter's sending side (issue 15): flow replies, outbox notifications, cards,
the app menu and the recall of the app's messages that echoed customer data.

WeCom has no buttons under a text: a reply or notice with buttons goes as a button_interaction
template card (bot/wecom/cards.py), recorded in `domain.platform.chat_cards` so that a press
resolves to the flows' data once. Sends take their turn from a pacer with WeCom's limits (30
messages a minute to a member: a gap of 2 s; 20 calls a second overall). A frequency-limit
answer pauses the bot like Telegram's 429 — for the dispatcher a pause, not an attempt.

Customer data (C10): WeCom does not let an app delete a member's own messages, so the agent's
typed ID numbers and photos stay in his WeCom (the bank's own system). What the app can do is
recall its own messages within 24 hours: the replies it sent while a capture draft was open
(its summaries echo the customer's masked data and name) are noted with `chat_privacy` under
channel "wecom" and recalled when the case's messages are released (submitted, cancelled or
withdrawn), through the same due_deletions / message_deleted / deletion_failed path, and by a
sweep every minute for what failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from types import EllipsisType

import aiohttp

from bot import actions
from bot.dispatcher import SendFailed
from bot.flows import ChatRouter, Reply
from bot.flows.capture_steps import CAPTURE_STEPS
from bot.flows.context import FlowContext
from bot.flows.messages import Buttons
from bot.pacer import Pacer, pause_bot
from bot.replies import handed_over
from bot.wecom import cards
from bot.wecom.api import (
    CHANNEL,
    PermanentError,
    RateLimited,
    WeComApi,
    WeComError,
    send_failure,
)
from bot.wecom.api import process_holder as api_holder
from bot.wecom.config import WeComConfig
from domain.models import ChatCard, ChatSession
from domain.people import binding
from domain.platform import chat_cards, chat_privacy, leases, outbox
from domain.platform.chat_limits import InboundLimit
from domain.platform.clock import utcnow
from domain.platform.errors import N_
from domain.platform.intents import Intent
from locales import normalise, translate

log = logging.getLogger(__name__)

# The app menu (menu/create): click buttons whose key is the command, which the callback
# turns into that command (WeCom allows three buttons, five under each).
MENU_MAIN = ((N_("New case"), "/new"), (N_("Resume"), "/resume"))
MENU_MORE = N_("More")
MENU_SUB = ((N_("My box"), "/box"), (N_("Report a loss"), "/loss"), (N_("Help"), "/help"))
CHOSEN = N_("Chosen: %(label)s")
# The one button of a card edited to carry none (a button_interaction card needs one).
NO_ACTION = N_("No action needed")
# A frequency-limit pause longer than this leaves the reply to the outbox.
MAX_WAIT_IN_PLACE_SECONDS = 5.0
RECALL_SWEEP = timedelta(minutes=1)
RECALL_LEASE = "wecom_customer_messages"
# WeCom recalls an app's message within 24 hours of its sending.
RECALLABLE_FOR = timedelta(hours=24)


@dataclass
class Sending:
    """A message of the flows on its way to a member: its WeCom pieces, how many of them went
    out and the ids they were recorded under, so that a retry goes on after them."""

    text: str
    buttons: Buttons
    layout: cards.Layout
    sent: int = 0
    ids: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Whether every piece went out."""
        return self.sent == len(self.layout.pieces)

    @property
    def handle(self) -> str:
        """The id an edit takes: the first card's, else the first text's."""
        return self.layout.cards[0].task_id if self.layout.cards else self.ids[0]


class WeComBot:
    """Runs the FieldOps flows on WeCom and sends outbox messages for the dispatcher.

    `per_second` and `user_gap_seconds` default (`...`) to the config's; None per second
    means no overall limit (tests). A passing failure of a reply is tried `reply_attempts`
    times, `reply_backoff_seconds` apart and doubling, then queued in the outbox.
    """

    def __init__(self, config: WeComConfig, ctx: FlowContext, *, default_locale: str,
                 inbound_limit: InboundLimit | None = None,
                 per_second: float | EllipsisType | None = ...,
                 user_gap_seconds: float | EllipsisType = ...,
                 reply_attempts: int = 3, reply_backoff_seconds: float = 1.0) -> None:
        self.config = config
        self.public_url = ctx.public_url
        self.default_locale = default_locale
        self.inbound_limit = inbound_limit
        self.router = ChatRouter(ctx, default_locale)
        self.crypt = config.crypt()
        gap = config.user_gap_seconds if user_gap_seconds is ... else user_gap_seconds
        self.pacer = Pacer(config.per_second if per_second is ... else per_second, gap, gap)
        self.reply_attempts = reply_attempts
        self.reply_backoff_seconds = reply_backoff_seconds
        self._session: aiohttp.ClientSession | None = None
        self._api: WeComApi | None = None
        self._recalls: asyncio.Task[None] | None = None
        # Per member, a notice the dispatcher's send left partly sent: its retry goes on.
        self._partial: dict[str, Sending] = {}

    @property
    def api(self) -> WeComApi:
        """The WeCom API client (open between `start` and `stop`)."""
        if self._api is None:
            raise RuntimeError("WeComBot.start() has not been called")
        return self._api

    @property
    def ready(self) -> bool:
        """Whether the bot is up (started and not stopped), so that it can send."""
        return self._api is not None

    async def start(self) -> None:
        """Open the HTTP session and the API client, set the app menu (a failure is logged,
        the bot serves without it) and start the sweep of recalls."""
        self._session = aiohttp.ClientSession()
        self._api = WeComApi(self._session, self.config)
        try:
            await self._api.menu_create(self.menu())
        except WeComError as error:
            log.error("wecom app menu not set: %s", error)
        self._recalls = asyncio.create_task(self._sweep_recalls())
        log.info("wecom app %s started", self.config.agent_id)

    async def stop(self) -> None:
        """Stop the sweep and close the HTTP session."""
        if self._recalls is not None:
            self._recalls.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recalls
            self._recalls = None
        session, self._session, self._api = self._session, None, None
        if session is not None:
            await session.close()

    def menu(self) -> list[cards.Json]:
        """The app menu in the default language: New case, Resume, and More (My box, Report
        a loss, Help); each a click button whose key is its command."""
        def click(label: str, command: str) -> cards.Json:
            return {"type": "click", "name": self._(label), "key": command}
        return [*(click(label, command) for label, command in MENU_MAIN),
                {"name": self._(MENU_MORE),
                 "sub_button": [click(label, command) for label, command in MENU_SUB]}]

    def _(self, msgid: str, locale: str | None = None, **params: object) -> str:
        return translate(normalise(locale, self.default_locale), msgid, **params)

    def render(self, intent: Intent) -> Buttons:
        """Actions as buttons of the flows (sent as a button_interaction card)."""
        return actions.buttons(intent)

    async def send_text(self, chat_id: str, text: str, buttons: Buttons = ()) -> str | None:
        """Send a notification to a member: a text, or a card for its buttons (issue 15).
        Returns the card's task id (what an edit updates), or the id the text was recorded
        under; WeCom's errors become `SendFailed` (a frequency limit is a pause)."""
        sending = self._partial.pop(chat_id, None)
        if sending is None or (sending.text, sending.buttons) != (text, buttons):
            sending = self.sending(text, buttons)
        try:
            await self._send(chat_id, sending)
        except WeComError as error:
            if sending.sent:  # the dispatcher's retry of it sends only the rest
                self._partial[chat_id] = sending
            raise send_failure(error) from error
        return sending.handle

    def sending(self, text: str, buttons: Buttons) -> Sending:
        """A text with buttons laid out as WeCom messages, none sent yet."""
        return Sending(text, buttons, cards.layout(text, buttons, self.public_url))

    async def edit_text(self, chat_id: str, message_id: str, text: str,
                        buttons: Buttons = ()) -> None:
        """Replace a sent notice (issue 14) in WeCom's way.

        A card is updated as a whole (`update_template_card`) with its latest unused
        response code (each works once, within 72 hours); a card edited to no buttons keeps
        one inert "No action needed" button, as a button_interaction card needs one. WeCom
        cannot edit a text message: the new text is sent, then the old one recalled (within
        24 hours, else it stays; a failed recall is logged). A card without a usable code,
        or a new text too long for one card, is sent anew, the old card kept but its buttons
        retired. What is sent anew becomes the notice's message: the next edit takes it.
        """
        try:
            found = await chat_cards.current(CHANNEL, message_id)
            if found is None or found.recipient != chat_id:
                await self._send(chat_id, self.sending(text, buttons))
                return
            if not found.keys:
                await self._send_anew(chat_id, message_id, found, text, buttons)
                await self._recall_quietly(found.msgid)
                return
            code = chat_cards.unused_code(found, utcnow())
            edited = self._edited_card(found.task_id, text, buttons)
            if code is not None and edited is not None:
                try:
                    await self.api.update_card([chat_id], code, card=edited.body)
                except PermanentError as error:  # the code was refused: sent anew below
                    log.warning("wecom card %s not updated: %s", message_id, error)
                    await chat_cards.code_used(found, code)
                else:
                    await chat_cards.replaced(found, edited.keys)
                    return
            await self._send_anew(chat_id, message_id, found, text, buttons)
        except WeComError as error:
            raise send_failure(error) from error

    async def _send_anew(self, chat_id: str, message_id: str, found: ChatCard, text: str,
                         buttons: Buttons) -> None:
        """Send an edit as a new message, which replaces `found` as the notice's message."""
        sending = self.sending(text, buttons)
        await self._send(chat_id, sending)
        await chat_cards.superseded(CHANNEL, message_id, found, sending.handle, utcnow())

    def _edited_card(self, task_id: str, text: str, buttons: Buttons) -> cards.Card | None:
        """The whole new card of an edit, None when the text and buttons need more than one."""
        layout = cards.layout(text, buttons or (((self._(NO_ACTION), ""),),),
                              self.public_url)
        if layout.texts or len(layout.cards) != 1:
            return None
        only = layout.cards[0]
        body = only.body | {"task_id": task_id}
        return cards.Card(task_id, body, only.keys)

    async def send_replies(self, user_id: str, replies: list[Reply], update_key: str, *,
                           released: bool = False) -> None:
        """Send flow replies in order, paced; what a passing failure keeps from the member
        (and what follows it) goes through the outbox, so he is told what his action did
        (DESIGN §3). Replies sent while a capture draft is open are noted for recall (C10);
        `released` (the update released a case's messages) recalls them at once."""
        if not await handed_over(self.pacer, CHANNEL, user_id, update_key, replies):
            await self._send_replies(user_id, replies, update_key)
        if released:
            await self.recall_customer_messages(user_id)

    async def _send_replies(self, user_id: str, replies: list[Reply], update_key: str) -> None:
        """Send the replies here; whatever stops them — a passing failure, a database error,
        the bot stopping — leaves what the member was not shown yet to the outbox."""
        sendings = [self.sending(reply.text, reply.buttons) for reply in replies]
        try:
            draft = await self._open_draft(user_id)
            for sending in sendings:
                try:
                    await self._reply(user_id, sending)
                except (RateLimited, SendFailed) as error:
                    await self._queue_unsent(user_id, update_key, sendings, error)
                    return
                except WeComError as error:  # refused as it is: sending it again cannot help
                    log.error("reply to wecom member %s refused: %s", user_id, error)
                    sending.sent = len(sending.layout.pieces)
                    continue
                if draft is not None:
                    for handle in sending.ids:
                        await chat_privacy.note_customer_message(draft, CHANNEL, user_id,
                                                                 handle, utcnow())
        except BaseException as error:
            await self._queue_unsent(user_id, update_key, sendings, error)
            raise

    async def _queue_unsent(self, user_id: str, update_key: str, sendings: list[Sending],
                            error: BaseException) -> None:
        """Queue in the outbox what the member was not shown of the replies (DESIGN §3)."""
        first = next((n for n, sending in enumerate(sendings) if not sending.done), None)
        if first is None:
            return
        rest = [sending.layout.rest(sending.sent) for sending in sendings[first:]]
        for sending in sendings[first:]:
            sending.sent = len(sending.layout.pieces)  # given to the outbox
        queued = await outbox.enqueue_replies(
            CHANNEL, user_id, f"{update_key}:{first}",
            [(text, [list(row) for row in buttons]) for text, buttons in rest])
        log.warning("replies to wecom member %s failed (%r): %d of %d queued in the outbox",
                    user_id, error, queued, len(rest))

    async def _reply(self, user_id: str, sending: Sending) -> None:
        """One reply, tried again in place after a passing error or a short frequency limit
        (which pauses the whole bot), going on after the pieces that went out."""
        for attempt in range(1, self.reply_attempts + 1):
            try:
                async with self.pacer.turn(user_id):
                    await self._send(user_id, sending)
                return
            except RateLimited as error:
                await pause_bot(self.pacer, CHANNEL, error.retry_after)
                if attempt == self.reply_attempts \
                        or error.retry_after > MAX_WAIT_IN_PLACE_SECONDS:
                    raise
            except PermanentError:
                raise
            except WeComError as error:
                if attempt == self.reply_attempts:
                    raise SendFailed(str(error)) from error
                await asyncio.sleep(self.reply_backoff_seconds * 2 ** (attempt - 1))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _send(self, user_id: str, sending: Sending) -> None:
        """Send the pieces of a message not sent yet, texts then cards, each recorded in
        `chat_cards` (a text without keys, under an id of ours: WeCom's msgids are too long
        to be the outbox's or `chat_privacy`'s message id)."""
        for piece in sending.layout.pieces[sending.sent:]:
            if isinstance(piece, str):
                handle, keys, sent = cards.new_task_id(), {}, await self.api.send_text(
                    user_id, piece)
            else:
                handle, keys, sent = piece.task_id, piece.keys, await self.api.send_card(
                    user_id, piece.body)
            sending.sent += 1
            sending.ids.append(handle)
            await chat_cards.record_sent(CHANNEL, user_id, handle, sent.msgid, keys,
                                         sent.response_code if keys else None, utcnow())

    async def card_pressed(self, user_id: str, task_id: str, response_code: str,
                           chosen_label: str | None) -> None:
        """Show the choice on a pressed card ("Chosen: …" in the member's language) with
        `update_template_card`, so that it cannot be pressed again; a failure is logged
        (the card then still resolves a second press to nothing)."""
        found = await chat_cards.card(CHANNEL, task_id)
        label = chosen_label or (chat_cards.pressed_label(found) if found else None)
        if found is None or label is None or not response_code:
            return
        staff = await binding.bound_staff(CHANNEL, user_id)
        name = self._(CHOSEN, staff.locale if staff else None,
                      label=cards.short(label, cards.BUTTON_TEXT_MAX))
        try:
            await self.api.update_card([user_id], response_code, replace_name=name)
        except WeComError as error:
            log.warning("wecom card %s not marked as chosen: %s", task_id, error)
        await chat_cards.code_used(found, response_code)

    async def _open_draft(self, user_id: str) -> int | None:
        """The case of the capture draft the member's session stands on, or None."""
        session = await ChatSession.get_or_none(channel=CHANNEL, external_user_id=user_id)
        if session is None or session.step not in CAPTURE_STEPS:
            return None
        case = (session.data or {}).get("case")
        return int(case) if case else None

    async def recall_customer_messages(self, user_id: str | None = None) -> int:
        """Recall the app's released messages with customer data, of one member or all
        (C10, issue 15); a failure is tried again by the next sweep."""
        recalled = 0
        for row in await chat_privacy.due_deletions(CHANNEL, utcnow(), user_id,
                                                    deletable_for=RECALLABLE_FOR):
            sent = await chat_cards.card(CHANNEL, row.message_id)
            try:
                await self.api.recall(sent.msgid if sent else row.message_id)
            except RateLimited as error:  # the bot pauses; the next sweep goes on
                await pause_bot(self.pacer, CHANNEL, error.retry_after)
                await chat_privacy.deletion_failed(row, str(error))
                break
            except WeComError as error:
                await chat_privacy.deletion_failed(row, str(error))
                continue
            await chat_privacy.message_deleted(row, utcnow())
            recalled += 1
        return recalled

    async def _recall_quietly(self, msgid: str) -> None:
        try:
            await self.api.recall(msgid)
        except WeComError as error:  # past 24 hours, or recalled already: it stays
            log.info("wecom message %s not recalled after its edit: %s", msgid, error)

    async def _sweep_recalls(self) -> None:
        """Try the recalls again every minute, under a lease so that one worker does it."""
        holder = api_holder()
        while True:
            await asyncio.sleep(RECALL_SWEEP.total_seconds())
            try:
                if await leases.acquire(RECALL_LEASE, holder, RECALL_SWEEP * 2):
                    await self.recall_customer_messages()
            except Exception:  # the next round tries again; the bot keeps serving
                log.exception("sweep of wecom messages to recall failed")
