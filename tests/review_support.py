"""A review desk for tests: org tree, agents, reviewers, supervisors and submitted cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from domain.cases import business_types, cases, review_photos, review_reasons
from domain.cases.business_types import BusinessTypeForm
from domain.cases.capture_gate import CaptureContext
from domain.models import Case, OutboxMessage, PhotoKind, Role, Staff
from domain.platform.actors import Actor
from locales import translate
from tests.case_support import ID_NUMBER, KINDS, MOBILE, MONDAY_10AM, bound_agent, noisy_jpeg
from tests.factories import capture_context, org_tree, person


@cache
def photo(seed: int) -> bytes:
    """A valid, sharp JPEG, the same bytes for the same seed."""
    return noisy_jpeg(seed)


@dataclass
class Desk:
    """Who works the review desk of one test, and what they work on.

    outlet_a holds the agent; reviewer sits at branch_a, second at the province, outsider
    at branch_b; supervisors at sub_a (in the chain) and branch_b (outside it).
    """

    ids: dict[str, int]
    ctx: CaptureContext
    agent: Actor
    reviewer: Actor
    second: Actor
    outsider: Actor
    supervisor: Actor
    far_supervisor: Actor
    ops: Actor
    it: Actor
    plain_type_id: int
    four_eyes_type_id: int


async def build_desk(tmp_path: Path) -> Desk:
    """Org tree, people in every review role, two business types and the standard reasons."""
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001")
    _, it = await person(ids["branch_a"], Role.IT_ADMIN, no="I001")
    plain = await business_types.create_business_type(ops, "DEBIT_CARD", BusinessTypeForm(
        "借记卡开户", "Debit card opening", frozenset(KINDS), review_sla_minutes=20))
    four = await business_types.create_business_type(ops, "MOBILE_TRANSFER", BusinessTypeForm(
        "手机银行转账签约", "Mobile banking transfer sign-up", frozenset(KINDS),
        review_sla_minutes=20, four_eyes=True))
    await review_reasons.seed_default_reasons()
    return Desk(
        ids=ids, ctx=capture_context(tmp_path / "media"),
        agent=await bound_agent(ids["outlet_a"], "F001"),
        reviewer=(await person(ids["branch_a"], Role.REVIEWER, no="R001", name="审核甲"))[1],
        second=(await person(ids["province"], Role.REVIEWER, no="R002", name="审核乙"))[1],
        outsider=(await person(ids["branch_b"], Role.REVIEWER, no="R003", name="审核丙"))[1],
        supervisor=(await person(ids["sub_a"], Role.SUPERVISOR, no="S001"))[1],
        far_supervisor=(await person(ids["branch_b"], Role.SUPERVISOR, no="S002"))[1],
        ops=ops, it=it, plain_type_id=plain.id, four_eyes_type_id=four.id,
    )


async def submitted_case(desk: Desk, *, four_eyes: bool = False, seed: int = 0,
                         at: datetime = MONDAY_10AM, agent: Actor | None = None) -> Case:
    """A complete case submitted by the agent at `at`."""
    agent = agent or desk.agent
    type_id = desk.four_eyes_type_id if four_eyes else desk.plain_type_id
    case = await cases.start_draft(agent, type_id, desk.ctx, MONDAY_10AM)
    await cases.set_customer(agent, case.id, "张三", ID_NUMBER, MOBILE, desk.ctx)
    for index, kind in enumerate(KINDS):
        await cases.add_photo(agent, case.id, kind, photo(seed * 10 + index), f"{kind}.jpg",
                              "image/jpeg", desk.ctx)
    await cases.confirm_risk_hint(agent, case.id)
    return await cases.submit(agent, case.id, desk.ctx, at)


async def retake(desk: Desk, case_id: int, kind: PhotoKind, seed: int) -> None:
    """The agent retakes one flagged photo."""
    await cases.add_photo(desk.agent, case_id, kind, photo(seed), "retake.jpg", "image/jpeg",
                          desk.ctx)


async def messages_to(actor: Actor) -> list[OutboxMessage]:
    """Outbox rows queued for one person, oldest first."""
    return await OutboxMessage.filter(recipient_id=actor.staff_id).order_by("id")


def rendered(message: OutboxMessage, locale: str) -> str:
    """A queued message as its recipient reads it in a locale."""
    return translate(locale, message.template, **message.params)


async def set_locale(actor: Actor, locale: str) -> None:
    """Let a person read his messages in another language."""
    await Staff.filter(id=actor.staff_id).update(locale=locale)


async def seen(reviewer: Actor, case_id: int) -> None:
    """The reviewer opened the case's photos, as its web page does: he may approve it now
    (C6, issue 16)."""
    await review_photos.note_photos_viewed(reviewer, await Case.get(id=case_id))
