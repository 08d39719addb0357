"""One send budget per bot (issue 14): sends spread evenly under the overall rate, a gap per
chat, a 429 that pauses everything without costing an attempt, no head-of-line blocking,
order within a chat through retries, fenced claims, one leader among several dispatchers.

Most tests run the dispatcher on a fake monotonic clock that only its own sleeps move (the
domain clock follows it), so minutes of pacing take milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from bot.dispatcher import OutboxDispatcher, SendFailed
from bot.flows.messages import Buttons
from bot.pacer import Pacer
from domain.models import ChatBinding, OutboxMessage, OutboxStatus, SendLease, Staff
from domain.people import orgs
from domain.platform import clock, outbox
from domain.platform.intents import Intent
from locales import translate
from tests.clock_support import SteadyClock
from tests.factories import ROOT

CHANNEL = "telegram"
NOTE = "note %(n)s"


class FakeTime:
    """Monotonic seconds moved on only by `sleep`, and the domain clock that follows them."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.now = 0.0

    def monotonic(self) -> float:
        """The fake monotonic clock."""
        return self.now

    def utc(self) -> datetime:
        """The domain clock on the same fake time."""
        return self.start + timedelta(seconds=self.now)

    async def sleep(self, seconds: float) -> None:
        """Let started tasks run, then move time on."""
        await asyncio.sleep(0)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@dataclass(frozen=True)
class Sent:
    """One send the fake channel took: to which chat, what, when it started and ended."""

    chat_id: str
    text: str
    start: float
    end: float
    by: str


@dataclass
class FakeChannel:
    """A channel that records each send on a clock and fails the texts it is told to."""

    pacer: Pacer
    now: object  # () -> float
    name: str = "one"
    log: list[Sent] = field(default_factory=list)
    failures: dict[str, list[SendFailed]] = field(default_factory=dict)
    latency: float = 0.0
    ready: bool = True
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def render(self, intent: Intent) -> Buttons:
        """No buttons."""
        return ()

    async def send_text(self, chat_id: str, text: str, buttons: Buttons = ()) -> str | None:
        """Record the send; raise the failure queued for this text, if any."""
        start = self.now()  # type: ignore[operator]
        if self.latency:
            await asyncio.sleep(self.latency)
        queued = self.failures.get(text)
        self.log.append(Sent(chat_id, text, start, self.now(), self.name))  # type: ignore[operator]
        if queued:
            raise queued.pop(0)
        return str(next(self.ids))

    async def edit_text(self, chat_id: str, message_id: str, text: str,
                        buttons: Buttons = ()) -> None:
        """Edits are tested against the fake Bot API (test_delivery)."""


@pytest.fixture
def fake_time(test_clock: SteadyClock) -> Iterator[FakeTime]:
    """Fake time for the dispatcher and the domain, from the test's start moment."""
    time = FakeTime(test_clock())
    previous = clock.use_clock(time.utc)
    yield time
    clock.use_clock(previous)


async def chats(count: int) -> list[int]:
    """Staff members bound to Telegram chats 1001, 1002, … ; returns their ids."""
    org = await orgs.create_org(ROOT, code="P1", name="省分行", parent_id=None)
    now = clock.utcnow()
    await Staff.bulk_create([Staff(employee_no=f"E{n}", name=f"员工{n}", org_id=org.id)
                             for n in range(count)])
    staff = await Staff.filter(org_id=org.id).order_by("id")
    await ChatBinding.bulk_create([
        ChatBinding(staff_id=member.id, channel=CHANNEL, external_user_id=str(1001 + n),
                    chat_id=str(1001 + n), bound_at=now) for n, member in enumerate(staff)])
    return [member.id for member in staff]


async def notify(staff_id: int, text: str) -> None:
    """Queue a notice whose text reads `text`."""
    await outbox.enqueue(staff_id, NOTE, {"n": text}, intent=Intent.of("staff.roles_changed",
                                                                      staff_id),
                         idempotency_key=f"k:{staff_id}:{text}")


def dispatcher(channel: FakeChannel, time: FakeTime, **settings: object) -> OutboxDispatcher:
    """A dispatcher of the fake channel on the fake clock."""
    return OutboxDispatcher({CHANNEL: channel}, default_locale="en",  # type: ignore[dict-item]
                            clock=time.monotonic, sleep=time.sleep, **settings)  # type: ignore[arg-type]


