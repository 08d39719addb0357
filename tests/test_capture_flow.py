"""The capture wizard in Telegram (issue 3): /new to Submit, bad input, Back, /cancel, /resume,
restarts, redelivered updates and the retake after a return (C1–C5, C7–C11)."""

from __future__ import annotations

import asyncio
import io
import json
import random
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image

from bot.telegram import TelegramBot
from domain.cases import case_summaries, cases, review, review_reasons
from domain.cases.capture_gate import LocationMode
from domain.cases.case_numbers import CASE_NO
from domain.ledgers import qualifications
from domain.models import (
    BusinessType,
    Case,
    CasePhoto,
    CaseStatus,
    ChatSession,
    PhotoKind,
    ProcessedUpdate,
    Qualification,
    Role,
)
from domain.platform import chat as chat_sessions
from domain.platform.actors import actor_for
from domain.platform.identity import resident_id_check_digit
from domain.platform.images import MIB
from domain.platform.media import MediaStore
from tests.bot_support import bound_agent, dispatching
from tests.capture_support import (
    ALWAYS,
    BACK_PROMPT,
    FRONT_PROMPT,
    ID_NUMBER,
    ID_PROMPT,
    LOCATION_PROMPT,
    MOBILE,
    MOBILE_PROMPT,
    NAME_PROMPT,
    ONSITE_PROMPT,
    RISK_BUTTON,
    TYPE,
    capture_to_summary,
    enter_customer,
    start_case,
)
from tests.case_support import noisy_jpeg
from tests.chat_driver import Chat, Said, running_bot
from tests.factories import ROOT, capture_context, operational, person
from tests.fake_telegram import FakeTelegram
from tests.telegram_support import AGENT, Desk, capture_desk

STALE = "This button is no longer valid."


pytestmark = pytest.mark.bot_world("desk")


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    return await capture_desk(tmp_path)


def small_jpeg(side: int) -> bytes:
    """A sharp noise JPEG of side×side pixels."""
    rng = random.Random(side)
    out = io.BytesIO()
    Image.frombytes("L", (side, side), bytes(rng.randrange(40, 216) for _ in range(side * side))
                    ).save(out, format="JPEG")
    return out.getvalue()


async def only_case(desk: Desk) -> Case:
    return await Case.get(agent_id=desk.agent.id, status__not=CaseStatus.CANCELLED)


async def test_agent_captures_a_full_case_with_photos_and_submits_it(
    chat: Chat, desk: Desk, fake: FakeTelegram
) -> None:
    summary = await capture_to_summary(chat)
    assert "110105********002X" in summary.text and "138****5678" in summary.text
    assert "31.23040, 121.47370" in summary.text
    assert "Everything is there. Check it and press Submit." in summary.text
    assert {"Change: Customer data (name, ID number, mobile)", "Change: Location of the visit",
            "Change: ID card, portrait side", "Submit", "« Back"} <= summary.buttons.keys()
    submitted = await chat.press(summary.buttons["Submit"])
    case = await only_case(desk)
    assert case.status == CaseStatus.SUBMITTED and case.case_no is not None
    assert CASE_NO.fullmatch(case.case_no)
    assert submitted.text.startswith(f"Case {case.case_no} was submitted. A reviewer will "
                                     "decide it by ")
    photos = await CasePhoto.filter(case_id=case.id).order_by("id")
    assert [p.kind for p in photos] == [PhotoKind.ID_FRONT, PhotoKind.ID_BACK,
                                        PhotoKind.ONSITE_WITH_AGENT]
    assert (photos[1].original_name, photos[1].content_type) == ("back.jpg", "image/jpeg")
    store = MediaStore(desk.media_root)
    assert [store.read(p.sha256) for p in photos] == [noisy_jpeg(0), noisy_jpeg(1), noisy_jpeg(2)]
    assert (case.latitude, case.longitude) == (31.2304, 121.4737)
    assert not any(ID_NUMBER in text or MOBILE in text for text in fake.texts(AGENT))


