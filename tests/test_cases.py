"""Case capture (issue 3): gate (C2, Q6), draft to submit (C1, C4, C9, C11), privacy (C10)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tortoise import connections

from domain.cases import business_types, capture_gate, case_summaries, cases
from domain.cases.business_types import BusinessTypeForm
from domain.cases.capture_gate import CaptureContext, WorkingHours
from domain.models import (
    AuditLog,
    Case,
    CaseEvent,
    CaseEventKind,
    CasePhoto,
    CaseStatus,
    OutboxMessage,
    PhotoKind,
    Role,
    SpecialApproval,
    SpecialApprovalStatus,
)
from domain.platform.errors import NotFound, PermissionDenied
from domain.platform.images import PhotoLimits
from domain.platform.media import MediaStore
from domain.platform.privacy import FieldCipher
from tests.case_support import (
    ID_NUMBER,
    KINDS,
    MOBILE,
    MONDAY_8PM,
    MONDAY_10AM,
    ZONE,
    World,
    bound_agent,
    noisy_jpeg,
    ready_draft,
    refusal,
)
from tests.factories import org_tree, person

SUBMITTED_MSGID = "Case %(case_no)s has already been submitted and can no longer be changed."


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> World:
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001")
    form = BusinessTypeForm("借记卡开户", "Debit card opening", frozenset(KINDS),
                            review_sla_minutes=15)
    business_type = await business_types.create_business_type(ops, "DEBIT_CARD", form)
    ctx = CaptureContext(cipher=FieldCipher("a-test-secret-that-is-long-enough"),
                         media=MediaStore(tmp_path / "media"), photo_limits=PhotoLimits(),
                         hours=WorkingHours(), zone=ZONE)
    return World(ids, await bound_agent(ids["outlet_a"], "F001"), business_type.id, ctx)


async def test_capture_is_refused_out_of_hours(world: World) -> None:
    refused = await refusal(cases.start_draft, world.agent, world.business_type_id, world.ctx,
                            MONDAY_8PM)
    assert refused.key.startswith("Cases can be captured only in working hours")
    assert refused.params == {"start": "08:30", "end": "17:30"}
    assert not await Case.exists()


async def test_approved_special_approval_opens_the_gate(world: World) -> None:
    agent_id = world.agent.staff_id
    assert agent_id is not None
    hour = timedelta(hours=1)
    window = {"staff_id": agent_id, "org_id": world.ids["outlet_a"], "reason": "客户住院",
              "starts_at": MONDAY_8PM - hour, "ends_at": MONDAY_8PM + hour}
    await SpecialApproval.create(**window)
    await refusal(capture_gate.capture_gate, agent_id, world.business_type_id, MONDAY_8PM,
                  world.ctx)
    await SpecialApproval.create(**window, status=SpecialApprovalStatus.APPROVED)
    await capture_gate.capture_gate(agent_id, world.business_type_id, MONDAY_8PM, world.ctx)


async def test_unbound_agent_and_inactive_type_are_refused(world: World) -> None:
    _, unbound = await person(world.ids["outlet_a"], Role.FIELD_AGENT, no="F002")
    refused = await refusal(cases.start_draft, unbound, world.business_type_id, world.ctx,
                            MONDAY_10AM)
    assert refused.key == "Bind your chat account before you capture cases."
    await business_types.set_active(
        (await person(world.ids["province"], Role.OPS_ADMIN, no="O002"))[1],
        world.business_type_id, False)
    refused = await refusal(cases.start_draft, world.agent, world.business_type_id, world.ctx,
                            MONDAY_10AM)
    assert refused.key == "This business type is not offered for new cases."


async def test_full_capture_submits_numbers_and_notifies_reviewers_once(world: World) -> None:
    in_scope, _ = await person(world.ids["branch_a"], Role.REVIEWER, no="R001")
    await person(world.ids["branch_b"], Role.REVIEWER, no="R002")
    case = await ready_draft(world)
    submitted = await cases.submit(world.agent, case.id, world.ctx, MONDAY_10AM)
    assert submitted.status == CaseStatus.SUBMITTED
    assert submitted.case_no == "YD20261123-000001"
    assert submitted.review_due_at == MONDAY_10AM + timedelta(minutes=15)
    messages = await OutboxMessage.all()
    assert [m.recipient_id for m in messages] == [in_scope.id]  # type: ignore[attr-defined]
    assert messages[0].params["case_no"] == "YD20261123-000001"
    refused = await refusal(cases.submit, world.agent, case.id, world.ctx, MONDAY_10AM)
    assert refused.key == SUBMITTED_MSGID
    assert await OutboxMessage.all().count() == 1
    kinds = await CaseEvent.filter(case_id=case.id).values_list("kind", flat=True)
    assert kinds[0] == "created" and kinds[-1] == "submitted"
    assert await AuditLog.filter(action="case.submitted", object_id=str(case.id)).count() == 1


async def test_case_numbers_count_up_within_the_business_day(world: World) -> None:
    first = await ready_draft(world, seed=1)
    second = await ready_draft(world, seed=2)
    numbers = [(await cases.submit(world.agent, c.id, world.ctx, MONDAY_10AM)).case_no
               for c in (first, second)]
    assert numbers == ["YD20261123-000001", "YD20261123-000002"]


async def test_database_keeps_no_plain_id_number_and_finds_it_by_hash(world: World) -> None:
    case = await ready_draft(world)
    _, rows = await connections.get("default").execute_query(
        'SELECT * FROM "case_record" WHERE "id" = ' + str(case.id))
    raw = " ".join(str(value) for value in dict(rows[0]).values())
    assert ID_NUMBER not in raw and MOBILE not in raw
    _, reviewer = await person(world.ids["province"], Role.REVIEWER, no="R001")
    found = await case_summaries.find_by_id_number(reviewer, ID_NUMBER.lower(), world.ctx)
    assert [c.id for c in found] == [case.id]
    summary = await case_summaries.case_summary(world.agent, case.id, world.ctx)
    assert (summary.id_number_masked, summary.mobile_masked) == (
        "110105********002X", "138****5678")


async def test_missing_photo_kind_refuses_submit_naming_it(world: World) -> None:
    case = await cases.start_draft(world.agent, world.business_type_id, world.ctx, MONDAY_10AM)
    await cases.set_customer(world.agent, case.id, "张三", ID_NUMBER, MOBILE, world.ctx)
    await cases.add_photo(world.agent, case.id, PhotoKind.ID_FRONT, noisy_jpeg(1), "a.jpg",
                          "image/jpeg", world.ctx)
    await cases.confirm_risk_hint(world.agent, case.id)
    refused = await refusal(cases.submit, world.agent, case.id, world.ctx, MONDAY_10AM)
    assert refused.params == {"kind": "id_back"}
    assert refused.key == "The photo of the ID card national emblem side is still missing."
    assert (await Case.get(id=case.id)).case_no is None


async def test_second_photo_of_a_kind_adds_a_row(world: World) -> None:
    case = await ready_draft(world)
    await cases.add_photo(world.agent, case.id, PhotoKind.ID_FRONT, noisy_jpeg(99), "b.jpg",
                          "image/jpeg", world.ctx)
    photos = await CasePhoto.filter(case_id=case.id, kind=PhotoKind.ID_FRONT).order_by("id")
    assert len(photos) == 2 and photos[0].sha256 != photos[1].sha256
    assert world.ctx.media.read(photos[0].sha256) == noisy_jpeg(0)


async def test_other_agent_cannot_touch_the_draft(world: World) -> None:
    case = await cases.start_draft(world.agent, world.business_type_id, world.ctx, MONDAY_10AM)
    other = await bound_agent(world.ids["outlet_a"], "F002")
    with pytest.raises(PermissionDenied):
        await cases.set_customer(other, case.id, "李四", ID_NUMBER, MOBILE, world.ctx)
    with pytest.raises(PermissionDenied):
        await cases.cancel(other, case.id)
    assert await case_summaries.open_drafts(other) == []
    assert [c.id for c in await case_summaries.open_drafts(world.agent)] == [case.id]


async def test_cancel_only_from_draft(world: World) -> None:
    draft = await cases.start_draft(world.agent, world.business_type_id, world.ctx, MONDAY_10AM)
    assert (await cases.cancel(world.agent, draft.id)).status == CaseStatus.CANCELLED
    refused = await refusal(cases.confirm_risk_hint, world.agent, draft.id)
    assert refused.key == "This draft was cancelled and can no longer be changed."
    case = await ready_draft(world)
    await cases.submit(world.agent, case.id, world.ctx, MONDAY_10AM)
    refused = await refusal(cases.cancel, world.agent, case.id)
    assert refused.key == SUBMITTED_MSGID
    assert (await Case.get(id=case.id)).status == CaseStatus.SUBMITTED


async def test_reveal_is_audited_and_refused_for_a_field_agent(world: World) -> None:
    case = await ready_draft(world)
    with pytest.raises(PermissionDenied):
        await case_summaries.reveal_customer(world.agent, case.id, world.ctx)
    _, reviewer = await person(world.ids["branch_a"], Role.REVIEWER, no="R001")
    revealed = await case_summaries.reveal_customer(reviewer, case.id, world.ctx)
    assert (revealed.id_number, revealed.mobile) == (ID_NUMBER, MOBILE)
    entry = await AuditLog.get(action="case.customer_reveal")
    assert (entry.actor_id, entry.object_id) == (reviewer.staff_id, str(case.id))
    _, outsider = await person(world.ids["branch_b"], Role.REVIEWER, no="R002")
    with pytest.raises(NotFound):
        await case_summaries.reveal_customer(outsider, case.id, world.ctx)


async def test_location_is_kept_and_an_impossible_one_refused(world: World) -> None:
    draft = await cases.start_draft(world.agent, world.business_type_id, world.ctx, MONDAY_10AM)
    refused = await refusal(cases.set_location, world.agent, draft.id, 95.0, 118.8)
    assert refused.key == "This location is not valid. Please share it again."
    await cases.set_location(world.agent, draft.id, 32.06, 118.79)
    stored = await Case.get(id=draft.id)
    assert (stored.latitude, stored.longitude) == (32.06, 118.79)
    kinds = await CaseEvent.filter(case_id=draft.id).values_list("kind", flat=True)
    assert kinds == [CaseEventKind.CREATED, CaseEventKind.LOCATION_SET]
