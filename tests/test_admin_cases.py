"""Central review in the admin web: queue, case page, decisions, photos, reasons (C6–C10, S2)."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from PIL import Image
from yarl import URL

from admin_web.app import AdminConfig
from domain.cases import business_types, cases, review, review_reasons, special
from domain.cases.business_types import BusinessTypeForm
from domain.cases.capture_gate import CaptureContext, WorkingHours
from domain.cases.review_reasons import ReasonForm
from domain.models import (
    AuditLog,
    Case,
    CaseDecision,
    CasePhoto,
    CaseStatus,
    DecisionKind,
    OutboxMessage,
    PhotoKind,
    ReasonKind,
    ReviewReason,
    Role,
    SpecialApproval,
    SpecialApprovalStatus,
    Staff,
)
from domain.platform import clock
from domain.platform.actors import Actor, actor_for
from tests.admin_support import admin_site, log_in, sent_back, submit, web_login, zh
from tests.case_support import ID_NUMBER, KINDS, MOBILE, World, bound_agent, noisy_jpeg, ready_draft
from tests.clock_support import SteadyClock
from tests.factories import capture_context, org_tree, person

ALWAYS = WorkingHours(weekdays=frozenset(range(7)), start=time(0, 0), end=time.max)
BLURRED, MISMATCH, CHECK_FAILED = "T_BLURRED", "T_MISMATCH", "T_CHECK_FAILED"
STAFF = (("R001", "branch_a", Role.REVIEWER), ("R002", "branch_a", Role.REVIEWER),
         ("R003", "branch_b", Role.REVIEWER), ("M001", "branch_a", Role.SUPERVISOR),
         ("M002", "branch_b", Role.SUPERVISOR), ("A001", "province", Role.AUDITOR),
         ("I001", "province", Role.IT_ADMIN))


@dataclass
class Desk:
    """Two branches with an agent each, reviewers, a supervisor, reasons and the admin config."""

    ids: dict[str, int]
    agent_a: Actor
    agent_b: Actor
    plain_type: int
    four_eyes_type: int
    ctx: CaptureContext
    config: AdminConfig


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001")
    plain = await business_types.create_business_type(
        ops, "DEBIT_CARD", BusinessTypeForm("借记卡开户", "Debit card opening", frozenset(KINDS)))
    four_eyes = await business_types.create_business_type(
        ops, "MOBILE_BANKING", BusinessTypeForm("手机银行转账签约", "Mobile banking transfers",
                                                frozenset(KINDS), four_eyes=True))
    for code, kind, name, items in (
        (BLURRED, ReasonKind.RETURN, "图像不清晰", {PhotoKind.ID_FRONT.value}),
        (MISMATCH, ReasonKind.RETURN, "人像不一致", {PhotoKind.ONSITE_WITH_AGENT.value}),
        (CHECK_FAILED, ReasonKind.REJECT, "联网核查未通过", set()),
    ):
        await review_reasons.create_reason(ops, code, kind, ReasonForm(
            name, f"{code} in English", frozenset(items)))
    for no, org, role in STAFF:
        await person(ids[org], role, no=no)
    ctx = capture_context(tmp_path / "media", hours=ALWAYS)
    return Desk(ids, await bound_agent(ids["outlet_a"], "F001"),
                await bound_agent(ids["outlet_b"], "F002"), plain.id, four_eyes.id, ctx,
                AdminConfig(secret_key="test-secret", capture=ctx))


async def staff_actor(no: str) -> Actor:
    """The actor of a staff member by employee number."""
    return await actor_for(await Staff.get(employee_no=no))


async def photo_sha(case: Case, kind: PhotoKind = PhotoKind.ID_FRONT) -> str:
    """The SHA-256 of a case's first photo of one kind."""
    photo = await CasePhoto.filter(case_id=case.id, kind=kind).order_by("id").first()
    assert photo is not None
    return photo.sha256


async def last_message_id() -> int:
    """The id of the newest outbox message, 0 when there is none."""
    last = await OutboxMessage.all().order_by("-id").first()
    return last.id if last else 0


