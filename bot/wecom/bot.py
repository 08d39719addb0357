"""The WeCom adapter's sending side (issue 15): flow replies, outbox notifications, cards.

Skeleton: the interface of WECOM.md, so the callback (W1) and the wiring (W4) can import it.
"""

from __future__ import annotations

import logging

import aiohttp

from bot import actions
from bot.flows import ChatRouter, Reply
from bot.flows.context import FlowContext
from bot.flows.messages import Buttons
from bot.pacer import Pacer
from bot.wecom.api import WeComApi, WeComError, send_failure
from bot.wecom.config import WeComConfig
from bot.wecom.crypt import WeComCrypt
from domain.platform.chat_limits import InboundLimit
from domain.platform.intents import Intent

log = logging.getLogger(__name__)

WECOM_PER_SECOND = 20.0
WECOM_USER_GAP = 2.0


class WeComBot:
    """Runs the FieldOps flows on WeCom and sends outbox messages for the dispatcher."""

    def __init__(self, config: WeComConfig, ctx: FlowContext, *, default_locale: str,
                 inbound_limit: InboundLimit | None = None,
                 per_second: float | None = WECOM_PER_SECOND,
                 user_gap_seconds: float = WECOM_USER_GAP) -> None:
        self.config = config
        self.ctx = ctx
        self.inbound_limit = inbound_limit
        self.router = ChatRouter(ctx, default_locale)
        self.crypt = WeComCrypt(config.token, config.aes_key, config.corp_id)
        self.pacer = Pacer(per_second, user_gap_seconds, user_gap_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._api: WeComApi | None = None

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
        """Open the HTTP session and the API client."""
        self._session = aiohttp.ClientSession()
        self._api = WeComApi(self._session, self.config)

    async def stop(self) -> None:
        """Close the HTTP session."""
        session, self._session, self._api = self._session, None, None
        if session is not None:
            await session.close()

    def render(self, intent: Intent) -> Buttons:
        """Actions as buttons of the flows (sent as a button_interaction card)."""
        return actions.buttons(intent)

    async def send_text(self, chat_id: str, text: str, buttons: Buttons = ()) -> str | None:
        """Send a notification to a member; its msgid."""
        try:
            sent = await self.api.send_text(chat_id, text)
        except WeComError as error:
            raise send_failure(error) from error
        return sent.msgid

    async def edit_text(self, chat_id: str, message_id: str, text: str,
                        buttons: Buttons = ()) -> None:
        """Replace a sent notice (to follow)."""

    async def send_replies(self, user_id: str, replies: list[Reply], update_key: str) -> None:
        """Send flow replies in order (to follow: pacing, retries, the outbox)."""
        for reply in replies:
            await self.send_text(user_id, reply.text, reply.buttons)

    async def card_pressed(self, user_id: str, task_id: str, response_code: str,
                           chosen_label: str | None) -> None:
        """Show the choice on a pressed card (to follow)."""
