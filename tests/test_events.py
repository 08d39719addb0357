"""The domain message bus: handlers run in order, in the publisher's transaction."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from tortoise.transactions import in_transaction

from domain.models import Org, OrgLevel
from domain.platform import events
from domain.platform.events import BusNotWired, Event, MessageBus
from domain.platform.events import bus as process_bus
from domain.wiring import wire_events


@dataclass(frozen=True)
class Happened(Event):
    what: str


@dataclass(frozen=True)
class Other(Event):
    what: str


def _wired_bus() -> MessageBus:
    bus = MessageBus()
    bus.mark_wired()
    return bus


async def test_handlers_run_in_subscription_order_once_each() -> None:
    bus, seen = _wired_bus(), []

    async def first(event: Happened) -> None:
        seen.append(("first", event.what))

    async def second(event: Happened) -> None:
        seen.append(("second", event.what))

    bus.subscribe(Happened, first)
    bus.subscribe(Happened, second)
    bus.subscribe(Happened, first)
    await bus.publish(Happened("a"))
    await bus.publish(Other("not handled"))
    assert seen == [("first", "a"), ("second", "a")]


async def test_publishing_before_the_wiring_fails_loudly() -> None:
    with pytest.raises(BusNotWired, match="wire_events"):
        await MessageBus().publish(Happened("too early"))


async def test_wiring_twice_subscribes_each_handler_once() -> None:
    before = {kind: list(handlers) for kind, handlers in process_bus.handlers.items()}
    wire_events()
    wire_events()
    assert process_bus.wired
    assert process_bus.handlers == before


def test_every_domain_event_has_a_handler_once_wired() -> None:
    published = {kind for kind in vars(events).values()
                 if isinstance(kind, type) and issubclass(kind, Event) and kind is not Event}
    assert published and {kind for kind in published if not process_bus.handlers.get(kind)} == set()


async def _new_org(code: str) -> Org:
    return await Org.create(code=code, name=code, level=OrgLevel.PROVINCE, path="/")


async def test_handler_writes_commit_with_the_change(database_url: str) -> None:
    bus = _wired_bus()

    async def also(event: Happened) -> None:
        await _new_org(f"{event.what}2")

    bus.subscribe(Happened, also)
    async with in_transaction():
        await _new_org("E1")
        await bus.publish(Happened("E1"))
    assert set(await Org.filter(code__startswith="E1").values_list("code", flat=True)) == {
        "E1", "E12"}


async def test_a_failing_handler_rolls_the_whole_change_back(database_url: str) -> None:
    bus = _wired_bus()

    async def writes(event: Happened) -> None:
        await _new_org(f"{event.what}2")

    async def refuses(event: Happened) -> None:
        raise RuntimeError("refused")

    bus.subscribe(Happened, writes)
    bus.subscribe(Happened, refuses)
    with pytest.raises(RuntimeError, match="refused"):
        async with in_transaction():
            await _new_org("R1")
            await bus.publish(Happened("R1"))
    assert not await Org.filter(code__startswith="R1").exists()
