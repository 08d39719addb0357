"""Central review (issue 3): claim, decisions, four eyes, results to the agent, revisions.

Rules: C6 (identity check, hold), C7 (returns with reasons, retake), C8 (agent told),
C9 (photos never replaced), C10 (scope), S2 (four eyes).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from domain.cases import case_file, case_summaries, cases, review, review_queue, review_reasons
from domain.cases.review_queue import QueueFilters
from domain.models import (
    AuditLog,
    Case,
    CaseDecision,
    CaseEvent,
    CaseEventKind,
    CasePhoto,
    CaseStatus,
    ChatBinding,
    DecisionKind,
    OutboxMessage,
    PhotoKind,
    ReasonKind,
    ReviewReason,
    Role,
    Staff,
    StaffRole,
)
from domain.platform.actors import Actor, actor_for
from domain.platform.errors import DomainError, NotFound, PermissionDenied
from tests.case_support import ID_NUMBER, MOBILE, MONDAY_10AM, refusal
from tests.cli_support import cli_env, fieldops
from tests.factories import operational
from tests.outbox_support import chat_buttons
from tests.review_support import (
    Desk,
    build_desk,
    messages_to,
    rendered,
    retake,
    seen,
    set_locale,
    submitted_case,
)

LATER = MONDAY_10AM + timedelta(minutes=5)


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    return await build_desk(tmp_path)


async def test_claim_takes_the_case_and_release_gives_it_back(desk: Desk) -> None:
    case = await submitted_case(desk)
    claimed = await review.claim(desk.reviewer, case.id, LATER)
    assert claimed.status == CaseStatus.IN_REVIEW
    assert claimed.claimed_by_id == desk.reviewer.staff_id  # type: ignore[attr-defined]
    again = await review.claim(desk.reviewer, case.id, LATER)
    assert again.status == CaseStatus.IN_REVIEW
    refused = await refusal(review.release, desk.second, case.id)
    assert refused.key == "Only the reviewer who claimed case %(case_no)s can release it."
    released = await review.release(desk.reviewer, case.id)
    assert released.status == CaseStatus.SUBMITTED and released.claimed_by_id is None  # type: ignore[attr-defined]
    kinds = await CaseEvent.filter(case_id=case.id).values_list("kind", flat=True)
    assert kinds[-2:] == [CaseEventKind.CLAIMED, CaseEventKind.RELEASED]


async def test_a_case_claimed_by_another_reviewer_is_refused_with_his_name(desk: Desk) -> None:
    case = await submitted_case(desk)
    await review.claim(desk.reviewer, case.id, LATER)
    for call, args in ((review.claim, (LATER,)), (review.approve, (desk.ctx,)),
                       (review.hold, ("", desk.ctx))):
        refused = await refusal(call, desk.second, case.id, *args)
        assert refused.key == "Case %(case_no)s is being reviewed by %(reviewer)s."
        assert refused.params == {"case_no": case.case_no, "reviewer": "R001 审核甲"}
    refused = await refusal(review.return_case, desk.second, case.id, ["unclear_image"], "",
                            desk.ctx)
    assert refused.params["reviewer"] == "R001 审核甲"
    assert (await Case.get(id=case.id)).status == CaseStatus.IN_REVIEW
    assert not await CaseDecision.exists()


async def test_reviewers_outside_the_org_subtree_neither_see_nor_decide(desk: Desk) -> None:
    case = await submitted_case(desk)
    with pytest.raises(NotFound):
        await review.claim(desk.outsider, case.id, LATER)
    with pytest.raises(NotFound):
        await review.approve(desk.outsider, case.id, desk.ctx)
    with pytest.raises(PermissionDenied):
        await review.approve(desk.supervisor, case.id, desk.ctx)
    assert await review_queue.review_queue(desk.outsider, QueueFilters()) == []
    with pytest.raises(NotFound):
        await review.claim(desk.reviewer, 999_999, LATER)
    assert (await Case.get(id=case.id)).status == CaseStatus.SUBMITTED


async def test_an_agent_who_is_also_a_reviewer_cannot_review_his_own_case(desk: Desk) -> None:
    await StaffRole.create(staff_id=desk.reviewer.staff_id, role=Role.FIELD_AGENT)
    await ChatBinding.create(staff_id=desk.reviewer.staff_id, channel="telegram",
                             external_user_id="tgR001", chat_id="tgR001", bound_at=MONDAY_10AM)
    member = await Staff.get(id=desk.reviewer.staff_id)
    await operational(member)
    both = await actor_for(member)
    case = await submitted_case(desk, agent=both)
    refused = await refusal(review.approve, both, case.id, desk.ctx)
    assert refused.key == "You cannot review a case you captured yourself."
    assert not await OutboxMessage.filter(recipient_id=both.staff_id).exists()


async def test_queue_lists_open_cases_oldest_first_with_time_left(desk: Desk) -> None:
    first = await submitted_case(desk, seed=1, at=MONDAY_10AM)
    second = await submitted_case(desk, seed=2, at=MONDAY_10AM + timedelta(minutes=10))
    done = await submitted_case(desk, seed=3, at=MONDAY_10AM)
    await seen(desk.reviewer, done.id)
    await review.approve(desk.reviewer, done.id, desk.ctx, LATER)
    now = MONDAY_10AM + timedelta(minutes=25)
    queue = await review_queue.review_queue(desk.reviewer, QueueFilters(), now)
    assert [item.case_id for item in queue] == [first.id, second.id]
    assert queue[0].seconds_left == -5 * 60 and queue[0].overdue
    assert queue[1].seconds_left == 5 * 60 and not queue[1].overdue
    assert (queue[0].business_type_zh, queue[0].agent_name) == ("借记卡开户", "员工F001")
    overdue = await review_queue.review_queue(desk.reviewer, QueueFilters(overdue_only=True), now)
    assert [item.case_id for item in overdue] == [first.id]
    approved = await review_queue.review_queue(desk.reviewer,
                                         QueueFilters(status=CaseStatus.APPROVED), now)
    assert [item.case_id for item in approved] == [done.id]
    other_org = QueueFilters(org_id=desk.ids["outlet_b"])
    assert await review_queue.review_queue(desk.second, other_org, now) == []


async def test_approval_tells_the_agent_with_the_case_number(desk: Desk) -> None:
    case = await submitted_case(desk)
    await seen(desk.reviewer, case.id)
    approved = await review.approve(desk.reviewer, case.id, desk.ctx, LATER)
    assert approved.status == CaseStatus.APPROVED and approved.decided_at == LATER
    [message] = await messages_to(desk.agent)
    for locale in ("zh_CN", "en"):
        text = rendered(message, locale)
        assert case.case_no in text  # type: ignore[operator]
    assert "借记卡开户" in rendered(message, "zh_CN")
    decision = await CaseDecision.get(case_id=case.id)
    assert (decision.kind, decision.revision) == (DecisionKind.APPROVE, 1)
    assert decision.reviewer_id == desk.reviewer.staff_id  # type: ignore[attr-defined]
    assert await AuditLog.filter(action="case.approved", object_id=str(case.id)).count() == 1


async def test_four_eyes_needs_a_second_different_reviewer(desk: Desk) -> None:
    case = await submitted_case(desk, four_eyes=True)
    await seen(desk.reviewer, case.id)
    first = await review.approve(desk.reviewer, case.id, desk.ctx, LATER)
    assert first.status == CaseStatus.IN_REVIEW
    assert first.first_approved_by_id == desk.reviewer.staff_id  # type: ignore[attr-defined]
    asked = [m for m in await messages_to(desk.second) if "second approval" in m.template]
    assert len(asked) == 1 and ["Claim", f"rv:claim:{case.id}"] in chat_buttons(asked[0])[0]
    assert not [m for m in await messages_to(desk.reviewer) if "second approval" in m.template]
    refused = await refusal(review.approve, desk.reviewer, case.id, desk.ctx, LATER)
    assert refused.key == review.SAME_REVIEWER
    refused = await refusal(review.claim, desk.reviewer, case.id, LATER)
    assert refused.key == review.SAME_REVIEWER
    queue = await review_queue.review_queue(desk.second, QueueFilters(), LATER)
    assert queue[0].awaiting_second_approval
    await seen(desk.second, case.id)
    final = await review.approve(desk.second, case.id, desk.ctx, LATER)
    assert final.status == CaseStatus.APPROVED
    kinds = await CaseDecision.filter(case_id=case.id).values_list("kind", flat=True)
    assert kinds == [DecisionKind.FIRST_APPROVAL, DecisionKind.APPROVE]
    agent_texts = [rendered(m, "en") for m in await messages_to(desk.agent)]
    assert "waits for a second reviewer" in agent_texts[0]
    assert "has been approved" in agent_texts[1]


async def test_return_needs_known_reasons_and_an_item_to_redo(desk: Desk) -> None:
    case = await submitted_case(desk)
    refused = await refusal(review.return_case, desk.reviewer, case.id, [], "", desk.ctx)
    assert refused.key == "Choose at least one reason for the return."
    refused = await refusal(review.return_case, desk.reviewer, case.id, ["no_such"], "",
                            desk.ctx)
    assert refused.params == {"code": "no_such"}
    refused = await refusal(review.return_case, desk.reviewer, case.id,
                            ["networked_check_failed"], "", desk.ctx)
    assert refused.params == {"code": "networked_check_failed"}
    refused = await refusal(review.return_case, desk.reviewer, case.id, ["other_return"], "",
                            desk.ctx)
    assert refused.key == "Name at least one item the field agent must redo."
    refused = await refusal(review.return_case, desk.reviewer, case.id, ["other_return"], "",
                            desk.ctx, retake_items=["signed_form"])
    assert refused.params == {"item": "signed_form"}
    refused = await refusal(review.reject, desk.reviewer, case.id, "unclear_image", "",
                            desk.ctx)
    assert refused.params == {"code": "unclear_image"}
    await ReviewReason.filter(code="identity_doubt").update(active=False)
    refused = await refusal(review.reject, desk.reviewer, case.id, "identity_doubt", "",
                            desk.ctx)
    assert refused.key == "There is no active reason with the code %(code)s."
    stored = await Case.get(id=case.id)
    assert stored.status == CaseStatus.SUBMITTED and stored.claimed_by_id is None  # type: ignore[attr-defined]


async def test_return_tells_the_agent_every_reason_in_his_language(desk: Desk) -> None:
    case = await submitted_case(desk)
    returned = await review.return_case(
        desk.reviewer, case.id, ["unclear_image", "portrait_mismatch"], "合影太暗", desk.ctx,
        retake_items=[PhotoKind.ONSITE_WITH_AGENT.value], now=LATER)
    assert returned.status == CaseStatus.RETURNED
    assert returned.retake_items == ["onsite_with_agent"]
    [message] = await messages_to(desk.agent)
    zh = rendered(message, "zh_CN")
    assert "影像不清晰" in zh and "现场照人像不一致" in zh and "合影太暗" in zh
    assert chat_buttons(message) == [[["Retake the flagged items", f"cap:retake:{case.id}"]]]
    decision = await CaseDecision.get(case_id=case.id)
    assert decision.reason_codes == ["unclear_image", "portrait_mismatch"]
    assert decision.note == "合影太暗"
    second = await submitted_case(desk, seed=5)
    await set_locale(desk.agent, "en")
    await review.return_case(desk.reviewer, second.id, ["unclear_image", "portrait_mismatch"],
                             "", desk.ctx, now=LATER)
    english = rendered((await messages_to(desk.agent))[-1], "en")
    assert "Unclear image, Portrait does not match" in english
    assert "Note from the reviewer" not in english
    assert (await Case.get(id=second.id)).retake_items == [
        "id_front", "id_back", "onsite_with_agent"]


async def test_reject_tells_the_agent_the_reason_and_note_in_his_language(desk: Desk) -> None:
    for seed, locale, name in ((1, "zh_CN", "联网核查未通过"),
                               (2, "en", "Networked identity check failed")):
        await set_locale(desk.agent, locale)
        case = await submitted_case(desk, seed=seed)
        rejected = await review.reject(desk.reviewer, case.id, "networked_check_failed",
                                       "核查系统返回不一致", desk.ctx, LATER)
        assert rejected.status == CaseStatus.REJECTED
        text = rendered((await messages_to(desk.agent))[-1], locale)
        assert case.case_no in text  # type: ignore[operator]
        assert name in text and "核查系统返回不一致" in text


async def test_hold_tells_the_agent_what_happens_and_alerts_operations_and_it(desk: Desk) -> None:
    case = await submitted_case(desk)
    held = await review.hold(desk.reviewer, case.id, "联网核查系统故障", desk.ctx, LATER)
    assert held.status == CaseStatus.ON_HOLD and held.decided_at is None
    [to_agent] = await messages_to(desk.agent)
    assert "wait on site" in rendered(to_agent, "en").lower()
    for staff in (desk.ops, desk.it):
        [alert] = await messages_to(staff)
        assert case.case_no in rendered(alert, "en")  # type: ignore[operator]
        assert "联网核查系统故障" in rendered(alert, "en")
    refused = await refusal(review.hold, desk.reviewer, case.id, "", desk.ctx)
    assert refused.key == "Case %(case_no)s is already on hold."
    await seen(desk.reviewer, case.id)
    approved = await review.approve(desk.reviewer, case.id, desk.ctx, LATER)
    assert approved.status == CaseStatus.APPROVED
    kinds = await CaseDecision.filter(case_id=case.id).values_list("kind", flat=True)
    assert kinds == [DecisionKind.HOLD, DecisionKind.APPROVE]


async def test_held_case_can_be_handed_over_to_another_reviewer(desk: Desk) -> None:
    case = await submitted_case(desk)
    await review.hold(desk.reviewer, case.id, "", desk.ctx, LATER)
    released = await review.release(desk.reviewer, case.id)
    assert released.status == CaseStatus.ON_HOLD
    taken = await review.claim(desk.second, case.id, LATER)
    assert taken.status == CaseStatus.ON_HOLD
    assert taken.claimed_by_id == desk.second.staff_id  # type: ignore[attr-defined]
    rejected = await review.reject(desk.second, case.id, "identity_doubt", "", desk.ctx)
    assert rejected.status == CaseStatus.REJECTED


@pytest.mark.parametrize("status_msgid", [
    (CaseStatus.APPROVED, "Case %(case_no)s has already been approved."),
    (CaseStatus.RETURNED, "Case %(case_no)s has already been returned to the field agent."),
    (CaseStatus.REJECTED, "Case %(case_no)s has already been rejected."),
])
async def test_a_decided_case_refuses_every_further_decision(
        desk: Desk, status_msgid: tuple[CaseStatus, str]) -> None:
    status, msgid = status_msgid
    case = await submitted_case(desk)
    if status == CaseStatus.APPROVED:
        await seen(desk.reviewer, case.id)
        await review.approve(desk.reviewer, case.id, desk.ctx)
    elif status == CaseStatus.RETURNED:
        await review.return_case(desk.reviewer, case.id, ["unclear_image"], "", desk.ctx)
    else:
        await review.reject(desk.reviewer, case.id, "identity_doubt", "", desk.ctx)
    before = await OutboxMessage.all().count()
    for call, args in ((review.approve, (desk.ctx,)), (review.hold, ("", desk.ctx)),
                       (review.reject, ("identity_doubt", "", desk.ctx)),
                       (review.claim, ())):
        for actor in (desk.reviewer, desk.second):
            refused = await refusal(call, actor, case.id, *args)
            assert (refused.key, refused.params) == (msgid, {"case_no": case.case_no})
    assert await OutboxMessage.all().count() == before
    assert await CaseDecision.filter(case_id=case.id).count() == 1


async def test_a_stale_read_never_overwrites_a_decision(desk: Desk) -> None:
    case = await submitted_case(desk)
    stale = await Case.get(id=case.id)
    await seen(desk.second, case.id)
    await review.approve(desk.second, case.id, desk.ctx, LATER)
    with pytest.raises(DomainError) as refused:
        await review._transition(desk.reviewer, stale, review.OPEN_STATUSES,
                                 status=CaseStatus.REJECTED)
    assert refused.value.key == "Case %(case_no)s has already been approved."
    assert (await Case.get(id=case.id)).status == CaseStatus.APPROVED


def deciding(desk: Desk, case_id: int, what: str, actor: Actor):  # type: ignore[no-untyped-def]
    """One reviewer's decision on a case, as a coroutine to race against another."""
    if what == "approve":
        return review.approve(actor, case_id, desk.ctx, LATER)
    if what == "return":
        return review.return_case(actor, case_id, ["unclear_image"], "", desk.ctx, now=LATER)
    if what == "reject":
        return review.reject(actor, case_id, "identity_doubt", "", desk.ctx, LATER)
    return review.hold(actor, case_id, "", desk.ctx, LATER)