def channel_on(time: FakeTime, **pacing: float) -> FakeChannel:
    """The fake channel with Telegram's pacing on the fake clock."""
    return FakeChannel(Pacer(clock=time.monotonic, sleep=time.sleep, **pacing), time.monotonic)


async def until(done: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Poll a condition on the database or the channel (they have no event to wait on)."""
    async with asyncio.timeout(seconds):
        while True:
            if await done():
                return
            await asyncio.sleep(0.02)


def most_in_any_window(starts: list[float], window: float) -> int:
    """The largest number of sends that started within `window` seconds of each other."""
    ordered = sorted(starts)
    return max((sum(1 for t in ordered[i:] if t < start + window)
                for i, start in enumerate(ordered)), default=0)


# --- pacing ---------------------------------------------------------------------------------


async def test_sends_are_spread_evenly_and_a_chat_gets_at_most_one_a_second(
    database_url: str, fake_time: FakeTime
) -> None:
    staff = await chats(40)
    for member in staff:
        await notify(member, f"{member}-1")
        await notify(member, f"{member}-2")
    channel = channel_on(fake_time)
    assert await dispatcher(channel, fake_time).run_once() == 80
    starts = [sent.start for sent in channel.log]
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 1 / 28 - 1e-9  # never a burst
    assert most_in_any_window(starts, 1.0) <= 28  # under Telegram's 30 a second
    for member in staff:
        first, second = [s for s in channel.log if s.text.startswith(f"note {member}-")]
        assert first.text.endswith("-1") and second.start - first.end >= 1.0


async def test_a_group_chat_gets_at_most_twenty_a_minute(fake_time: FakeTime) -> None:
    pacer = Pacer(clock=fake_time.monotonic, sleep=fake_time.sleep)
    starts = []
    for _ in range(3):
        async with pacer.turn("-100200"):
            starts.append(fake_time.now)
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [3.0, 3.0]


async def test_a_chat_with_a_backlog_does_not_hold_back_another(
    database_url: str, fake_time: FakeTime
) -> None:
    busy, other = await chats(2)
    for number in range(20):
        await notify(busy, f"busy-{number}")
    await notify(other, "other")
    channel = channel_on(fake_time)
    await dispatcher(channel, fake_time).run_once()
    order = [sent.text for sent in channel.log]
    assert order.index("note other") == 1  # right after the backlog's head, not after it
    other_at = next(s.start for s in channel.log if s.text == "note other")
    assert other_at - channel.log[0].start <= 2 / 28
    assert order[:1] + order[2:] == [f"note busy-{n}" for n in range(20)]


async def test_a_message_queued_while_a_backlog_drains_goes_out_at_its_own_turn(
    database_url: str
) -> None:
    busy, other = await chats(2)
    for number in range(12):
        await notify(busy, f"busy-{number}")
    channel = FakeChannel(Pacer(per_second=100, chat_gap=0.02),
                          asyncio.get_running_loop().time)
    sender = OutboxDispatcher({CHANNEL: channel}, poll_seconds=60,  # type: ignore[dict-item]
                              refill_seconds=0.02)
    running = asyncio.create_task(sender.run_forever())

    async def begun() -> bool:
        return len(channel.log) >= 2

    async def all_sent() -> bool:
        return len(channel.log) == 13

    try:
        await until(begun)
        await notify(other, "other")  # wakes the dispatcher (outbox_wake)
        await until(all_sent)
    finally:
        sender.stop()
        await running
    order = [sent.text for sent in channel.log]
    assert order.index("note other") <= 6  # at its turn, not behind the 10 still waiting


async def test_a_reply_goes_ahead_of_queued_notices_within_the_budget(
    fake_time: FakeTime
) -> None:
    pacer = Pacer(clock=fake_time.monotonic, sleep=fake_time.sleep)
    pacer.start("1001", 0.0)
    pacer.finish("1001")
    waiter = asyncio.ensure_future(pacer.turn("1002").__aenter__())
    await asyncio.sleep(0)
    assert pacer.urgent_ready(fake_time.now)  # queued notices give way
    await waiter
    assert not pacer.urgent_ready(fake_time.now)
    assert fake_time.now == pytest.approx(1 / 28)  # yet it waited for the next slot


async def test_a_reply_handed_over_by_another_process_goes_ahead_of_a_backlog_of_notices(
    database_url: str, fake_time: FakeTime
) -> None:
    *notified, _asking = await chats(80)
    for staff_id in notified:
        await notify(staff_id, str(staff_id))
    assert await outbox.enqueue_replies(CHANNEL, "1080", "update-7", [("the reply", [])]) == 1
    channel = channel_on(fake_time)  # Telegram's budget: about 2 s (56 messages) claimed ahead
    await dispatcher(channel, fake_time).run_once()  # as when woken by the enqueue
    order = [sent.text for sent in channel.log]
    assert order[0] == "the reply" and len(order) == 80


# --- 429 ------------------------------------------------------------------------------------


async def test_a_429_pauses_the_whole_bot_and_costs_no_attempt(
    database_url: str, fake_time: FakeTime
) -> None:
    staff = await chats(10)
    for member in staff:
        await notify(member, str(member))
    channel = channel_on(fake_time)
    channel.failures[f"note {staff[2]}"] = [SendFailed("Too Many Requests", retry_after=5)]
    assert await dispatcher(channel, fake_time).run_once() == 10
    refused = next(s for s in channel.log if s.text == f"note {staff[2]}")
    later = [s.start for s in channel.log if s.start > refused.start]
    assert len(later) == 8 and min(later) >= refused.end + 5  # nothing during the pause
    assert [s.text for s in channel.log].count(f"note {staff[2]}") == 2
    rows = await OutboxMessage.all()
    assert {(r.status, r.attempts) for r in rows} == {(OutboxStatus.SENT, 0)}
    assert (await SendLease.get(name=CHANNEL)).paused_until is not None


# --- order within a chat --------------------------------------------------------------------


async def test_a_chat_keeps_its_order_through_retries(
    database_url: str, fake_time: FakeTime
) -> None:
    agent, other = await chats(2)
    for text in ("a1", "a2", "a3"):
        await notify(agent, text)
    await notify(other, "b1")
    channel = channel_on(fake_time)
    channel.failures["note a1"] = [SendFailed("Bad Gateway"), SendFailed("Bad Gateway")]
    sender = dispatcher(channel, fake_time, backoff_seconds=0.5)
    async with asyncio.timeout(10):
        while await OutboxMessage.filter(status=OutboxStatus.PENDING).exists():
            await sender.run_once()
            await fake_time.sleep(0.5)
    assert [s.text for s in channel.log if s.chat_id == "1001"] == [
        "note a1", "note a1", "note a1", "note a2", "note a3"]
    assert "note b1" in [s.text for s in channel.log[:2]]  # the other chat went on
    first = await OutboxMessage.get(idempotency_key=f"k:{agent}:a1")
    assert (first.status, first.attempts) == (OutboxStatus.SENT, 2)


# --- fencing --------------------------------------------------------------------------------


async def test_a_stale_claim_can_neither_mark_sent_nor_failed(
    database_url: str, fake_time: FakeTime
) -> None:
    [agent] = await chats(1)
    await notify(agent, "x")
    [stale] = await outbox.claim_due(token="first", lease=timedelta(seconds=30))
    await fake_time.sleep(31)  # the first claimer stopped renewing: its claim lapsed
    [fresh] = await outbox.claim_due(token="second")
    assert fresh.message_id == stale.message_id and fresh.attempts == 1
    assert not await outbox.mark_sent(stale, "7")
    assert await outbox.mark_failed(stale, "late", backoff=timedelta(seconds=1),
                                    max_attempts=5) is None
    assert await outbox.mark_sent(fresh, "8")
    row = await OutboxMessage.get(id=fresh.message_id)
    assert (row.status, row.external_message_id, row.claim_token) == (OutboxStatus.SENT, "8",
                                                                        None)


async def test_a_send_slower_than_its_claim_is_not_sent_again(database_url: str) -> None:
    [agent] = await chats(1)
    await notify(agent, "slow")
    translate("zh_CN", NOTE, n="warm")  # the catalog loads before the clock matters
    slow = FakeChannel(Pacer(), asyncio.get_running_loop().time, latency=1.2)
    leader = OutboxDispatcher({CHANNEL: slow}, poll_seconds=0.05,  # type: ignore[dict-item]
                              claim_lease=timedelta(seconds=0.4), lease_seconds=1.0)
    running = asyncio.create_task(leader.run_forever())
    try:
        await until(OutboxMessage.filter(status=OutboxStatus.SENDING).exists)
        await asyncio.sleep(0.8)  # twice the claim's lease, the send still in flight
        assert await outbox.claim_due(token="intruder") == []
        await until(OutboxMessage.filter(status=OutboxStatus.SENT).exists)
    finally:
        leader.stop()
        await running
    assert len(slow.log) == 1
    assert (await OutboxMessage.get(idempotency_key=f"k:{agent}:slow")).attempts == 0


# --- several dispatchers --------------------------------------------------------------------


async def test_two_dispatchers_share_one_budget_and_the_second_takes_over(
    database_url: str
) -> None:
    staff = await chats(40)
    for member in staff:
        await notify(member, str(member))
    now = asyncio.get_running_loop().time
    channels = [FakeChannel(Pacer(per_second=100), now, name=name) for name in ("a", "b")]
    senders = [OutboxDispatcher({CHANNEL: channel}, poll_seconds=0.05,  # type: ignore[dict-item]
                                lease_seconds=0.5, holder=channel.name)
               for channel in channels]
    tasks = [asyncio.create_task(sender.run_forever()) for sender in senders]
    async def all_sent() -> bool:
        return not await OutboxMessage.exclude(status=OutboxStatus.SENT).exists()

    async def fifteen_sent() -> bool:
        return len(channels[0].log) + len(channels[1].log) >= 15

    try:
        await until(fifteen_sent)
        leader = 0 if channels[0].log else 1
        senders[leader].stop()
        await tasks[leader]
        await until(all_sent)
    finally:
        for sender in senders:
            sender.stop()
        await asyncio.gather(*tasks)
    log = channels[0].log + channels[1].log
    assert sorted(s.text for s in log) == sorted(f"note {m}" for m in staff)  # once each
    assert channels[leader].log and channels[1 - leader].log  # the stand-by took over
    switch = max(s.end for s in channels[leader].log)
    assert all(s.start > switch for s in channels[1 - leader].log)  # never side by side
    assert most_in_any_window([s.start for s in log], 0.1) <= 11  # one budget: 100/s
    lease = await SendLease.get(name=CHANNEL)
    assert lease.epoch >= 2


async def test_a_crashed_leader_is_replaced_once_its_lease_lapses(database_url: str) -> None:
    staff = await chats(30)
    for member in staff:
        await notify(member, str(member))
    now = asyncio.get_running_loop().time
    crashing, standing_by = (FakeChannel(Pacer(per_second=20), now, name=name)
                             for name in ("a", "b"))
    leader, stand_by = (
        OutboxDispatcher({CHANNEL: channel}, poll_seconds=0.05,  # type: ignore[dict-item]
                         lease_seconds=0.5, claim_lease=timedelta(seconds=0.3),
                         holder=channel.name)
        for channel in (crashing, standing_by))
    first = asyncio.create_task(leader.run_forever())

    async def crash() -> None:  # the process is gone: it hands nothing over
        return None

    async def begun() -> bool:
        return len(crashing.log) >= 3

    async def all_sent() -> bool:
        return not await OutboxMessage.exclude(status=OutboxStatus.SENT).exists()

    await until(begun)
    leader.lanes[CHANNEL]._hand_over = crash  # type: ignore[method-assign]
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    second = asyncio.create_task(stand_by.run_forever())
    try:
        await until(all_sent)
    finally:
        stand_by.stop()
        await second
    texts = [s.text for s in crashing.log + standing_by.log]
    assert sorted(texts) == sorted(f"note {m}" for m in staff)  # each once
    retaken = await OutboxMessage.filter(attempts=1).count()  # claimed by the crashed one
    assert retaken >= 1 and len(standing_by.log) == 30 - len(crashing.log)
