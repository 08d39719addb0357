"""The browser chat does what a browser can (issue 16): a page of the latest lines with the
earlier ones on demand, lines pushed in without a reload, a photo caption, the location."""

from __future__ import annotations

from pathlib import Path

from bot.dispatcher import OutboxDispatcher
from bot.webchat import WebChat
from domain.models import Role
from domain.platform import outbox, webchat
from domain.platform.intents import Intent
from tests.browser_chat_support import POLL_WAIT_MS, chat_in_browser
from tests.factories import flow_context, org_tree, web_user


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
