"""Ledger invariants under random operation sequences (V1–V6), on SQLite and PostgreSQL.

Random programs of receive / allocate / return / reserve / approve (issue) / correct the
serial (release) / reject or cancel (the card to recover) / take it back / lose / void
request / mis-issue / recover / write off / sign / refuse / count run against the real
services; refusals are part of the game. After each program: every serial is in one place that fits
its state, replaying the movements gives the voucher rows and the stored balances, no box
passes its org's cap, no issued or voided serial moved again, every movement has an actor
and an audit row, and a serial is mis-issued exactly while one recovery of it is open.
One test function loops over the generated programs on one world and empties the voucher
tables between them.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise.expressions import Q

from domain.cases import cases
from domain.ledgers.major_incidents import IncidentRules
from domain.models import (
    AuditLog,
    BoxCount,
    Case,
    Incident,
    IncidentKind,
    MisIssue,
    Org,
    TailBox,
    VoidRequest,
    VoidRequestItem,
    Voucher,
    VoucherBalance,
    VoucherCap,
    VoucherMovement,
    VoucherState,
)
from domain.platform.actors import Actor
from domain.platform.errors import DomainError
from domain.vouchers import (
    case_vouchers,
    day_end_counts,
    mis_issues,
    tail_boxes,
    voids,
    voucher_counts,
    voucher_stock,
)
from tests.case_support import MONDAY_10AM
from tests.voucher_support import World, agent_with_box, card, voucher_world

STOCK = 24
CAP = 8
SERIAL = st.integers(min_value=1, max_value=STOCK)
BOX = st.integers(min_value=0, max_value=1)
CASE = st.integers(min_value=0, max_value=2)
CASE_OWNERS = (0, 0, 1)  # the first agent drafted two cases, the second one
OPERATION = st.one_of(
    st.tuples(st.just("receive"), st.integers(min_value=1, max_value=6)),
    st.tuples(st.just("allocate"), BOX, st.integers(min_value=1, max_value=4)),
    st.tuples(st.just("allocate_serial"), BOX, SERIAL),
    st.tuples(st.just("return"), BOX, SERIAL),
    st.tuples(st.just("reserve"), CASE, SERIAL),
    st.tuples(st.just("approve"), CASE),
    st.tuples(st.just("correct"), CASE),
    st.tuples(st.just("reject"), CASE),
    st.tuples(st.just("take_back"), st.integers(min_value=0, max_value=3)),
    st.tuples(st.just("lose"), st.lists(SERIAL, min_size=1, max_size=3)),
    st.tuples(st.just("void"), st.just("expired"), SERIAL),
    st.tuples(st.just("mis_issue"), SERIAL),
    st.tuples(st.just("recover"), st.integers(min_value=0, max_value=3)),
    st.tuples(st.just("write_off"), st.integers(min_value=0, max_value=3)),
    st.tuples(st.just("sign"), st.integers(min_value=0, max_value=3)),
    st.tuples(st.just("refuse"), st.integers(min_value=0, max_value=3)),
    st.tuples(st.just("count"), BOX, st.booleans()),
)
PLACES = {
    VoucherState.IN_VAULT: (False, False),
    VoucherState.IN_BOX: (True, False),
    VoucherState.RESERVED: (True, True),
    VoucherState.ISSUED: (False, True),
    VoucherState.MIS_ISSUED: (True, None),
    VoucherState.VOIDED: (False, None),
}


class Game:
    """One world and the clock of the running program."""

    def __init__(self, world: World, agents: list[Actor], boxes: list[TailBox],
                 case_ids: list[int]) -> None:
        self.w, self.agents, self.boxes, self.case_ids = world, agents, boxes, case_ids
        self.now: datetime = MONDAY_10AM
        self.received = 0
        self.audited_after = 0

    async def reset(self) -> None:
        """Empty the voucher tables, thaw the boxes, set the cap."""
        await MisIssue.all().delete()
        await VoidRequestItem.all().delete()
        await VoidRequest.all().delete()
        await VoucherMovement.all().delete()
        await BoxCount.all().delete()
        await Voucher.all().delete()
        await VoucherBalance.all().delete()
        await VoucherCap.all().delete()
        await Incident.filter(kind__in=[IncidentKind.VOUCHER_LOSS, IncidentKind.DISCREPANCY,
                                        IncidentKind.MIS_ISSUE]).delete()
        last = await AuditLog.all().order_by("-id").first()
        self.audited_after = last.id if last else 0
        await TailBox.all().update(frozen=False, frozen_reason="", last_count_at=None,
                                   last_count_matched=None)
        await voucher_stock.set_cap(self.w.ops, self.w.ids["outlet_a"], self.w.card_type.id, CAP)
        self.now, self.received = MONDAY_10AM, 0

    async def run(self, operation: tuple) -> None:  # type: ignore[type-arg]
        """Play one operation; a refusal is a clean DomainError."""
        self.now += timedelta(minutes=1)
        try:
            await getattr(self, f"do_{operation[0]}")(*operation[1:])
        except DomainError:
            pass

    async def do_receive(self, n: int) -> None:
        first, last = self.received + 1, min(self.received + n, STOCK)
        if first <= last:
            self.received += await voucher_stock.receive_range(
                self.w.ops, self.w.ids["outlet_a"], self.w.card_type.id, card(first),
                card(last), self.now)

    async def do_allocate(self, box: int, n: int) -> None:
        await voucher_stock.allocate(self.w.ops, self.boxes[box].id, self.w.card_type.id, count=n,
                                     now=self.now)

    async def do_allocate_serial(self, box: int, serial: int) -> None:
        await voucher_stock.allocate(self.w.ops, self.boxes[box].id, self.w.card_type.id,
                                     serials=[card(serial)], now=self.now)

    async def pick(self, k: int, **where: object) -> str:
        """The k-th serial (cyclic) of those matching, or one that is not in the ledger."""
        serials = await Voucher.filter(**where).order_by("serial").values_list("serial",
                                                                               flat=True)
        return serials[k % len(serials)] if serials else card(STOCK + 1)

    async def do_return(self, box: int, k: int) -> None:
        serial = await self.pick(k, box_id=self.boxes[box].id)
        await voucher_stock.return_to_vault(self.w.ops, self.boxes[box].id, [serial], self.now)

    async def do_reserve(self, case: int, k: int) -> None:
        owner = CASE_OWNERS[case]
        serial = await self.pick(k, box_id=self.boxes[owner].id)
        await case_vouchers.reserve_for_case(self.agents[owner], self.case_ids[case], serial,
                                             self.now)

    async def do_approve(self, case: int) -> None:
        await case_vouchers.issue_for_case(self.w.ops, self.case_ids[case], self.now)

    async def do_correct(self, case: int) -> None:
        await case_vouchers.release_for_case(self.w.ops, self.case_ids[case], self.now)

    async def do_reject(self, case: int) -> None:
        await mis_issues.recover_for_closed_case(self.w.ops, self.case_ids[case], self.now)

    async def do_take_back(self, k: int) -> None:
        ids = await MisIssue.filter(status="recovering", kind="case_closed").order_by(
            "id").values_list("holder_id", "id")
        if ids:
            holder_id, mis_issue_id = ids[k % len(ids)]
            agent = next(a for a in self.agents if a.staff_id == holder_id)
            await mis_issues.take_back(agent, mis_issue_id, self.now)

    async def do_lose(self, picks: list[int]) -> None:
        serials = [await self.pick(k, state__in=["in_vault", "in_box", "reserved"])
                   for k in picks]
        await voids.report_lost_serials(self.w.ops, serials, "遗失",
                                        rules=IncidentRules(mass_loss_threshold=2),
                                        now=self.now)

    async def do_void(self, kind: str, k: int) -> None:
        serial = await self.pick(k, state__in=["in_vault", "in_box", "reserved"])
        await voids.request_void(self.w.ops, [serial], kind, "作废", self.now)

    async def do_mis_issue(self, k: int) -> None:
        serial = await self.pick(k, state="in_box")
        await mis_issues.record_mis_issue(self.w.ops, serial, "拿错卡", now=self.now)

    async def recovering(self, k: int) -> int | None:
        """The k-th (cyclic) mis-issue still being recovered, if any."""
        ids = await MisIssue.filter(status="recovering").order_by("id").values_list("id",
                                                                                  flat=True)
        return ids[k % len(ids)] if ids else None

    async def do_recover(self, k: int) -> None:
        if (mis_issue_id := await self.recovering(k)) is not None:
            await mis_issues.record_recovery(self.w.ops, mis_issue_id, "已追回", self.now)

    async def do_write_off(self, k: int) -> None:
        if (mis_issue_id := await self.recovering(k)) is not None:
            await mis_issues.write_off_mis_issue(self.w.ops, mis_issue_id, "无法追回", self.now)

    async def do_sign(self, signer: int) -> None:
        request = await VoidRequest.filter(status="pending").order_by("id").first()
        if request is not None:
            actor = (self.w.head, self.w.ops2, self.w.both, self.w.ops)[signer]
            await voids.sign_void(actor, request.id, self.now)

    async def do_refuse(self, pick: int) -> None:
        pending = await VoidRequest.filter(status="pending").order_by("id")
        if pending:
            await voids.refuse_void(self.w.head, pending[pick % len(pending)].id, "找回",
                                    self.now)

    async def do_count(self, box: int, right: bool) -> None:
        self.now += timedelta(days=1)
        await day_end_counts.request_day_end_counts(self.now)
        count = await BoxCount.filter(box_id=self.boxes[box].id, status="requested").first()
        if count is None:
            return
        expected = await tail_boxes.expected_in_box(self.boxes[box].id)
        counted = expected if right else {"CARD": expected.get("CARD", 0) + 1}
        for _ in range(2):
            answer = await voucher_counts.answer_count(self.agents[box], count.id, counted,
                                                       self.now)
            if answer.status.value != "retry":
                break


async def check_places() -> None:
    """Every serial is in one place that fits its state, in its own org's box."""
    box_orgs = dict(await TailBox.all().values_list("id", "org_id"))
    for row in await Voucher.all():
        has_box, has_case = PLACES.get(row.state, (row.box_id is not None, None))  # type: ignore[attr-defined]
        assert (row.box_id is not None) == has_box, (row.serial, row.state)  # type: ignore[attr-defined]
        if has_case is not None:
            assert (row.case_id is not None) == has_case, (row.serial, row.state)  # type: ignore[attr-defined]
        if row.box_id is not None:  # type: ignore[attr-defined]
            assert box_orgs[row.box_id] == row.org_id  # type: ignore[attr-defined]
        assert (row.state == VoucherState.VOID_PENDING) <= (row.state_before_void is not None)