async def submitted_case(desk: Desk, agent: Actor, seed: int, *, four_eyes: bool = False,
                         minutes_ago: float = 0) -> Case:
    """A complete case submitted by the agent `minutes_ago` minutes ago."""
    type_id = desk.four_eyes_type if four_eyes else desk.plain_type
    draft = await ready_draft(World(desk.ids, agent, type_id, desk.ctx), agent, seed)
    moment = clock.utcnow() - timedelta(minutes=minutes_ago)
    return await cases.submit(agent, draft.id, desk.ctx, moment)


@asynccontextmanager
async def session_of(desk: Desk, no: str) -> AsyncIterator[TestClient]:
    """A browser logged in as one staff member."""
    username = await web_login(no)
    async with admin_site(desk.config) as client:
        assert (await log_in(client, username)).url.path == "/"
        yield client


def jpeg_with_exif(seed: int) -> bytes:
    """A sharp photo carrying camera EXIF, as phones send them."""
    image = Image.open(io.BytesIO(noisy_jpeg(seed)))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "PhoneMaker", "PhoneModel"
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


async def test_queue_shows_own_subtree_oldest_first_with_time_left(
        desk: Desk, test_clock: SteadyClock) -> None:
    test_clock.stand_still()
    late = await submitted_case(desk, desk.agent_a, 1, minutes_ago=20.5)
    fresh = await submitted_case(desk, desk.agent_a, 2)
    other = await submitted_case(desk, desk.agent_b, 3)
    nearby = await submitted_case(desk, await bound_agent(desk.ids["sub_a"], "F003"), 4,
                                  four_eyes=True)
    async with session_of(desk, "R001") as client:
        page = await (await client.get("/cases")).text()
        overdue = await (await client.get("/cases?overdue=1")).text()
        by_agent = await (await client.get(f"/cases?agent_id={desk.agent_a.staff_id}")).text()
        by_org = await (await client.get(f"/cases?org_id={desk.ids['outlet_a']}")).text()
        by_type = await (await client.get(f"/cases?business_type_id={desk.four_eyes_type}")
                         ).text()
    assert all(case.case_no in page for case in (late, fresh, nearby))
    assert other.case_no not in page
    assert page.index(late.case_no) < page.index(fresh.case_no) < page.index(nearby.case_no)
    assert zh("overdue by %(minutes)s min", minutes=6) in page
    assert zh("%(minutes)s min left", minutes=15) in page
    assert late.case_no in overdue and fresh.case_no not in overdue
    assert late.case_no in by_agent and nearby.case_no not in by_agent
    assert late.case_no in by_org and nearby.case_no not in by_org
    assert nearby.case_no in by_type and late.case_no not in by_type


async def test_another_branchs_case_and_its_photos_are_refused(desk: Desk) -> None:
    other = await submitted_case(desk, desk.agent_b, 1)
    sha = await photo_sha(other)
    async with session_of(desk, "R001") as client:
        page = await client.get(f"/cases/{other.id}")
        text = await page.text()
        photo = await client.get(f"/cases/{other.id}/photos/{sha}")
        original = await client.get(f"/cases/{other.id}/photos/{sha}/original")
        claim = await submit(client, f"/cases/{other.id}/claim", {})
    assert page.status == 404 and "张三" not in text
    assert photo.status == original.status == 404
    assert claim.status == 404
    assert (await Case.get(id=other.id)).status == CaseStatus.SUBMITTED


async def test_claim_and_release_from_the_queue(desk: Desk) -> None:
    case = await submitted_case(desk, desk.agent_a, 1)
    async with session_of(desk, "R001") as first, session_of(desk, "R002") as second:
        claimed = await submit(first, f"/cases/{case.id}/claim", {}, page="/cases")
        claimed_text = await claimed.text()
        taken = await submit(second, f"/cases/{case.id}/claim", {}, page="/cases")
        taken_text = await taken.text()
        held_by = (await Case.get(id=case.id)).claimed_by_id  # type: ignore[attr-defined]
        released = await submit(first, f"/cases/{case.id}/release", {"next": "/cases"},
                                page=f"/cases/{case.id}")
        released_text = await released.text()
    r001 = await staff_actor("R001")
    assert claimed.url.path == f"/cases/{case.id}"
    assert zh("You claimed case %(case_no)s.", case_no=case.case_no) in claimed_text
    assert held_by == r001.staff_id
    assert "员工R001" in taken_text
    assert released.url.path == "/cases"
    assert zh("Case %(case_no)s is back in the queue.", case_no=case.case_no) in released_text
    after = await Case.get(id=case.id)
    assert after.status == CaseStatus.SUBMITTED and after.claimed_by_id is None  # type: ignore[attr-defined]


