"""The browser chat adapter: the admin's /chat page runs the same flows as Telegram (DESIGN §3)."""

from __future__ import annotations

from functools import partial

from tortoise.transactions import in_transaction

from bot import actions
from bot.dispatcher import SendFailed
from bot.flows import ChatRouter, account
from bot.flows.context import FlowContext
from bot.flows.messages import Attachment, Buttons, Inbound
from bot.pacer import Pacer
from domain.platform import chat, chat_limits, webchat
from domain.platform.chat_limits import Admission, InboundLimit
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError
from domain.platform.images import MIB
from domain.platform.intents import Intent
from locales import DEFAULT_LOCALE, normalise, translate

CHANNEL = webchat.CHANNEL
# Forms are claimed under their own channel so that a double submit records its line once;
# the router then claims the same id under "web" for the flows.
FORM_CHANNEL = "web-form"
Upload = tuple[str, str, bytes]
Location = tuple[float, float]  # latitude, longitude


class WebChat:
    """Runs the flows for a logged-in web user and records both sides of his chat.

    It is also the outbox sender of the "web" channel, so results pushed to a staff member
    without Telegram land in his browser chat.
    """

    def __init__(self, ctx: FlowContext, default_locale: str = DEFAULT_LOCALE,
                 inbound_limit: InboundLimit | None = None) -> None:
        self.router = ChatRouter(ctx, default_locale)
        self.inbound_limit = inbound_limit
        self.media = ctx.capture.media
        self.max_upload_bytes = ctx.capture.photo_limits.max_bytes
        self.pacer = Pacer(per_second=None, chat_gap=0.0, group_gap=0.0)  # no platform limits

    async def post(self, staff_id: int, *, client_id: str, text: str = "", button: str = "",
                   upload: Upload | None = None, location: Location | None = None,
                   locale: str | None = None) -> None:
        """Handle one submitted chat form once: a text, a button press, a photo with its
        caption or the browser's location (as Telegram's shared location)."""
        if upload is not None and len(upload[2]) > self.max_upload_bytes:
            raise DomainError(N_("The photo is too large: at most %(limit)d MB is allowed."),
                              limit=self.max_upload_bytes // MIB)
        if not (text.strip() or button or upload or location):
            return
        async with in_transaction():  # a form that fails midway can be sent again
            if not await chat.claim_update(FORM_CHANNEL, client_id):
                return
            if not await self._admitted(staff_id, locale):
                return
            await self.open(staff_id, locale)
            address = str(staff_id)
            if upload is not None:
                inbound = await self._upload(staff_id, client_id, upload, text, locale)
            elif button:
                inbound = Inbound.button(CHANNEL, client_id, address, address, button,
                                         client_id, locale)
            elif location:
                await webchat.record(staff_id, False, "📍 {:.5f}, {:.5f}".format(*location))
                inbound = Inbound.shared_location(CHANNEL, client_id, address, address,
                                                  *location, language_code=locale)
            else:
                await webchat.record(staff_id, False, text)
                inbound = Inbound.message(CHANNEL, client_id, address, address, text, locale)
            for reply in await self.router.handle(inbound):
                await webchat.record(staff_id, True, reply.text, reply.buttons)

    async def open(self, staff_id: int, locale: str | None = None) -> None:
        """The staff member opens his browser chat: the first time it is bound, and he is asked
        what a chat bound in Telegram is asked, the confidentiality pledge while he has not
        confirmed it (one path for both channels: `account.pledge_at_binding`) (Q6, C10)."""
        async with in_transaction():
            staff = await webchat.open_web_chat(staff_id)
            if staff is None:
                return
            reader = chat.preferred_locale(None, staff.locale, locale, self.router.default_locale)
            for reply in await account.pledge_at_binding(partial(translate, reader), staff.id):
                await webchat.record(staff_id, True, reply.text, reply.buttons)

    async def _admitted(self, staff_id: int, locale: str | None) -> bool:
        """Whether the staff member is within the inbound limit; past it his form is taken
        as handled unread, and only the first one is answered "slow down"."""
        if self.inbound_limit is None:
            return True
        admission = await chat_limits.admit(CHANNEL, str(staff_id), self.inbound_limit,
                                            utcnow())
        if admission is Admission.WARN:
            await webchat.record(staff_id, True, translate(
                normalise(locale, self.router.default_locale), chat_limits.SLOW_DOWN))
        return admission is Admission.HANDLE

    @property
    def ready(self) -> bool:
        """The browser chat is the database: always ready."""
        return True

    def render(self, intent: Intent) -> Buttons:
        """Actions as buttons of the flows; `open` as a link to the admin page it names."""
        return actions.buttons(intent)

    async def send_text(self, chat_id: str, text: str, buttons: Buttons = ()) -> str | None:
        """Deliver an outbox message into the browser chat of the staff member `chat_id`;
        returns the transcript line's id."""
        if not chat_id.isdigit():
            raise SendFailed(f"not a browser chat address: {chat_id!r}", permanent=True)
        return str((await webchat.record(int(chat_id), True, text, buttons)).id)

    async def edit_text(self, chat_id: str, message_id: str, text: str,
                        buttons: Buttons = ()) -> None:
        """Replace a notice in the staff member's transcript (seen on the next page load)."""
        if not (chat_id.isdigit() and message_id.isdigit()) or not await webchat.replace(
                int(chat_id), int(message_id), text, buttons):
            raise SendFailed(f"no line {message_id!r} in browser chat {chat_id!r}",
                             permanent=True)

    async def _upload(self, staff_id: int, client_id: str, upload: Upload, caption: str,
                      locale: str | None) -> Inbound:
        name, content_type, data = upload
        sha256 = await self.media.aput(data)
        await webchat.record(staff_id, False, caption, photo_sha256=sha256)

        async def fetch() -> bytes:
            return data

        attachment = Attachment(name, content_type, len(data), fetch,
                                as_photo=content_type.startswith("image/"))
        address = str(staff_id)
        return Inbound.upload(CHANNEL, client_id, address, address, attachment, caption, locale)