@pytest.mark.parametrize("pair", [("approve", "return"), ("reject", "approve"),
                                  ("approve", "approve"), ("return", "reject")])
async def test_two_reviewers_deciding_at_once_make_exactly_one_decision(
        desk: Desk, pair: tuple[str, str]) -> None:
    case = await submitted_case(desk)
    for reviewer in (desk.reviewer, desk.second):
        await seen(reviewer, case.id)
    results = await asyncio.gather(deciding(desk, case.id, pair[0], desk.reviewer),
                                   deciding(desk, case.id, pair[1], desk.second),
                                   return_exceptions=True)
    wins = [r for r in results if isinstance(r, Case)]
    losses = [r for r in results if isinstance(r, DomainError)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].params["case_no"] == case.case_no
    assert not isinstance(losses[0], PermissionDenied)
    assert await CaseDecision.filter(case_id=case.id).count() == 1
    assert (await Case.get(id=case.id)).status == wins[0].status
    decided = await CaseEvent.filter(case_id=case.id, kind__in=[
        CaseEventKind.APPROVED, CaseEventKind.REJECTED, CaseEventKind.RETURNED]).count()
    assert decided == 1
    assert len(await messages_to(desk.agent)) == 1


async def test_two_first_approvals_at_once_never_approve_alone(desk: Desk) -> None:
    case = await submitted_case(desk, four_eyes=True)
    for reviewer in (desk.reviewer, desk.second):
        await seen(reviewer, case.id)
    results = await asyncio.gather(deciding(desk, case.id, "approve", desk.reviewer),
                                   deciding(desk, case.id, "approve", desk.second),
                                   return_exceptions=True)
    assert any(isinstance(r, Case) for r in results), results
    kinds = await CaseDecision.filter(case_id=case.id).values_list("kind", flat=True)
    stored = await Case.get(id=case.id)
    # Either one first approval won and the other was refused, or they ran one after the
    # other and made a proper first and second approval by two different reviewers.
    assert kinds in ([DecisionKind.FIRST_APPROVAL],
                     [DecisionKind.FIRST_APPROVAL, DecisionKind.APPROVE])
    assert (stored.status == CaseStatus.APPROVED) == (len(kinds) == 2)
    reviewers = await CaseDecision.filter(case_id=case.id).values_list("reviewer_id", flat=True)
    assert len(set(reviewers)) == len(reviewers)


