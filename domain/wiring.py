"""Wiring of the domain events: which area's handler reacts to which event (DESIGN.md §3)."""

from __future__ import annotations

from domain.platform import events


def wire_events() -> None:
    """Subscribe every area's handlers on the process's bus, once; calling it again changes
    nothing. The composition root and the test harness call it before any use case runs."""
    events.bus.mark_wired()