async def test_customer_data_is_checked_field_by_field_with_the_precise_fault(
    chat: Chat, desk: Desk
) -> None:
    await start_case(chat)
    assert (await chat.say("张")).text == f"The name must have 2 to 50 characters.\n\n{NAME_PROMPT}"
    await chat.say("张三")
    future = "11010520991231002"
    refusals = {
        "110105194912310021": "The check digit of this ID number is wrong. Please check the "
                              "number.",
        future + resident_id_check_digit(future):
            "The birth date in this ID number (2099-12-31) is in the future.",
        "110105194902300021": "The birth date in this ID number (1949-02-30) is not a real date.",
        "000000194912310021": "The region code of this ID number (the first 6 digits) is "
                              "invalid.",
        "1101051949": "The ID number must have 18 characters; you sent 10.",
    }
    for number, fault in refusals.items():
        assert (await chat.say(number)).text == f"{fault}\n\n{ID_PROMPT}"
    session = await ChatSession.get(external_user_id=str(AGENT))
    assert session.step == "capture_id_number"
    assert MOBILE_PROMPT in (await chat.say(ID_NUMBER)).text
    assert ID_NUMBER not in json.dumps((await ChatSession.get(id=session.id)).data)
    said = await chat.say("12345678901")
    assert said.text == f"A mainland mobile number starts with 13 to 19.\n\n{MOBILE_PROMPT}"
    assert LOCATION_PROMPT in (await chat.say(MOBILE)).text
    case = await only_case(desk)
    assert case.customer_name == "张三" and case.id_number_enc and ID_NUMBER not in str(
        case.id_number_enc)


async def test_bad_uploads_are_refused_with_the_reason_and_the_same_photo_asked_again(
    chat: Chat, desk: Desk, fake: FakeTelegram
) -> None:
    await start_case(chat)
    await enter_customer(chat)
    await chat.location(31.2, 121.4)
    expected = "A photo is expected here."
    assert (await chat.say("the customer is on his way")).text.startswith(expected)
    assert FRONT_PROMPT in (await chat.location(31.2, 121.4)).text
    renamed = await chat.file(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n", "id.jpg",
                              "image/jpeg")
    assert renamed.text.startswith("This file is not a photo we can read. Please send a JPEG, "
                                   "PNG or WEBP photo.")
    big = fake.document(AGENT, noisy_jpeg(1), "huge.jpg", "image/jpeg", file_size=30 * MIB)
    said = await chat.send(big)
    assert said.text.startswith("The photo is too large: at most 20 MB is allowed.")
    assert fake.downloads(big["message"]["document"]["file_id"]) == 0
    tiny = await chat.photo(small_jpeg(200), width=200, height=200)
    assert tiny.text.startswith("The photo is too small: 200×200 pixels; at least 800×600 are "
                                "needed.")
    for refusal in (renamed, said, tiny):
        assert FRONT_PROMPT in refusal.text
    assert not await CasePhoto.exists()
    assert BACK_PROMPT in (await chat.photo(noisy_jpeg(2))).text
    assert await CasePhoto.filter(kind=PhotoKind.ID_FRONT).count() == 1


async def test_random_foreign_and_stale_buttons_are_refused(chat: Chat, desk: Desk) -> None:
    for data in ("cap:zzz:1", "cap:submit:abc", "cap:submit:1:x:y", "cap:", "cap:back:0:x",
                 "garbage"):
        assert (await chat.press(data)).text == STALE
    other, other_actor = await person(desk.ids["outlet_a"], Role.FIELD_AGENT, no="F2")
    await bound_agent(other, AGENT + 1)
    await operational(other)
    foreign = await cases.start_draft(other_actor, (await BusinessType.get(code="DEBIT_CARD")).id,
                                      capture_context(desk.media_root, hours=ALWAYS))
    assert (await chat.press(f"cap:edit:{foreign.id}:customer")).text == (
        "You do not have permission for this action.")
    assert (await chat.press(f"cap:submit:{foreign.id}")).text == (
        "Only the field agent who captured this case may change it.")
    summary = await capture_to_summary(chat)
    submitted = await chat.press(summary.buttons["Submit"])
    case_no = CASE_NO.search(submitted.text)
    assert case_no is not None
    already = f"Case {case_no[0]} has already been submitted and can no longer be changed."
    assert (await chat.press(summary.buttons["Submit"])).text == already
    assert (await chat.press(summary.buttons["Change: ID card, portrait side"])).text == already
    assert (await chat.press(summary.buttons["« Back"])).text == STALE
    assert await Case.filter(status=CaseStatus.SUBMITTED).count() == 1