async def test_two_reviewers_claiming_at_once_one_gets_it(desk: Desk) -> None:
    case = await submitted_case(desk)
    results = await asyncio.gather(review.claim(desk.reviewer, case.id, LATER),
                                   review.claim(desk.second, case.id, LATER),
                                   return_exceptions=True)
    wins = [r for r in results if isinstance(r, Case)]
    assert len(wins) == 1
    [loss] = [r for r in results if isinstance(r, DomainError)]
    assert loss.key == "Case %(case_no)s is being reviewed by %(reviewer)s."
    assert await CaseEvent.filter(case_id=case.id, kind=CaseEventKind.CLAIMED).count() == 1


async def test_returned_case_is_corrected_and_resubmitted_as_revision_two(desk: Desk) -> None:
    case = await submitted_case(desk)
    await review.return_case(desk.reviewer, case.id, ["unclear_image", "portrait_mismatch"],
                             "", desk.ctx, retake_items=["onsite_with_agent"], now=LATER)
    assert [c.id for c in await case_summaries.returned_cases(desk.agent)] == [case.id]
    summary = await case_summaries.case_summary(desk.agent, case.id, desk.ctx)
    assert summary.retake_items == ("onsite_with_agent",)
    assert summary.missing_photo_kinds == (PhotoKind.ONSITE_WITH_AGENT,)
    refused = await refusal(cases.submit, desk.agent, case.id, desk.ctx, LATER)
    assert refused.params == {"kind": "onsite_with_agent"}
    refused = await refusal(retake, desk, case.id, PhotoKind.ID_FRONT, 77)
    assert refused.key == ("Case %(case_no)s was returned for correction: only the flagged "
                           "items can be redone.")
    with pytest.raises(DomainError):
        await cases.set_customer(desk.agent, case.id, "李四", ID_NUMBER, MOBILE, desk.ctx)
    await retake(desk, case.id, PhotoKind.ONSITE_WITH_AGENT, 78)
    summary = await case_summaries.case_summary(desk.agent, case.id, desk.ctx)
    assert summary.retaken_items == ("onsite_with_agent",) and summary.missing_photo_kinds == ()
    resubmitted = await cases.submit(desk.agent, case.id, desk.ctx, LATER)
    assert (resubmitted.status, resubmitted.revision) == (CaseStatus.SUBMITTED, 2)
    assert resubmitted.review_due_at == LATER + timedelta(minutes=20)
    assert resubmitted.claimed_by_id is None and resubmitted.retake_items == []  # type: ignore[attr-defined]
    photos = await CasePhoto.filter(case_id=case.id).order_by("id")
    assert [(p.kind.value, p.revision) for p in photos] == [
        ("id_front", 1), ("id_back", 1), ("onsite_with_agent", 1), ("onsite_with_agent", 2)]
    assert all(desk.ctx.media.read(p.sha256) for p in photos)
    summary = await case_summaries.case_summary(desk.reviewer, case.id, desk.ctx)
    assert summary.missing_photo_kinds == () and len(summary.photo_kinds) == 3
    again = [m for m in await messages_to(desk.reviewer) if "revision" in m.template]
    assert len(again) == 1 and again[0].params["revision"] == 2
    await seen(desk.reviewer, case.id)
    approved = await review.approve(desk.reviewer, case.id, desk.ctx, LATER)
    assert approved.status == CaseStatus.APPROVED
    revisions = await CaseDecision.filter(case_id=case.id).values_list("revision", flat=True)
    assert revisions == [1, 2]


