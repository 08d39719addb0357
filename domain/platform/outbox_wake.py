"""Wake the outbox dispatchers when a message is queued, so an idle one sends it at once
instead of at its next poll (issue 14: idle latency within 1 s, without polling faster).

A message is queued inside the caller's transaction, and a dispatcher woken before the commit
finds nothing. So:

- on PostgreSQL, `queued()` sends NOTIFY on the caller's connection: the server delivers it
  at the commit (and drops it on a rollback) to every dispatcher process that LISTENs through
  `listening()` on a connection of its own, reconnected after a loss;
- in the process itself (SQLite, or PostgreSQL while its listener is down), the subscribed
  dispatchers are woken at once and again at the RECHECKS moments, which catch the commit of
  every transaction shorter than the last of them (the poll catches the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from tortoise import connections

log = logging.getLogger(__name__)

CHANNEL = "fieldops_outbox"
LISTENER_NAME = "fieldops-outbox-listener"  # its connections' application_name
RECHECKS = (0.05, 0.2, 0.5)  # seconds after a queueing; the caller's commit falls before
RECONNECT_FIRST, RECONNECT_MAX = 0.5, 30.0  # seconds between tries to LISTEN again

Wake = Callable[[], None]
_subscribers: list[Wake] = []
_rechecks: list[asyncio.TimerHandle] = []
_listening: set[asyncio.Task[None]] = set()  # listeners of this process now connected


async def queued() -> None:
    """Tell the dispatchers that a message became due (call where it is written, inside
    the caller's transaction)."""
    client = connections.get("default")
    if client.capabilities.dialect == "postgres":
        await client.execute_script(f"NOTIFY {CHANNEL}")  # delivered at the commit
        if _listening:
            return
    wake_here()


def wake_here() -> None:
    """Wake this process's dispatchers now and at the re-check moments after (each call
    moves those moments, so a burst of queueings keeps one set of them)."""
    if not _subscribers:
        return
    for wake in list(_subscribers):
        wake()
    loop = asyncio.get_running_loop()
    for handle in _rechecks:
        handle.cancel()
    _rechecks[:] = [loop.call_later(delay, _wake_subscribers) for delay in RECHECKS]


def _wake_subscribers() -> None:
    for wake in list(_subscribers):
        wake()


@asynccontextmanager
async def listening(wake: Wake) -> AsyncIterator[None]:
    """Call `wake` whenever a message is queued while the block runs: in this process, and
    on PostgreSQL in any process (LISTEN on a connection the block owns)."""
    _subscribers.append(wake)
    client = connections.get("default")
    listener = (asyncio.create_task(_listen(client, wake), name="outbox-listener")
                if client.capabilities.dialect == "postgres" else None)
    try:
        yield
    finally:
        _subscribers.remove(wake)
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener


async def _listen(client: Any, wake: Wake) -> None:
    """LISTEN for queued messages until cancelled, connecting again after a loss (with
    back-off); wakes once on every (re)connection for what was queued meanwhile."""
    delay = RECONNECT_FIRST
    me = asyncio.current_task()
    assert me is not None
    while True:
        try:
            connection = await asyncpg.connect(
                host=client.host, port=client.port, user=client.user,
                password=client.password, database=client.database,
                server_settings={"application_name": LISTENER_NAME})
        except (OSError, asyncpg.PostgresError) as error:
            log.warning("outbox listener cannot connect (%s); next try in %.1f s",
                        error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)
            continue
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection, event=lost: event.set())
            await connection.add_listener(CHANNEL, lambda *_notification: wake())
            _listening.add(me)
            delay = RECONNECT_FIRST
            wake()
            await lost.wait()
            log.warning("outbox listener lost its connection; connecting again")
        except (OSError, asyncpg.PostgresError) as error:
            log.warning("outbox listener failed (%s); connecting again", error)
        finally:
            _listening.discard(me)
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
        await asyncio.sleep(delay)
