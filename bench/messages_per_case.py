"""Messages per case on the demo data (issue 14, "Fewer, better messages").

A fresh SQLite database gets the demo data (`fieldops.demo.seed_demo`, without the history),
then agent1 (陈展业, 湖南路网点) submits one case of each demo business type that the
reviewers decide: a plain one (个人客户信息建立/修改, one approval) and a four-eyes one
(手机银行转账签约, two approvals). Each case goes the way the issue's runs saw it go:
submitted, nobody claims it before half its review time (the SLA sweep reminds), then a
reviewer claims it and approves; the four-eyes case is then claimed and approved by a second
reviewer. Everything runs through the domain services on an injected clock, and what is
queued counts as sent at once (the dispatcher sends within a second), so a claim edits sent
messages. The outbox rows about each case are counted: new chat messages, and edits (one
Bot API call each, but nothing new in anyone's chat).

Scenarios: the demo as seeded (2 reviewers in the province), the demo with 45 more
reviewers spread over the agent's org chain (47, as in the issue's run) and nobody on duty,
and, where the code has `/duty` (domain.cases.review_duty), the 47 with the two demo
reviewers on duty. To measure the code before a change, run this file from a checkout of
the older commit (`git archive <commit> | tar -x -C /tmp/before`, then
`cd /tmp/before && /work/main/.venv/bin/python /work/main/bench/messages_per_case.py`):
scenarios the older code cannot run are left out.

    .venv/bin/python -m bench.messages_per_case
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain.cases import cases, review, review_sla
from domain.cases.capture_gate import CaptureContext
from domain.models import (
    BusinessType,
    Org,
    OutboxMessage,
    OutboxStatus,
    PhotoKind,
    Role,
    Staff,
)
from domain.people import staff
from domain.platform import audit, clock, webchat
from domain.platform.actors import actor_for, system_actor
from domain.platform.images import PhotoLimits
from domain.platform.media import MediaStore
from domain.platform.privacy import FieldCipher
from fieldops.db import apply_migrations, close_database, open_database
from fieldops.demo import ALL_HOURS, CARD_AGENT, REVIEWERS, demo_photo, seed_demo

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 9, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
EXTRA_ORGS = ("JS0000", "NJ0000", "NJ0100")  # the agent's chain above his outlet
CASE_TYPES = (("PERSONAL_INFO", "plain"), ("MOBILE_TRANSFER", "four-eyes"))
CUSTOMER = ("张晓明", "11010519491231002X", "13800138000")
HAS_DUTY = importlib.util.find_spec("domain.cases.review_duty") is not None


@dataclass(frozen=True)
class Scenario:
    """How many reviewers work in the agent's chain, and whether the demo two are on duty."""

    reviewers: int
    on_duty: bool


@dataclass(frozen=True)
class Tally:
    """The outbox rows about one case: new messages and edits, by kind."""

    label: str
    messages: int
    edits: int
    kinds: dict[str, int]


class Clock:
    """The bench's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def is_edit(row: OutboxMessage) -> bool:
    """Whether an outbox row edits a message instead of sending one (older code has none)."""
    return getattr(row, "edit_of", None) is not None


async def tally(case_id: int, label: str) -> Tally:
    """Count the outbox rows about one case."""
    rows = await OutboxMessage.filter(subject_type="case", subject_id=case_id).order_by("id")
    edits = sum(1 for row in rows if is_edit(row))
    return Tally(label, len(rows) - edits, edits, dict(Counter(row.kind for row in rows)))


async def delivered(moment: datetime) -> None:
    """The dispatcher sends what is due at once: a later claim edits sent messages."""
    sent: dict[str, Any] = {"status": OutboxStatus.SENT, "sent_at": moment}
    if "external_message_id" in OutboxMessage._meta.fields_map:  # older code keeps no id
        sent["external_message_id"] = "1"
    await OutboxMessage.filter(status=OutboxStatus.PENDING).update(**sent)


async def add_reviewers(count: int) -> None:
    """Reviewers beyond the demo two, spread over the orgs above the agent's outlet."""
    root = system_actor("bench")
    orgs = [await Org.get(code=code) for code in EXTRA_ORGS]
    for number in range(count):
        await staff.create_staff(root, staff.StaffForm(
            employee_no=f"R{number:04d}", name=f"审核{number:02d}",
            org_id=orgs[number % len(orgs)].id, roles=frozenset({Role.REVIEWER})))