async def test_flagged_customer_data_may_be_corrected_before_resubmission(desk: Desk) -> None:
    case = await submitted_case(desk)
    await review.return_case(desk.reviewer, case.id, ["customer_data_wrong"], "手机号错误",
                             desk.ctx, now=LATER)
    refused = await refusal(cases.submit, desk.agent, case.id, desk.ctx, LATER)
    assert refused.key == "Correct the customer's data before you submit the case again."
    await cases.set_customer(desk.agent, case.id, "张三", ID_NUMBER, "13912345678", desk.ctx)
    resubmitted = await cases.submit(desk.agent, case.id, desk.ctx, LATER)
    assert resubmitted.revision == 2
    summary = await case_summaries.case_summary(desk.reviewer, case.id, desk.ctx)
    assert summary.mobile_masked == "139****5678"


async def test_reviewer_notice_of_a_new_case_has_buttons_in_his_language(desk: Desk) -> None:
    await set_locale(desk.second, "en")
    case = await submitted_case(desk)
    [to_reviewer] = await messages_to(desk.reviewer)
    [to_second] = await messages_to(desk.second)
    assert to_reviewer.params["business_type"] == "借记卡开户"
    assert to_second.params["business_type"] == "Debit card opening"
    assert chat_buttons(to_second) == [  # Approve once the photos were opened (C6)
        [["Claim", f"rv:claim:{case.id}"], ["Return", f"rv:return:{case.id}"]],
        [["Open in web", f"/cases/{case.id}"]]]
    assert not await messages_to(desk.outsider)