async def check_replay() -> None:
    """The movements replayed give each voucher row, and the stored balances agree."""
    rows = {row.id: row for row in await Voucher.all()}
    where: dict[int, tuple[str | None, int | None]] = {}
    for move in await VoucherMovement.all().order_by("id"):
        before = where.get(move.voucher_id, (None, None))  # type: ignore[attr-defined]
        assert before == (move.from_state, move.from_box_id), move.id
        assert before[0] not in (VoucherState.ISSUED, VoucherState.VOIDED), move.id
        where[move.voucher_id] = (move.to_state, move.to_box_id)  # type: ignore[attr-defined]
    assert where == {i: (row.state, row.box_id) for i, row in rows.items()}  # type: ignore[attr-defined]
    replayed = Counter((row.org_id, row.box_id or 0, row.state.value)  # type: ignore[attr-defined]
                       for row in rows.values())
    stored = {(b.org_id, b.box_id, b.state.value): b.count
              for b in await VoucherBalance.filter(count__gt=0)}
    assert stored == dict(replayed)
    assert not await VoucherBalance.filter(count__lt=0).exists()


async def check_caps() -> None:
    """No org's boxes answer for more than its cap: in box, reserved, and void-pending or
    mis-issued out of a box."""
    for cap in await VoucherCap.all().prefetch_related("org"):
        held = await Voucher.filter(
            Q(state__in=["in_box", "reserved"])
            | Q(state__in=["void_pending", "mis_issued"], box_id__isnull=False),
            org__path__startswith=cap.org.path).count()
        assert held <= cap.max_in_boxes


