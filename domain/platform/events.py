"""Domain events and the small message bus that hands them to the areas that react.

An area that changes something another area cares about publishes an event instead of
calling that area: every event class lives here, so no area imports another to raise or to
handle one. `publish` awaits each handler in turn, in the order they were subscribed, in the
caller's task and so in the caller's open transaction: the audit and outbox rows a handler
writes commit or roll back with the change that raised the event, and a handler's refusal
undoes the whole change. The handlers are subscribed once per process by
`domain.wiring.wire_events`; publishing before that is a programming error and fails loudly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from domain.models import CaseEventKind
from domain.platform.actors import Actor


@dataclass(frozen=True)
class Event:
    """Something that happened in one area and matters to another; named in the past tense."""


@dataclass(frozen=True)
class CaseApproved(Event):
    """The final approval of a case: its reserved voucher goes to the customer (C6, V1)."""

    actor: Actor
    case_id: int
    at: datetime


@dataclass(frozen=True)
class CaseRejected(Event):
    """A case is rejected: the voucher handed at capture is to be taken back (C6, V6)."""

    actor: Actor
    case_id: int
    at: datetime
    recovery_days: int
    zone: ZoneInfo


@dataclass(frozen=True)
class CaseCancelled(Event):
    """A draft is cancelled: the voucher handed at capture is to be taken back (V6)."""

    actor: Actor
    case_id: int
    at: datetime
    recovery_days: int
    zone: ZoneInfo


@dataclass(frozen=True)
class DeviceLost(Event):
    """A tablet is reported lost: its tail box is frozen (D3)."""

    actor: Actor
    device_id: int
    reason: str
    at: datetime


@dataclass(frozen=True)
class VouchersLost(Event):
    """An agent reports serials of his own tail box lost under a loss incident (V6, Q4, Q5);
    the thresholds are the configured incident rules of Q4 and K2."""

    actor: Actor
    serials: tuple[str, ...]
    reason: str
    incident_id: int
    at: datetime
    major_incident_threshold: int
    mass_loss_threshold: int


@dataclass(frozen=True)
class CaseVoucherMoved(Event):
    """A serial a case holds was reserved, issued, released, put up for recovery or taken
    back: one entry on the case timeline (C3, C9)."""

    actor: Actor
    case_id: int
    kind: CaseEventKind
    serial: str
    voucher_type_code: str
    at: datetime


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None]]


class BusNotWired(RuntimeError):
    """An event was published before the handlers were subscribed (`wire_events`)."""


@dataclass
class MessageBus:
    """Event types and their handlers, run in subscription order in the publisher's
    transaction."""

    handlers: dict[type[Event], list[Handler]] = field(default_factory=dict)
    wired: bool = False

    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        """Run `handler` on each event of the type; subscribing it twice changes nothing."""
        subscribed = self.handlers.setdefault(event_type, [])
        if handler not in subscribed:
            subscribed.append(handler)

    def mark_wired(self) -> None:
        """Every area's handlers are subscribed: events may be published from now on."""
        self.wired = True

    async def publish(self, event: Event) -> None:
        """Await each handler of the event's type in turn; an error reaches the publisher,
        whose transaction then rolls back with everything the handlers wrote."""
        if not self.wired:
            raise BusNotWired(f"{type(event).__name__} was published before "
                              "domain.wiring.wire_events() subscribed the handlers")
        for handler in self.handlers.get(type(event), ()):
            await handler(event)


bus = MessageBus()


def subscribe(event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
    """Subscribe a handler on the process's bus (see `MessageBus.subscribe`)."""
    bus.subscribe(event_type, handler)


async def publish(event: Event) -> None:
    """Publish on the process's bus, in the caller's transaction (see `MessageBus.publish`)."""
    await bus.publish(event)