async def test_case_page_shows_every_revision_and_the_timeline(desk: Desk) -> None:
    case = await submitted_case(desk)
    await review.return_case(desk.reviewer, case.id, ["portrait_mismatch"], "", desk.ctx,
                             now=LATER)
    await retake(desk, case.id, PhotoKind.ONSITE_WITH_AGENT, 90)
    await cases.submit(desk.agent, case.id, desk.ctx, LATER)
    detail = await case_file.case_detail(desk.second, case.id, desk.ctx)
    assert detail.summary.revision == 2 and detail.agent_name == "员工F001"
    assert [(p.kind, p.revision) for p in detail.photos][-1] == ("onsite_with_agent", 2)
    assert len(detail.photos) == 4
    assert [d.kind for d in detail.decisions] == ["return"]
    assert detail.decisions[0].reviewer_name == "审核甲"
    kinds = [e.kind for e in detail.events]
    assert kinds.count(CaseEventKind.SUBMITTED) == 2 and CaseEventKind.RETURNED in kinds
    assert await AuditLog.filter(action="case.view", actor_id=desk.second.staff_id).exists()
    with pytest.raises(NotFound):
        await case_file.case_detail(desk.outsider, case.id, desk.ctx)


async def test_photos_are_served_only_for_their_own_case_and_viewers(desk: Desk) -> None:
    case = await submitted_case(desk, seed=1)
    other = await submitted_case(desk, seed=2)
    sha = (await CasePhoto.filter(case_id=case.id).first()).sha256  # type: ignore[union-attr]
    assert (await case_file.photo_for(desk.reviewer, case.id, sha)).case_id == case.id  # type: ignore[attr-defined]
    assert (await case_file.photo_for(desk.agent, case.id, sha)).sha256 == sha
    for actor, case_id, name in ((desk.reviewer, other.id, sha),
                                 (desk.outsider, case.id, sha),
                                 (desk.reviewer, case.id, "../../etc/passwd"),
                                 (desk.reviewer, case.id, sha.upper()),
                                 (desk.reviewer, 999_999, sha)):
        with pytest.raises(NotFound) as missing:
            await case_file.photo_for(actor, case_id, name)
        assert missing.value.key == "No such photo."


async def test_standard_reasons_are_seeded_once(desk: Desk) -> None:
    assert await review_reasons.seed_default_reasons() == 0
    returns = await review_reasons.active_reasons(ReasonKind.RETURN)
    assert [r.code for r in returns][:2] == ["unclear_image", "incomplete_papers"]
    assert {r.code for r in await review_reasons.active_reasons(ReasonKind.REJECT)} == {
        "networked_check_failed", "customer_not_present", "identity_doubt", "other_reject"}
    customer = next(r for r in returns if r.code == "customer_data_wrong")
    assert customer.retake_items == ["customer"]
    await ReviewReason.filter(code="other_return").delete()
    assert await review_reasons.seed_default_reasons() == 1


async def test_migrate_adds_the_standard_reasons_once(database_url: str, tmp_path: Path) -> None:
    env = cli_env(database_url, tmp_path)
    first = await fieldops(env, "migrate", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "10 standard review reason(s) added" in first.stdout
    second = await fieldops(env, "migrate", cwd=tmp_path)
    assert "review reason" not in second.stdout
    assert await ReviewReason.all().count() == len(review_reasons.DEFAULT_REASONS)
