"""Drive the real Telegram bot as one chat user would: send, press, upload, read the answer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.flows.router import CANCEL_PREFIX
from bot.telegram import BotConfig, TelegramBot
from tests.bot_support import config
from tests.factories import flow_context
from tests.fake_telegram import ApiCall, FakeTelegram, Params


@dataclass(frozen=True)
class Said:
    """One message of the bot: its text and its buttons (label → callback data or URL)."""

    text: str
    buttons: dict[str, str]

    @classmethod
    def of(cls, call: ApiCall) -> Said:
        rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
        return cls(call.params["text"], {button["text"]: button.get("callback_data")
                                         or button.get("url", "") for row in rows
                                         for button in row})


@dataclass
class Chat:
    """A chat account talking to the bot through the fake Bot API."""

    fake: FakeTelegram
    user: int

    async def send(self, update: Params) -> Said:
        """Deliver an update and return the bot's (first) answer."""
        return (await self.send_all(update, 1))[0]

    async def send_all(self, update: Params, count: int) -> list[Said]:
        """Deliver an update and return the `count` messages the bot answers with."""
        before = len(self.fake.sent(self.user))
        self.fake.push(update)
        await self.fake.wait_until(lambda: len(self.fake.sent(self.user)) >= before + count)
        return [Said.of(call) for call in self.fake.sent(self.user)[before:]]

    async def aside(self, text: str) -> tuple[Said, Said]:
        """A side command inside a flow: its answer and the open step asked again."""
        answered, again = await self.send_all(self.fake.message(self.user, text), 2)
        return answered, again

    async def cancel(self) -> Said:
        """/cancel, confirmed with Yes when the bot asks first."""
        said = await self.say("/cancel")
        yes = next((data for data in said.buttons.values()
                    if data.startswith(CANCEL_PREFIX + "yes:")), None)
        return said if yes is None else await self.press(yes)

    async def say(self, text: str) -> Said:
        return await self.send(self.fake.message(self.user, text))

    async def press(self, data: str) -> Said:
        return await self.send(self.fake.button(self.user, data))

    async def photo(self, content: bytes, **extra: Any) -> Said:
        return await self.send(self.fake.photo(self.user, content, **extra))

    async def file(self, content: bytes, name: str, mime_type: str, **extra: Any) -> Said:
        return await self.send(self.fake.document(self.user, content, name, mime_type, **extra))

    async def location(self, latitude: float, longitude: float) -> Said:
        return await self.send(self.fake.location(self.user, latitude, longitude))

    def last(self) -> Said:
        """The last message the bot sent to this chat."""
        return Said.of(self.fake.sent(self.user)[-1])


def bot_config(fake: FakeTelegram) -> BotConfig:
    """Bot settings pointing at the fake server."""
    return config(fake)


@contextlib.asynccontextmanager
async def running_bot(fake: FakeTelegram, media_root: Path, **capture: Any
                      ) -> AsyncIterator[TelegramBot]:
    """A started FieldOps bot polling the fake server, with capture settings overridden."""
    telegram = TelegramBot(bot_config(fake), flow_context(media_root, **capture))
    await telegram.start()
    try:
        yield telegram
    finally:
        await telegram.stop()
