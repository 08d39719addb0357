"""Long polling that confirms an update to Telegram only once it has been handled.

python-telegram-bot's `Updater` asks for the next batch (which confirms the previous one to
Telegram) while the application is still working on it, and confirms everything it fetched
when it stops: an update in flight at a crash or a stop is lost. This poller hands each
update to the application and waits until it is processed before the next getUpdates call
confirms it. The flows commit an update's processed mark together with its effects (see
`bot.flows.router`), so after a crash Telegram delivers the unconfirmed updates again, the
ones already handled are recognised and dropped, and the one in flight is handled once.
Updates are handled one after the other, so the updates of a chat keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

log = logging.getLogger(__name__)

RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)


class ConfirmingPoller:
    """Fetches updates with getUpdates and confirms each one only after it was handled."""

    def __init__(self, application: Application, timeout_seconds: float) -> None:  # type: ignore[type-arg]
        self.application = application
        self.timeout_seconds = timeout_seconds
        self.offset = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Drop any webhook (Telegram refuses getUpdates beside one) and start polling."""
        await self.application.bot.delete_webhook()
        self._task = asyncio.create_task(self._poll(), name="telegram-polling")

    async def stop(self) -> None:
        """Stop polling; an update being handled is abandoned unconfirmed (its transaction
        rolls back), so Telegram delivers it again at the next start."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self.offset:
            with contextlib.suppress(TelegramError):
                await self.application.bot.get_updates(offset=self.offset, timeout=0, limit=1)

    async def _poll(self) -> None:
        failures = 0
        while True:
            try:
                updates = await self.application.bot.get_updates(
                    offset=self.offset, timeout=int(self.timeout_seconds),
                    allowed_updates=Update.ALL_TYPES)
            except Exception as error:  # polling must outlive any bad answer
                wait = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning("telegram getUpdates failed (%r); trying again in %.0f s", error,
                            wait, exc_info=not isinstance(error, TelegramError))
                await asyncio.sleep(wait)
                continue
            failures = 0
            for update in updates:
                await self.application.process_update(update)
                self.offset = update.update_id + 1