async def test_return_with_two_reasons_tells_the_agent_both(desk: Desk) -> None:
    case = await submitted_case(desk, desk.agent_a, 1)
    before = await last_message_id()
    async with session_of(desk, "R001") as client:
        page = await (await client.get(f"/cases/{case.id}")).text()
        response = await submit(client, f"/cases/{case.id}/return",
                                [("reasons", BLURRED), ("reasons", MISMATCH),
                                 ("note", "请重拍")], page=f"/cases/{case.id}")
        text = await response.text()
    assert "图像不清晰" in page and "人像不一致" in page and zh("Return for correction") in page
    assert response.url.path == f"/cases/{case.id}"
    assert zh("Case %(case_no)s returned to the agent.", case_no=case.case_no) in text
    assert "图像不清晰、人像不一致" in text
    decision = await CaseDecision.get(case_id=case.id)
    assert decision.kind == DecisionKind.RETURN
    assert sorted(decision.reason_codes) == [BLURRED, MISMATCH]
    assert set(decision.retake_items) == {PhotoKind.ID_FRONT.value,
                                          PhotoKind.ONSITE_WITH_AGENT.value}
    assert (await Case.get(id=case.id)).status == CaseStatus.RETURNED
    told = await OutboxMessage.filter(recipient_id=desk.agent_a.staff_id).order_by("-id").first()
    assert told is not None and told.id > before
    assert "图像不清晰" in told.params["reasons"] and "人像不一致" in told.params["reasons"]


async def test_ticked_items_to_retake_override_the_reasons_items(desk: Desk) -> None:
    case = await submitted_case(desk, desk.agent_a, 1)
    async with session_of(desk, "R001") as client:
        await submit(client, f"/cases/{case.id}/return",
                     [("reasons", BLURRED), ("retake_items", "customer"), ("note", "")])
    decision = await CaseDecision.get(case_id=case.id)
    assert decision.retake_items == ["customer"]


async def test_return_without_a_reason_is_refused_and_writes_nothing(desk: Desk) -> None:
    case = await submitted_case(desk, desk.agent_a, 1)
    async with session_of(desk, "R001") as client:
        response = await submit(client, f"/cases/{case.id}/return", {"note": "x"})
        text = await response.text()
    assert sent_back(response, f"/cases/{case.id}") and 'class="error"' in text
    assert not await CaseDecision.exists(case_id=case.id)
    assert (await Case.get(id=case.id)).status == CaseStatus.SUBMITTED


async def test_approve_tells_the_agent(desk: Desk) -> None:
    case = await submitted_case(desk, desk.agent_a, 1)
    before = await last_message_id()
    async with session_of(desk, "R001") as client:
        page = await (await client.get(f"/cases/{case.id}")).text()
        response = await submit(client, f"/cases/{case.id}/approve", {})
        text = await response.text()
    assert f">{zh('Approve')}</button>" in page
    assert zh("Case %(case_no)s approved.", case_no=case.case_no) in text
    assert (await Case.get(id=case.id)).status == CaseStatus.APPROVED
    assert await OutboxMessage.exists(recipient_id=desk.agent_a.staff_id, id__gt=before,
                                      template=review.APPROVED_TO_AGENT)


