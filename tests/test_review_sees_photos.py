"""Reviewers see before they approve (issue 16, C6): a reviewer approves a revision only once
he opened its photos, the case page being where he sees them, in chat as in the web."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.flows import Reply
from domain.cases import case_file, cases, review, review_photos
from domain.models import Case, CaseDecision, CaseStatus, PhotoKind, Staff
from domain.platform.actors import Actor
from tests.admin_support import admin_site, log_in, site_config, submit, web_login, zh
from tests.case_support import refusal
from tests.chat_support import RouterChat, bind, chat_router
from tests.outbox_support import chat_buttons
from tests.review_support import Desk, build_desk, messages_to, retake, submitted_case

PHOTOS_FIRST = review_photos.PHOTOS_FIRST


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    return await build_desk(tmp_path)


async def opens_case_page(desk: Desk, reviewer: Actor, case_id: int) -> None:
    """What the web case page does when a reviewer opens it."""
    await case_file.case_detail(reviewer, case_id, desk.ctx)


def labels(replies: list[Reply]) -> dict[str, str]:
    """The buttons of the last reply: label → data."""
    return {label: data for row in replies[-1].buttons for label, data in row}


async def test_approve_is_refused_until_the_reviewer_opened_the_photos(desk: Desk) -> None:
    case = await submitted_case(desk)
    refused = await refusal(review.approve, desk.reviewer, case.id, desk.ctx)
    assert (refused.key, refused.params) == (PHOTOS_FIRST, {"case_no": case.case_no})
    assert not await CaseDecision.exists()
    await opens_case_page(desk, desk.second, case.id)  # another reviewer's look does not count
    assert (await refusal(review.approve, desk.reviewer, case.id, desk.ctx)).key == PHOTOS_FIRST
    await opens_case_page(desk, desk.reviewer, case.id)
    approved = await review.approve(desk.reviewer, case.id, desk.ctx)
    assert approved.status == CaseStatus.APPROVED


async def test_a_new_revision_must_be_opened_again(desk: Desk) -> None:
    case = await submitted_case(desk)
    await opens_case_page(desk, desk.reviewer, case.id)
    await review.return_case(desk.reviewer, case.id, ["unclear_image"], "", desk.ctx,
                             retake_items=[PhotoKind.ONSITE_WITH_AGENT.value])
    await retake(desk, case.id, PhotoKind.ONSITE_WITH_AGENT, 9)
    await cases.submit(desk.agent, case.id, desk.ctx)
    assert (await refusal(review.approve, desk.reviewer, case.id, desk.ctx)).key == PHOTOS_FIRST
    await opens_case_page(desk, desk.reviewer, case.id)
    assert (await review.approve(desk.reviewer, case.id, desk.ctx)).revision == 2


async def test_chat_offers_approve_only_after_the_photos_were_opened(
    desk: Desk, tmp_path: Path
) -> None:
    case = await submitted_case(desk)
    [notice] = await messages_to(desk.reviewer)
    assert "rv:approve" not in str(chat_buttons(notice))
    await bind(await Staff.get(id=desk.reviewer.staff_id), "tgR001")
    reviewer = RouterChat(chat_router(tmp_path, "en"), "tgR001")
    claimed = await reviewer.press(f"rv:claim:{case.id}")
    buttons = labels(claimed)
    assert "Approve" not in buttons and buttons["View photos"] == f"/cases/{case.id}"
    assert "View photos" in claimed[-1].text
    refused = await reviewer.press(f"rv:approve:{case.id}")  # an old Approve button
    assert refused[-1].text.startswith(f"Open the photos of case {case.case_no}")
    assert (await CaseDecision.filter(case_id=case.id).count()) == 0
    await opens_case_page(desk, desk.reviewer, case.id)
    looked = labels(await reviewer.press(buttons["I have looked"]))
    assert looked["Approve"] == f"rv:approve:{case.id}" and "View photos" not in looked
    approved = await reviewer.press(looked["Approve"])
    assert approved[-1].text.startswith(f"Case {case.case_no} approved.")


async def test_opening_the_case_page_in_the_web_counts_as_viewing(desk: Desk,
                                                                  tmp_path: Path) -> None:
    unseen, seen = await submitted_case(desk, seed=1), await submitted_case(desk, seed=2)
    async with admin_site(site_config(tmp_path / "media")) as client:
        assert (await log_in(client, await web_login("R001"))).url.path == "/"
        refused = await submit(client, f"/cases/{unseen.id}/approve", {},
                               page=f"/cases/{seen.id}")
        assert zh(PHOTOS_FIRST, case_no=unseen.case_no) in await refused.text()
        await submit(client, f"/cases/{seen.id}/approve", {}, page=f"/cases/{seen.id}")
    assert await CaseDecision.filter(case_id=unseen.id).count() == 0
    assert (await Case.get(id=seen.id)).status == CaseStatus.APPROVED