async def test_back_returns_to_the_previous_step(chat: Chat, desk: Desk) -> None:
    name = await start_case(chat)
    discarded = await chat.press(name.buttons["« Back"])
    assert discarded.text.startswith("The empty draft was discarded.")
    assert await Case.filter(status=CaseStatus.CANCELLED).count() == 1
    await chat.press(discarded.buttons[TYPE])
    id_prompt = await chat.say("张三")
    assert NAME_PROMPT in (await chat.press(id_prompt.buttons["« Back"])).text
    await chat.say("李四")
    mobile = await chat.say(ID_NUMBER)
    assert ID_PROMPT in (await chat.press(mobile.buttons["« Back"])).text
    await chat.say(ID_NUMBER)
    location = await chat.say(MOBILE)
    assert MOBILE_PROMPT in (await chat.press(location.buttons["« Back"])).text
    front = await chat.press((await chat.say(MOBILE)).buttons["Skip"])
    assert FRONT_PROMPT in front.text
    assert LOCATION_PROMPT in (await chat.press(front.buttons["« Back"])).text
    await chat.location(31.2, 121.4)
    back = await chat.photo(noisy_jpeg(1))
    assert FRONT_PROMPT in (await chat.press(back.buttons["« Back"])).text
    assert (await chat.press(back.buttons["« Back"])).text == STALE
    assert BACK_PROMPT in (await chat.photo(noisy_jpeg(2))).text
    case = await only_case(desk)
    assert case.customer_name == "李四"
    assert await CasePhoto.filter(case_id=case.id, kind=PhotoKind.ID_FRONT).count() == 2


async def test_cancel_ends_the_draft_and_says_when_there_is_nothing_to_cancel(
    chat: Chat, desk: Desk
) -> None:
    assert (await chat.say("/cancel")).text == "There is nothing to cancel."
    helped = await chat.say("/help")
    types = await chat.press(helped.buttons["New case"])
    assert (await chat.cancel()).text == "There is nothing to cancel."
    assert (await chat.press(types.buttons[TYPE])).text == STALE
    await start_case(chat)
    said = await chat.say("张三")
    assert (await chat.cancel()).text == (
        "The draft was cancelled; nothing of it will be submitted.")
    assert (await Case.get(agent_id=desk.agent.id)).status == CaseStatus.CANCELLED
    assert (await chat.say("/cancel")).text == "There is nothing to cancel."
    assert (await chat.press(said.buttons["« Back"])).text == STALE
    assert (await chat.say("/resume")).text == "You have no open drafts and no returned cases."
    assert (await chat.say("王五")).text.startswith("I did not understand that.")


async def test_optional_location_can_be_skipped_and_the_summary_lists_what_is_missing(
    chat: Chat, desk: Desk
) -> None:
    await start_case(chat)
    front = await chat.press((await enter_customer(chat)).buttons["Skip"])
    assert FRONT_PROMPT in front.text
    await chat.photo(noisy_jpeg(1))
    case = await only_case(desk)
    assert FRONT_PROMPT in (await chat.press(f"cap:edit:{case.id}:id_front")).text
    assert LOCATION_PROMPT in (await chat.press(f"cap:back:{case.id}:id_front")).text
    await chat.press(f"cap:edit:{case.id}:customer")
    summary = await chat.press(f"cap:back:{case.id}:capture_name")
    assert summary.text.endswith(
        "Still missing:\n• The photo of the ID card national emblem side is still missing.\n"
        "• The on-site photo of you with the customer is still missing.\n"
        "• Confirm that you gave the customer the risk hints before submitting.")
    assert "Location: –" in summary.text
    refused = await chat.press(summary.buttons["Submit"])
    assert refused.text == "The photo of the ID card national emblem side is still missing."
    listing, _ = await chat.aside("/resume")
    resumed = await chat.press(next(iter(listing.buttons.values())))
    assert resumed.text.startswith("Let us continue this draft.")
    assert BACK_PROMPT in resumed.text and LOCATION_PROMPT not in resumed.text


async def test_location_off_is_never_asked_and_required_cannot_be_skipped(
    database_url: str, desk: Desk, fake: FakeTelegram
) -> None:
    chat = Chat(fake, AGENT)
    async with running_bot(fake, desk.media_root, hours=ALWAYS,
                           location_mode=LocationMode.OFF):
        await chat.press("lang:en")
        await start_case(chat)
        assert FRONT_PROMPT in (await enter_customer(chat)).text
        await chat.cancel()
    async with running_bot(fake, desk.media_root, hours=ALWAYS,
                           location_mode=LocationMode.REQUIRED):
        await start_case(chat)
        asked = await enter_customer(chat)
        assert "Skip" not in asked.buttons and LOCATION_PROMPT in asked.text
        case = await only_case(desk)
        assert (await chat.press(f"cap:skip:{case.id}")).text == STALE
        assert (await chat.say("here")).text.startswith(
            "Please share the location from the attachment menu.")