async def test_four_eyes_type_needs_a_second_reviewer(desk: Desk) -> None:
    case = await submitted_case(desk, desk.agent_a, 1, four_eyes=True)
    async with session_of(desk, "R001") as first, session_of(desk, "R002") as second:
        page = await (await first.get(f"/cases/{case.id}")).text()
        await submit(first, f"/cases/{case.id}/approve", {})
        middle = (await Case.get(id=case.id)).status
        again = await submit(first, f"/cases/{case.id}/approve", {}, page="/cases")
        queue = await (await second.get("/cases")).text()
        second_page = await (await second.get(f"/cases/{case.id}")).text()
        await submit(second, f"/cases/{case.id}/approve", {})
    assert zh("First approval") in page
    assert middle == CaseStatus.IN_REVIEW
    assert sent_back(again, f"/cases/{case.id}")
    assert zh("Awaiting second approval") in queue
    assert zh("Second approval (four eyes)") in second_page
    assert (await Case.get(id=case.id)).status == CaseStatus.APPROVED
    kinds = await CaseDecision.filter(case_id=case.id).values_list("kind", flat=True)
    assert sorted(kinds) == sorted([DecisionKind.FIRST_APPROVAL, DecisionKind.APPROVE])


async def test_reject_and_hold_record_their_decisions(desk: Desk) -> None:
    rejected = await submitted_case(desk, desk.agent_a, 1)
    held = await submitted_case(desk, desk.agent_a, 2)
    async with session_of(desk, "R001") as client:
        page = await (await client.get(f"/cases/{rejected.id}")).text()
        no_reason = await submit(client, f"/cases/{rejected.id}/reject", {"reason": ""})
        await submit(client, f"/cases/{rejected.id}/reject",
                     {"reason": CHECK_FAILED, "note": "核查不符"})
        response = await submit(client, f"/cases/{held.id}/hold", {"note": "核查系统故障"})
        text = await response.text()
    assert "联网核查未通过" in page
    assert sent_back(no_reason, f"/cases/{rejected.id}")
    assert (await Case.get(id=rejected.id)).status == CaseStatus.REJECTED
    decision = await CaseDecision.get(case_id=rejected.id)
    assert (decision.kind, decision.reason_codes, decision.note) == (
        DecisionKind.REJECT, [CHECK_FAILED], "核查不符")
    assert (await Case.get(id=held.id)).status == CaseStatus.ON_HOLD
    assert zh("Case %(case_no)s put on hold.", case_no=held.case_no) in text
    assert "核查系统故障" in text


async def test_second_decision_after_another_reviewer_is_refused(desk: Desk) -> None:
    case = await submitted_case(desk, desk.agent_a, 1)
    async with session_of(desk, "R001") as first, session_of(desk, "R002") as second:
        await second.get(f"/cases/{case.id}")
        await first.get(f"/cases/{case.id}")
        await submit(first, f"/cases/{case.id}/approve", {})
        late = await submit(second, f"/cases/{case.id}/reject", {"reason": CHECK_FAILED})
        text = await late.text()
    assert sent_back(late, f"/cases/{case.id}") and 'class="error"' in text
    assert (await Case.get(id=case.id)).status == CaseStatus.APPROVED
    assert await CaseDecision.filter(case_id=case.id).count() == 1


async def test_reviewers_see_no_decision_forms_for_supervisors(desk: Desk) -> None:
    case = await submitted_case(desk, desk.agent_a, 1)
    async with session_of(desk, "M001") as client:
        page = await (await client.get(f"/cases/{case.id}")).text()
        refused = await submit(client, f"/cases/{case.id}/approve", {})
    assert case.case_no in page and f'action="/cases/{case.id}/approve"' not in page
    assert refused.status == 403
    assert (await Case.get(id=case.id)).status == CaseStatus.SUBMITTED


