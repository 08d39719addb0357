"""The core loop end to end (issue 3): capture in Telegram → return in the web with two
reasons → retake one photo → resubmit → approve from a second reviewer's chat → agent told.

Everything runs for real: the python-telegram-bot application long-polls the fake Bot API,
the outbox dispatcher delivers through it, the admin site is served by aiohttp's test
server, and the database and the evidence store are checked after every step.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from admin_web.app import AdminConfig
from bot.dispatcher import OutboxDispatcher
from bot.telegram import TelegramBot
from domain.cases import business_types, review_reasons
from domain.cases.business_types import BusinessTypeForm
from domain.models import (
    Case,
    CaseDecision,
    CaseEvent,
    CaseEventKind,
    CasePhoto,
    CaseStatus,
    DecisionKind,
    OutboxMessage,
    OutboxStatus,
    PhotoKind,
    ReasonKind,
    Role,
    Staff,
)
from domain.platform.media import MediaStore
from tests.admin_support import admin_site, log_in, submit, web_login
from tests.bot_support import bound_agent
from tests.capture_support import ALWAYS, KINDS, TYPE, capture_to_summary
from tests.case_support import noisy_jpeg
from tests.chat_driver import Chat, Said, bot_config
from tests.factories import capture_context, flow_context, operational, org_tree, person
from tests.fake_telegram import FakeTelegram

AGENT, REVIEWER = 7301, 7302
PUBLIC_URL = "https://ops.example.com"


@dataclass
class Loop:
    """The running platform: fake Telegram, the bot with its dispatcher, and the admin site."""

    fake: FakeTelegram
    agent: Staff
    media: MediaStore
    admin: AdminConfig


@pytest.fixture
async def loop(database_url: str, tmp_path: Path) -> AsyncIterator[Loop]:
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O1")
    await business_types.create_business_type(
        ops, "DEBIT_CARD", BusinessTypeForm("借记卡开户", TYPE, KINDS))
    await review_reasons.seed_default_reasons()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1", name="陈展业")
    await bound_agent(agent, AGENT)
    await operational(agent)
    await person(ids["branch_a"], Role.REVIEWER, no="R1", name="周审核")
    second, _ = await person(ids["branch_a"], Role.REVIEWER, no="R2", name="何复核")
    await bound_agent(second, REVIEWER)
    media_root = tmp_path / "media"
    async with FakeTelegram() as fake:
        bot = TelegramBot(bot_config(fake), flow_context(media_root, PUBLIC_URL, hours=ALWAYS))
        await bot.start()
        dispatcher = OutboxDispatcher({"telegram": bot}, poll_seconds=0.05,
                                      backoff_seconds=0.05)
        task = asyncio.create_task(dispatcher.run_forever())
        try:
            yield Loop(fake, agent, MediaStore(media_root), AdminConfig(
                secret_key="loop", capture=capture_context(media_root, hours=ALWAYS)))
        finally:
            dispatcher.stop()
            await task
            await bot.stop()


async def told(fake: FakeTelegram, user: int, wanted: Callable[[str], bool]) -> Said:
    """Wait for the message to a chat whose text satisfies `wanted`; return it."""
    def found() -> Said | None:
        return next((Said.of(call) for call in fake.sent(user)
                     if call.method == "sendMessage" and wanted(call.params["text"])), None)

    await fake.wait_until(lambda: found() is not None)
    said = found()
    assert said is not None
    return said


async def photos_of(case: Case, media: MediaStore) -> list[tuple[int, str, bytes]]:
    """Revision, kind and stored bytes (hash checked) of every photo of a case, oldest first."""
    rows = await CasePhoto.filter(case_id=case.id).order_by("id")
    return [(p.revision, p.kind.value, media.read(p.sha256)) for p in rows]


async def test_capture_return_retake_and_approve_from_chat(loop: Loop) -> None:
    fake = loop.fake
    agent = Chat(fake, AGENT)
    await agent.press("lang:en")

    # 1. The agent captures a full case with three photos and submits it.
    summary = await capture_to_summary(agent, seed=10)
    submitted = await agent.press(summary.buttons["Submit"])
    case = await Case.get(agent_id=loop.agent.id)
    assert case.status == CaseStatus.SUBMITTED and case.revision == 1 and case.case_no
    assert submitted.text.startswith(f"Case {case.case_no} was submitted.")
    assert await photos_of(case, loop.media) == [
        (1, PhotoKind.ID_FRONT.value, noisy_jpeg(10)), (1, PhotoKind.ID_BACK.value,
                                                        noisy_jpeg(11)),
        (1, PhotoKind.ONSITE_WITH_AGENT.value, noisy_jpeg(12))]
    new_case = await told(fake, REVIEWER, lambda text: case.case_no in text)
    assert "审核通过" not in new_case.buttons  # not before the photos were opened (C6)
    assert new_case.buttons["领取"] == f"rv:claim:{case.id}"
    assert new_case.buttons["在网页中打开"] == f"{PUBLIC_URL}/cases/{case.id}"

    # 2. The first reviewer returns it in the web with two reasons; only the on-site photo
    #    is to be retaken.
    async with admin_site(loop.admin) as web:
        assert (await log_in(web, await web_login("R1"))).url.path == "/"
        response = await submit(web, f"/cases/{case.id}/return", [
            ("reasons", "unclear_image"), ("reasons", "portrait_mismatch"),
            ("retake_items", PhotoKind.ONSITE_WITH_AGENT.value),
            ("note", "现场照看不清客户面部")], page=f"/cases/{case.id}")
        assert response.status == 200 and response.url.path == f"/cases/{case.id}"
    case = await Case.get(id=case.id)
    assert case.status == CaseStatus.RETURNED
    assert case.retake_items == [PhotoKind.ONSITE_WITH_AGENT.value]
    decision = await CaseDecision.get(case_id=case.id)
    assert (decision.kind, sorted(decision.reason_codes)) == (
        DecisionKind.RETURN, ["portrait_mismatch", "unclear_image"])

    # 3. The agent is told both reasons and retakes the one flagged photo.
    returned = await told(fake, AGENT, lambda text: "returned for correction" in text)
    reasons = {r.code: r.name_en for r in await review_reasons.active_reasons(ReasonKind.RETURN)}
    assert reasons["unclear_image"] in returned.text
    assert reasons["portrait_mismatch"] in returned.text
    assert "现场照看不清客户面部" in returned.text
    retake = await agent.press(returned.buttons["Retake the flagged items"])
    assert "on-site photo" in retake.text
    again = await agent.photo(noisy_jpeg(20))
    assert "Everything is there" in again.text
    resubmitted = await agent.press(again.buttons["Submit"])
    assert resubmitted.text.startswith(f"Case {case.case_no} was submitted again as revision 2.")
    case = await Case.get(id=case.id)
    assert (case.status, case.revision, case.retake_items) == (CaseStatus.SUBMITTED, 2, [])
    stored = await photos_of(case, loop.media)
    assert len(stored) == 4  # revision 1 is kept (C9)
    assert stored[-1] == (2, PhotoKind.ONSITE_WITH_AGENT.value, noisy_jpeg(20))

    # 4. The second reviewer approves from his chat, through the resubmission notice.
    notice = await told(fake, REVIEWER, lambda text: "2" in text and case.case_no in text
                        and text != new_case.text)
    async with admin_site(loop.admin) as web:  # the case page shows the photos (C6)
        await log_in(web, await web_login("R2"))
        assert (await web.get(f"/cases/{case.id}")).status == 200
    claimed = await Chat(fake, REVIEWER).press(notice.buttons["领取"])
    await Chat(fake, REVIEWER).press(claimed.buttons["审核通过"])
    case = await Case.get(id=case.id)
    assert case.status == CaseStatus.APPROVED
    approval = await CaseDecision.get(case_id=case.id, kind=DecisionKind.APPROVE)
    assert (approval.revision, approval.reviewer_id) == (  # type: ignore[attr-defined]
        2, (await Staff.get(employee_no="R2")).id)

    # 5. The agent gets the approval with the case number.
    approved = await told(fake, AGENT, lambda text: "has been approved" in text)
    assert case.case_no in approved.text
    kinds = [e.kind for e in await CaseEvent.filter(case_id=case.id).order_by("id")]
    assert kinds[-1] == CaseEventKind.APPROVED and CaseEventKind.RETURNED in kinds
    chat_users = [loop.agent.id, (await Staff.get(employee_no="R2")).id]
    assert not await OutboxMessage.filter(status=OutboxStatus.DEAD,
                                          recipient_id__in=chat_users).exists()
