"""The browser chat does what a browser can (issue 16): a page of the latest lines with the
earlier ones on demand, lines pushed in without a reload, a photo caption, the location."""

from __future__ import annotations

from pathlib import Path

from bot.dispatcher import OutboxDispatcher
from bot.webchat import WebChat
from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.models import Case, Device, Role, Voucher
from domain.platform import outbox, webchat
from domain.platform.intents import Intent
from domain.vouchers import tail_boxes, voucher_stock
from domain.vouchers.voucher_stock import VoucherTypeForm
from locales import translate
from tests.browser_chat_support import POLL_WAIT_MS, chat_in_browser, send, send_photo, tap
from tests.case_support import ID_NUMBER, KINDS, noisy_jpeg
from tests.factories import ROOT, flow_context, operational, org_tree, web_user
from tests.voucher_support import CARD_PATTERN, card


async def test_the_chat_shows_the_last_50_lines_and_the_earlier_ones_on_demand(
        database_url: str, chromium: str, tmp_path: Path) -> None:
    ids = await org_tree()
    agent, username = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    await webchat.bind_web_chat(agent.id)  # no pledge lines: the transcript is the 60 below
    for number in range(1, 61):
        await webchat.record(agent.id, number % 2 == 0, f"line {number}")
    async with chat_in_browser(chromium, tmp_path, username) as page:
        bubbles = page.locator("#chat .bubble")
        first_page = await bubbles.count()
        first_shown = await bubbles.first.inner_text()
        await page.click("#chat [data-earlier]")
        await bubbles.nth(59).wait_for(timeout=POLL_WAIT_MS)
        texts = [text.splitlines()[0] for text in await bubbles.all_inner_texts()]
        links_left = await page.locator("#chat [data-earlier]").count()
        url = page.url
    assert first_page == 50 and first_shown.startswith("line 11")
    assert texts == [f"line {number}" for number in range(1, 61)]
    assert links_left == 0 and url.endswith("/chat")  # loaded in place, nothing left before


async def test_a_pushed_line_appears_while_a_half_typed_message_stays(
        database_url: str, chromium: str, tmp_path: Path) -> None:
    ids = await org_tree()
    agent, username = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    async with chat_in_browser(chromium, tmp_path, username) as page:
        box = page.locator("form.chat-text input[name=text]")
        await box.fill("half typ")
        await outbox.enqueue(agent.id, "%(actor)s changed your roles. Send /whoami to see them.",
                             {"actor": "S001 张伟"}, idempotency_key="roles:1",
                             intent=Intent.of("staff.roles_changed", agent.id))
        chat = WebChat(flow_context(tmp_path / "media"), "zh_CN")
        assert await OutboxDispatcher({"web": chat}).run_once() == 1
        pushed = page.locator(".bubble.bot", has_text="S001 张伟")
        await pushed.wait_for(timeout=POLL_WAIT_MS)
        kept = await box.input_value()
    assert kept == "half typ"


async def test_the_browsers_location_and_a_photo_caption_reach_the_capture_flow(
        database_url: str, chromium: str, tmp_path: Path) -> None:
    ids = await org_tree()
    agent, username = await web_user(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    card_type = await voucher_stock.define_voucher_type(
        ROOT, "DEBIT_CARD", VoucherTypeForm("借记卡", "Debit card", CARD_PATTERN, "luhn"))
    await business_types.create_business_type(
        ROOT, "DEBIT_CARD_OPENING", BusinessTypeForm("借记卡开户", "Debit card opening",
                                                     frozenset(KINDS)),
        voucher_type_code="DEBIT_CARD")
    await operational(agent)
    serial = card(1)
    await voucher_stock.receive_serials(ROOT, ids["outlet_a"], card_type.id, [serial])
    await voucher_stock.set_cap(ROOT, ids["province"], card_type.id, 10)
    device = await Device.get(holder_id=agent.id)
    box = await tail_boxes.box_for_device(device.id)
    await voucher_stock.allocate(ROOT, box.id, card_type.id, serials=[serial])
    photo = tmp_path / "card.jpg"
    photo.write_bytes(noisy_jpeg(0))
    async with chat_in_browser(chromium, tmp_path, username) as page:
        for text in ("/new", None, "张三", ID_NUMBER, "13800138000"):
            await (send(page, text) if text else tap(page, "借记卡开户"))
        await page.click("form.chat-location button")  # no permission: the hint, nothing sent
        refused = page.locator(".chat-location-refused")
        await refused.wait_for(timeout=POLL_WAIT_MS)
        await page.context.grant_permissions(["geolocation"])
        await page.context.set_geolocation({"latitude": 32.0603, "longitude": 118.7969})
        async with page.expect_navigation():
            await page.click("form.chat-location button")
        for _kind in KINDS:
            await send_photo(page, photo)
        await page.fill("form.chat-photo-form input[name=text]", f"卡号 {serial}")
        reserved = await send_photo(page, photo)
    case = await Case.get(agent_id=agent.id)
    assert (case.latitude, case.longitude) == (32.0603, 118.7969)
    assert reserved.startswith(translate("zh_CN", "Serial %(serial)s is reserved for this case.",
                                         serial=serial))
    assert (await Voucher.get(serial=serial)).case_id == case.id