async def test_photo_preview_is_smaller_and_has_no_exif(desk: Desk) -> None:
    draft = await ready_draft(World(desk.ids, desk.agent_a, desk.plain_type, desk.ctx),
                              desk.agent_a, 1)
    original = jpeg_with_exif(99)
    await cases.add_photo(desk.agent_a, draft.id, PhotoKind.ID_FRONT, original, "id.jpg",
                          "image/jpeg", desk.ctx)
    case = await cases.submit(desk.agent_a, draft.id, desk.ctx)
    sha = (await CasePhoto.filter(case_id=case.id).order_by("-id").first()).sha256  # type: ignore[union-attr]
    async with session_of(desk, "R001") as client:
        page = await (await client.get(f"/cases/{case.id}")).text()
        large = await client.get(f"/cases/{case.id}/photos/{sha}")
        large_body = await large.read()
        small = await client.get(f"/cases/{case.id}/photos/{sha}?size=small")
        small_body = await small.read()
    assert f"/cases/{case.id}/photos/{sha}?size=small" in page
    assert large.content_type == "image/jpeg"
    assert large.headers["Cache-Control"] == "private, no-store"
    assert Image.open(io.BytesIO(original)).getexif()
    assert not Image.open(io.BytesIO(large_body)).getexif()
    assert len(large_body) < len(original)
    assert max(Image.open(io.BytesIO(small_body)).size) == 480


async def test_original_photo_only_for_reveal_holders_and_audited(desk: Desk) -> None:
    case = await submitted_case(desk, desk.agent_a, 1)
    sha = await photo_sha(case)
    url = f"/cases/{case.id}/photos/{sha}/original"
    async with session_of(desk, "R001") as reviewer, session_of(desk, "M001") as supervisor:
        allowed = await reviewer.get(url)
        body = await allowed.read()
        refused = await supervisor.get(url)
    assert allowed.status == 200 and body == desk.ctx.media.read(sha)
    assert allowed.headers["Cache-Control"] == "private, no-store"
    assert allowed.headers["Content-Disposition"].startswith("attachment;")
    assert refused.status == 403
    rows = await AuditLog.filter(action="case.photo_original", object_id=str(case.id))
    assert len(rows) == 1 and rows[0].detail["sha256"] == sha


async def test_photo_names_other_than_a_sha256_are_not_found(desk: Desk) -> None:
    case = await submitted_case(desk, desk.agent_a, 1)
    names = ["../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd", "g" * 64,
             (await photo_sha(case)).upper(), "abc123"]
    async with session_of(desk, "R001") as client:
        statuses = {name: (await client.get(URL(f"/cases/{case.id}/photos/{name}",
                                                encoded=True))).status for name in names}
    assert statuses == dict.fromkeys(names, 404)


async def test_altered_evidence_raises_an_alarm(desk: Desk, caplog: pytest.LogCaptureFixture
                                               ) -> None:
    case = await submitted_case(desk, desk.agent_a, 1)
    sha = await photo_sha(case)
    stored = desk.ctx.media.root / sha[:2] / sha[2:4] / sha
    stored.chmod(0o644)
    stored.write_bytes(noisy_jpeg(42))
    async with session_of(desk, "R001") as client:
        with caplog.at_level(logging.ERROR):
            response = await client.get(f"/cases/{case.id}/photos/{sha}")
    assert response.status == 500
    assert "ALARM" in caplog.text and sha in caplog.text


async def test_reveal_shows_clear_data_once_and_is_audited(desk: Desk) -> None:
    case = await submitted_case(desk, desk.agent_a, 1)
    async with session_of(desk, "R001") as client:
        masked = await (await client.get(f"/cases/{case.id}")).text()
        revealed = await submit(client, f"/cases/{case.id}/reveal", {}, page=f"/cases/{case.id}")
        revealed_text = await revealed.text()
        later = await (await client.get(f"/cases/{case.id}")).text()
    assert ID_NUMBER not in masked and MOBILE not in masked
    assert zh("Reveal ID number and mobile") in masked
    assert ID_NUMBER in revealed_text and MOBILE in revealed_text
    assert revealed.headers["Cache-Control"] == "private, no-store"
    assert ID_NUMBER not in later
    assert await AuditLog.filter(action="case.customer_reveal", object_id=str(case.id)).count() == 1


async def test_reveal_is_refused_without_the_permission(desk: Desk) -> None:
    case = await submitted_case(desk, desk.agent_a, 1)
    async with session_of(desk, "M001") as client:
        page = await (await client.get(f"/cases/{case.id}")).text()
        refused = await submit(client, f"/cases/{case.id}/reveal", {})
        text = await refused.text()
    assert zh("Reveal ID number and mobile") not in page
    assert refused.status == 403 and ID_NUMBER not in text
    assert not await AuditLog.exists(action="case.customer_reveal")