async def test_a_restart_mid_capture_loses_nothing_and_resume_continues(
    bot: TelegramBot, chat: Chat, desk: Desk, fake: FakeTelegram
) -> None:
    await start_case(chat)
    await enter_customer(chat)
    await chat.location(31.2, 121.4)
    await chat.photo(noisy_jpeg(1))
    await bot.stop()
    async with running_bot(fake, desk.media_root, hours=ALWAYS):
        onsite = await chat.file(noisy_jpeg(2), "emblem.png", "image/jpeg")
        assert ONSITE_PROMPT in onsite.text
    async with running_bot(fake, desk.media_root, hours=ALWAYS):
        listing, _ = await chat.aside("/resume")
        assert listing.text == "Which case do you want to continue?"
        (label, data), = listing.buttons.items()
        assert label.startswith(f"Draft {TYPE} – 张三 – ")
        assert ONSITE_PROMPT in (await chat.press(data)).text
        risk = await chat.photo(noisy_jpeg(3))
        summary = await chat.press(risk.buttons[RISK_BUTTON])
        assert "was submitted" in (await chat.press(summary.buttons["Submit"])).text
    assert (await only_case(desk)).status == CaseStatus.SUBMITTED


async def twice(fake: FakeTelegram, update: dict) -> None:
    """Deliver one update twice in a row and wait for the answer to the first."""
    before = len(fake.sent(AGENT))
    fake.push(update, update)
    await fake.wait_until(lambda: len(fake.sent(AGENT)) > before)


async def test_the_same_update_delivered_twice_creates_nothing_twice(
    chat: Chat, desk: Desk, fake: FakeTelegram
) -> None:
    types = await chat.say("/new")
    await twice(fake, fake.button(AGENT, types.buttons[TYPE]))
    await enter_customer(chat)
    await chat.location(31.2, 121.4)
    await twice(fake, fake.photo(AGENT, noisy_jpeg(1)))
    assert (await chat.say("/help")).text.startswith("Commands:")
    assert await Case.all().count() == 1
    assert await CasePhoto.all().count() == 1
    assert sum(text.startswith("Photo received.") for text in fake.texts(AGENT)) == 1


async def test_returned_case_is_retaken_item_by_item_and_resubmitted_as_revision_2(
    bot: TelegramBot, chat: Chat, desk: Desk, fake: FakeTelegram
) -> None:
    summary = await capture_to_summary(chat)
    await chat.press(summary.buttons["Submit"])
    case = await only_case(desk)
    _, reviewer = await person(desk.ids["branch_a"], Role.REVIEWER, no="R1")
    await review_reasons.seed_default_reasons()
    await review.claim(reviewer, case.id)
    await review.return_case(reviewer, case.id, ["unclear_image"], "emblem side is blurred",
                             capture_context(desk.media_root), retake_items=["customer",
                                                                             "id_back"])

    def notice() -> Said | None:
        return next((Said.of(call) for call in fake.sent(AGENT)
                     if "was returned for correction.\nReasons:" in call.params["text"]), None)

    async def told() -> bool:
        return notice() is not None

    await dispatching(bot, told)
    returned = notice()
    assert returned is not None and "emblem side is blurred" in returned.text
    listing = await chat.say("/resume")
    assert listing.buttons == {f"{case.case_no} {TYPE} – returned": f"cap:resume:{case.id}"}
    retake = await chat.press(returned.buttons["Retake the flagged items"])
    assert retake.text.startswith(
        f"Case {case.case_no} was returned for correction. Please redo: Customer data (name, "
        "ID number, mobile), ID card, national emblem side.")
    assert NAME_PROMPT in retake.text
    await enter_customer(chat)
    assert (await chat.say("here")).text.startswith("A photo is expected here.")
    summary = await chat.photo(noisy_jpeg(7))
    assert "returned for correction" in summary.text and "Everything is there" in summary.text
    assert set(summary.buttons) == {"Change: Customer data (name, ID number, mobile)",
                                    "Change: ID card, national emblem side", "Submit", "« Back"}
    resubmitted = await chat.press(summary.buttons["Submit"])
    assert resubmitted.text.startswith(
        f"Case {case.case_no} was submitted again as revision 2.")
    again = await Case.get(id=case.id)
    assert (again.status, again.revision) == (CaseStatus.SUBMITTED, 2)
    backs = await CasePhoto.filter(case_id=case.id, kind=PhotoKind.ID_BACK).order_by("id")
    assert [(p.revision, MediaStore(desk.media_root).read(p.sha256)) for p in backs] == [
        (1, noisy_jpeg(1)), (2, noisy_jpeg(7))]
    assert (await chat.press(returned.buttons["Retake the flagged items"])).text == (
        f"Case {case.case_no} has already been submitted and can no longer be changed.")