async def check_recoveries() -> None:
    """A serial is mis-issued exactly while one recovery of it is open, and a recovery
    taken back left its serial out of the mis-issued state."""
    open_ones = Counter(await MisIssue.filter(status="recovering").values_list("voucher_id",
                                                                                flat=True))
    mis_issued = await Voucher.filter(state=VoucherState.MIS_ISSUED).values_list("id",
                                                                                 flat=True)
    assert open_ones == Counter(mis_issued)
    for row in await MisIssue.filter(status="taken_back").prefetch_related("voucher"):
        assert row.kind.value == "case_closed" and row.incident_id is None  # type: ignore[attr-defined]


async def check_audit(after: int) -> None:
    """Every movement has an actor and is named by an audit row of its kind, written after
    the audit row `after` (the audit log keeps the rows of earlier programs)."""
    audited: dict[int, str] = {}
    for row in await AuditLog.filter(action__startswith="voucher.", id__gt=after):
        for first, last in row.detail.get("movements", []):
            audited |= dict.fromkeys(range(first, last + 1), row.action)
    for move in await VoucherMovement.all():
        assert move.actor_label and move.actor_id is not None
        assert audited.get(move.id) == f"voucher.{move.kind.value}", move.id


@pytest.fixture
async def game(database_url: str, tmp_path: Path) -> Game:
    w = await voucher_world(tmp_path / "media")
    other, box, _ = await agent_with_box(w.ids["outlet_a"], "F002")
    case_ids = [(await cases.start_draft(agent, w.business_type_id, w.ctx, MONDAY_10AM)).id
                for agent in (w.agent, w.agent, other)]
    assert await Case.filter(id__in=case_ids).count() == 3
    assert await Org.exists(id=w.ids["outlet_a"])
    return Game(w, [w.agent, other], [w.box, box], case_ids)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(program=st.lists(OPERATION, min_size=4, max_size=25))
async def test_random_programs_keep_the_ledger_whole(game: Game, program: list[tuple]  # type: ignore[type-arg]
                                                     ) -> None:
    await game.reset()
    await game.do_receive(12)
    for box in (0, 1):
        await game.do_allocate(box, 3)
    for operation in program:
        await game.run(operation)
    await check_places()
    await check_replay()
    await check_caps()
    await check_recoveries()
    await check_audit(game.audited_after)