async def test_review_reasons_are_kept_by_operations_management(desk: Desk) -> None:
    async with session_of(desk, "O001") as ops, session_of(desk, "R001") as reviewer:
        added = await submit(ops, "/review-reasons/new", [
            ("code", "form_missing"), ("kind", "return"), ("name_zh", "申请书缺失"),
            ("name_en", "Application form missing"), ("sort_order", "50"),
            ("retake_items", PhotoKind.SIGNED_FORM.value)], page="/review-reasons/new")
        row = await ReviewReason.get(code="FORM_MISSING")
        await submit(ops, f"/review-reasons/{row.id}", [
            ("name_zh", "申请书未签字"), ("name_en", "Application form not signed"),
            ("sort_order", "50"), ("retake_items", PhotoKind.SIGNED_FORM.value)])
        await submit(ops, f"/review-reasons/{row.id}/active", {"active": "0"})
        listing = await (await reviewer.get("/review-reasons")).text()
        refused = await submit(reviewer, "/review-reasons/new", {
            "code": "SNEAKY", "kind": "reject", "name_zh": "x", "name_en": "x",
            "sort_order": "1"})
    assert added.url.path == f"/review-reasons/{row.id}"
    assert "申请书未签字" in listing and "图像不清晰" in listing
    assert refused.status == 403 and not await ReviewReason.exists(code="SNEAKY")
    assert row.code not in {r.code for r in await review_reasons.active_reasons(ReasonKind.RETURN)}
    actions = await AuditLog.filter(object_type="review_reason", object_id=str(row.id)
                                    ).values_list("action", flat=True)
    assert list(actions) == ["review_reason.create", "review_reason.update",
                             "review_reason.deactivate"]


async def test_supervisor_decides_a_special_approval_of_his_branch(desk: Desk) -> None:
    now = clock.utcnow()
    request = await special.request_special(desk.agent_a, now + timedelta(hours=1),
                                            now + timedelta(hours=3), "客户住院，需上门")
    before = await last_message_id()
    async with (session_of(desk, "M001") as supervisor, session_of(desk, "M002") as other,
                session_of(desk, "A001") as auditor):
        other_page = await (await other.get("/special-approvals")).text()
        auditor_page = await (await auditor.get("/special-approvals")).text()
        page = await (await supervisor.get("/special-approvals?status=requested")).text()
        decided = await submit(supervisor, f"/special-approvals/{request.id}/decide",
                               {"decision": "approve", "note": "同意"},
                               page="/special-approvals")
        text = await decided.text()
        again = await submit(supervisor, f"/special-approvals/{request.id}/decide",
                             {"decision": "refuse", "note": ""}, page="/special-approvals")
        again_text = await again.text()
    form = f'action="/special-approvals/{request.id}/decide"'
    assert "客户住院" not in other_page
    assert "客户住院" in auditor_page and form not in auditor_page
    assert "客户住院" in page and form in page
    assert zh("Special approval granted.") in text
    assert zh("Special approval refused.") not in again_text
    row = await SpecialApproval.get(id=request.id)
    assert row.status == SpecialApprovalStatus.APPROVED and row.decision_note == "同意"
    assert await OutboxMessage.exists(recipient_id=desk.agent_a.staff_id, id__gt=before)


async def test_dashboard_shows_open_and_overdue_cases(desk: Desk) -> None:
    await submitted_case(desk, desk.agent_a, 1, minutes_ago=30)
    await submitted_case(desk, desk.agent_a, 2)
    await submitted_case(desk, desk.agent_b, 3)
    async with session_of(desk, "R001") as client:
        page = await (await client.get("/")).text()
    figures = dict((caption, figure) for figure, caption in re.findall(
        r'<span class="figure">([^<]*)</span>\s*<span class="caption">([^<]*)</span>', page))
    assert figures[zh("Open cases")] == "2" and figures[zh("Overdue cases")] == "1"
    assert 'class="card alert" href="/cases?overdue=1"' in page
    assert zh("Reviews within the time limit today") in page