async def test_resume_keeps_every_answer_and_asks_the_first_one_missing(
    chat: Chat, desk: Desk
) -> None:
    await start_case(chat)
    assert ID_PROMPT in (await chat.say("阿卜杜拉・买买提")).text
    listing, again = await chat.aside("/resume")
    (label, data), = listing.buttons.items()
    assert label.startswith(f"Draft {TYPE} – 阿卜杜拉·买买提 – ")
    assert ID_PROMPT in again.text
    assert ID_PROMPT in (await chat.press(data)).text
    assert MOBILE_PROMPT in (await chat.say("１１０１０５１９４９１２３１００２ｘ")).text
    location = await chat.say("+86 138-1234-5678")
    assert FRONT_PROMPT in (await chat.press(location.buttons["Skip"])).text
    await chat.aside("/resume")
    resumed = await chat.press(data)
    assert FRONT_PROMPT in resumed.text and LOCATION_PROMPT not in resumed.text
    case = await only_case(desk)
    assert (case.customer_name, case.location_skipped, case.customer_answers) == (
        "阿卜杜拉·买买提", True, {})
    summary = await case_summaries.case_summary(await actor_for(desk.agent), case.id,
                                                capture_context(desk.media_root))
    assert (summary.id_number_masked, summary.mobile_masked) == ("110105********002X",
                                                                "138****5678")


async def test_submit_in_chat_is_refused_with_the_gates_reason_once_the_agent_is_suspended(
    chat: Chat, desk: Desk
) -> None:
    summary = await capture_to_summary(chat)
    [qualification] = await Qualification.filter(staff_id=desk.agent.id)
    await qualifications.suspend(ROOT, qualification.id, "凭证遗失，待整改")
    refused = await chat.press(summary.buttons["Submit"])
    assert refused.text == ("Your qualification for Debit card opening is suspended: "
                            "凭证遗失，待整改.")
    assert (await only_case(desk)).status == CaseStatus.DRAFT


async def test_back_to_the_id_number_of_entered_customer_data_changes_only_it(
    chat: Chat, desk: Desk
) -> None:
    await start_case(chat)
    location = await enter_customer(chat)
    mobile = await chat.press(location.buttons["« Back"])
    assert MOBILE_PROMPT in mobile.text
    assert ID_PROMPT in (await chat.press(mobile.buttons["« Back"])).text
    assert MOBILE_PROMPT in (await chat.say("110105194912310038")).text
    assert LOCATION_PROMPT in (await chat.say("13900001111")).text
    case = await only_case(desk)
    summary = await case_summaries.case_summary(await actor_for(desk.agent), case.id,
                                                capture_context(desk.media_root))
    assert (case.customer_name, summary.id_number_masked, summary.mobile_masked) == (
        "张三", "110105********0038", "139****1111")


async def test_a_photo_that_cannot_be_downloaded_is_asked_for_again(
    chat: Chat, fake: FakeTelegram
) -> None:
    await start_case(chat)
    assert LOCATION_PROMPT in (await enter_customer(chat)).text
    assert FRONT_PROMPT in (await chat.location(31.2304, 121.4737)).text
    fake.fail_next("getFile", status=400)
    said = await chat.photo(noisy_jpeg(8))
    assert said.text.startswith("I could not download this file. Please send it again.")
    assert FRONT_PROMPT in said.text and not await CasePhoto.exists()
    assert BACK_PROMPT in (await chat.photo(noisy_jpeg(8))).text


class WritingTelegram(FakeTelegram):
    """A fake Bot API that serves a file only once another task has written to the database:
    on SQLite that write waits for any open transaction, so a download made inside the
    update's transaction never completes."""

    async def _download(self, request: web.Request) -> web.Response:
        async with asyncio.timeout(3):
            assert await chat_sessions.claim_update("probe", f"download {len(self.calls)}")
        return await super()._download(request)


async def test_a_photo_is_downloaded_before_the_update_transaction_opens(desk: Desk) -> None:
    async with WritingTelegram() as fake, running_bot(fake, desk.media_root, hours=ALWAYS):
        chat = Chat(fake, AGENT)
        await chat.press("lang:en")
        await start_case(chat)
        assert LOCATION_PROMPT in (await enter_customer(chat)).text
        assert FRONT_PROMPT in (await chat.location(31.2304, 121.4737)).text
        assert BACK_PROMPT in (await chat.photo(noisy_jpeg(7))).text
    assert await ProcessedUpdate.filter(channel="probe").count() == 1
    assert [photo.kind for photo in await CasePhoto.all()] == [PhotoKind.ID_FRONT]