async def go_on_duty(ticks: Clock) -> None:
    """The two demo reviewers say /duty on."""
    review_duty: Any = importlib.import_module("domain.cases.review_duty")
    for employee_no in REVIEWERS:
        reviewer = await actor_for(await Staff.get(employee_no=employee_no))
        await review_duty.set_on_duty(reviewer, True, ZONE, now=ticks.now)


async def one_case(ctx: CaptureContext, ticks: Clock, code: str, seed: int) -> int:
    """agent1 submits a case of the type; half its review time passes unclaimed (the SLA
    sweep reminds); reviewer claims and approves, reviewer2 too on a four-eyes type."""
    agent = await actor_for(await Staff.get(employee_no=CARD_AGENT))
    business_type = await BusinessType.get(code=code)
    case = await cases.start_draft(agent, business_type.id, ctx, ticks.now)
    await cases.set_customer(agent, case.id, *CUSTOMER, ctx)
    for number, kind in enumerate(sorted(business_type.required_photo_kinds)):
        await cases.add_photo(agent, case.id, PhotoKind(kind), demo_photo(seed + number),
                              f"{kind}.jpg", "image/jpeg", ctx)
    await cases.confirm_risk_hint(agent, case.id)
    await cases.submit(agent, case.id, ctx, ticks.now)
    await delivered(ticks.now)
    ticks.now += timedelta(minutes=business_type.review_sla_minutes) * 0.6
    await review_sla.sweep_sla(ticks.now, timedelta(minutes=15), ctx)
    await delivered(ticks.now)
    for employee_no in REVIEWERS[:2 if business_type.four_eyes else 1]:
        ticks.now += timedelta(minutes=1)
        reviewer = await actor_for(await Staff.get(employee_no=employee_no))
        await review.claim(reviewer, case.id, ticks.now)
        await delivered(ticks.now)
        await review.approve(reviewer, case.id, ctx, ticks.now)
        await delivered(ticks.now)
    ticks.now += timedelta(hours=1)
    return case.id


async def run(scenario: Scenario, directory: Path) -> list[Tally]:
    """One scenario on its own fresh database."""
    path = directory / f"messages-{scenario.reviewers}-{scenario.on_duty}.sqlite3"
    url = f"sqlite://{path}"
    ticks = Clock()
    previous = clock.use_clock(ticks)
    await open_database(url)
    try:
        await apply_migrations(url)
        audit.use_keys("a throwaway key of a throwaway database")
        ctx = CaptureContext(cipher=FieldCipher("a-bench-secret-that-is-long-enough"),
                             media=MediaStore(directory / "media"), photo_limits=PhotoLimits(),
                             hours=ALL_HOURS, zone=ZONE)
        await seed_demo(lambda *_: None)
        await webchat.bind_web_chat((await Staff.get(employee_no=CARD_AGENT)).id)
        await add_reviewers(scenario.reviewers - len(REVIEWERS))
        if scenario.on_duty:
            await go_on_duty(ticks)
        tallies = []
        for seed, (code, label) in enumerate(CASE_TYPES):
            case_id = await one_case(replace(ctx), ticks, code, seed * 10)
            tallies.append(await tally(case_id, label))
        return tallies
    finally:
        await close_database()
        clock.use_clock(previous)


def line(scenario: Scenario, result: Tally) -> str:
    """One row of the printed table."""
    duty = "2 on duty" if scenario.on_duty else "nobody on duty"
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(result.kinds.items()))
    return (f"{scenario.reviewers:>3} reviewers, {duty:<14} {result.label:<9} "
            f"{result.messages:>4} messages {result.edits:>3} edits   ({kinds})")


async def main() -> None:
    """Run every scenario the code can run and print messages per case."""
    scenarios = [Scenario(len(REVIEWERS), False), Scenario(47, False)]
    if HAS_DUTY:  # the demo's own two reviewers are its whole chain: on duty changes nothing
        scenarios.append(Scenario(47, True))
    with tempfile.TemporaryDirectory() as directory:
        for scenario in scenarios:
            for result in await run(scenario, Path(directory)):
                print(line(scenario, result), flush=True)
    if not HAS_DUTY:
        print("(this code has no /duty: the on-duty scenarios are left out)", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
