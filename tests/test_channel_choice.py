"""The channel a staff member's notifications go to (issue 15): his choice in chat (/channel)
or on his staff page, and the documented fallback Telegram → WeCom → browser chat."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bot.flows import ChatRouter, Inbound, Reply
from domain.models import AuditLog, ChatBinding, OutboxMessage, OutboxStatus, Role, Staff
from domain.people import binding, channel_choice
from domain.platform import outbox, webchat
from domain.platform.errors import DomainError, NotFound, PermissionDenied
from domain.platform.intents import Intent
from tests.admin_support import admin_site, csrf_token, log_in, sysadmin_session
from tests.chat_support import chat_router
from tests.factories import ROOT, org_tree, person, web_user

_updates = itertools.count(1)


async def bind(member: Staff, channel: str, user: str) -> None:
    """Bind a chat account with a one-time code (Q6)."""
    code, _ = await binding.issue_bind_code(ROOT, member.id)
    await binding.bind_chat(channel, user, user, code)


async def notify(member: Staff, key: str) -> OutboxMessage:
    """Queue a notification without naming a channel; the queued row."""
    await outbox.enqueue(member.id, "Hello", intent=Intent.of("staff.roles_changed", member.id),
                         idempotency_key=key)
    return await OutboxMessage.get(idempotency_key=key)


async def say(router: ChatRouter, channel: str, user: str, text: str) -> list[Reply]:
    key = f"u{next(_updates)}"
    return await router.handle(Inbound.message(channel, key, user, user, text, message_id=key))


async def press(router: ChatRouter, channel: str, user: str, data: str) -> list[Reply]:
    key = f"u{next(_updates)}"
    return await router.handle(Inbound.button(channel, key, user, user, data, f"q{key}"))


async def test_the_fallback_order_is_telegram_then_wecom_then_the_browser_chat(
        database_url: str) -> None:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    assert outbox.CHANNEL_PREFERENCE == ("telegram", "wecom", "web")
    await webchat.bind_web_chat(agent.id)
    assert (await notify(agent, "k1")).channel == "web"
    await bind(agent, "wecom", "zhangsan")
    assert (await notify(agent, "k2")).channel == "wecom"
    await bind(agent, "telegram", "1001")
    assert (await notify(agent, "k3")).channel == "telegram"


async def test_channel_in_chat_shows_bound_channels_and_the_choice_moves_notifications(
        database_url: str, tmp_path: Path) -> None:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    await bind(agent, "telegram", "1001")
    await bind(agent, "wecom", "zhangsan")
    router = chat_router(tmp_path, default_locale="en")
    [shown] = await say(router, "wecom", "zhangsan", "/channel")
    assert "go to Telegram (your choice: none)" in shown.text
    assert shown.buttons == ((("Telegram", "chan:telegram"),), (("WeCom", "chan:wecom"),))
    assert (await notify(agent, "before")).channel == "telegram"

    [chosen] = await press(router, "wecom", "zhangsan", "chan:wecom")
    assert chosen.text == "Your notifications now go to WeCom."
    assert (await Staff.get(id=agent.id)).notify_channel == "wecom"
    assert (await notify(agent, "after")).channel == "wecom"
    audit = await AuditLog.get(action="staff.notify_channel")
    assert (audit.actor_id, audit.object_id, audit.detail) == (
        agent.id, str(agent.id), {"from": None, "to": "wecom"})
    [again] = await say(router, "telegram", "1001", "/channel")
    assert "go to WeCom (your choice: WeCom)" in again.text


async def test_an_unbound_channel_cannot_be_chosen(database_url: str, tmp_path: Path) -> None:
    ids = await org_tree()
    agent, actor = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    await bind(agent, "wecom", "zhangsan")
    router = chat_router(tmp_path, default_locale="en")
    [refused] = await press(router, "wecom", "zhangsan", "chan:telegram")
    assert refused.text == "You can only choose a channel the person is bound on."
    with pytest.raises(DomainError):
        await channel_choice.choose_channel(actor, agent.id, "sms")
    assert (await Staff.get(id=agent.id)).notify_channel is None
    assert not await AuditLog.exists(action="staff.notify_channel")


async def test_a_chosen_channel_no_longer_bound_falls_back(database_url: str) -> None:
    ids = await org_tree()
    agent, actor = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    await webchat.bind_web_chat(agent.id)
    await bind(agent, "telegram", "1001")
    await bind(agent, "wecom", "zhangsan")
    await channel_choice.choose_channel(actor, agent.id, "wecom")
    queued = await notify(agent, "queued")
    assert queued.channel == "wecom"
    await binding.unbind_chat(ROOT, agent.id, "wecom")
    assert (await notify(agent, "later")).channel == "telegram"
    choice = await channel_choice.channel_choice(agent.id)
    assert (choice.chosen, choice.effective, choice.bound) == ("wecom", "telegram",
                                                              ("telegram", "web"))
    # the message queued for WeCom before the unbinding moves to where he is reached now
    [delivery] = await outbox.claim_due(channels=("wecom",))
    assert await outbox.wait_for_binding(delivery) == "moved to telegram"
    moved = await OutboxMessage.get(id=queued.id)
    assert (moved.channel, moved.status) == ("telegram", OutboxStatus.PENDING)


async def test_a_waiting_notice_goes_to_the_chosen_channel_once_bound(database_url: str
                                                                      ) -> None:
    ids = await org_tree()
    agent, actor = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    await bind(agent, "telegram", "1001")
    await channel_choice.choose_channel(actor, agent.id, "telegram")
    await binding.unbind_chat(ROOT, agent.id, "telegram")
    waiting = await notify(agent, "k1")
    [delivery] = await outbox.claim_due()
    assert await outbox.wait_for_binding(delivery) == "waiting for a binding"
    await bind(agent, "wecom", "zhangsan")
    released = await OutboxMessage.get(id=waiting.id)
    assert (released.channel, released.status) == ("wecom", OutboxStatus.PENDING)


async def test_only_he_or_a_system_administrator_chooses_his_channel(database_url: str
                                                                     ) -> None:
    ids = await org_tree()
    agent, agent_actor = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    _, supervisor = await person(ids["branch_a"], Role.SUPERVISOR, no="V1")
    _, admin = await person(ids["province"], Role.SYSADMIN, no="S1")
    other, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F2")
    await bind(agent, "wecom", "zhangsan")
    with pytest.raises(PermissionDenied):
        await channel_choice.choose_channel(supervisor, agent.id, "wecom")
    with pytest.raises(NotFound):
        await channel_choice.choose_channel(supervisor, other.id, None)
    with pytest.raises((NotFound, PermissionDenied)):
        await channel_choice.choose_channel(agent_actor, other.id, None)
    await channel_choice.choose_channel(admin, agent.id, "wecom")
    audit = await AuditLog.get(action="staff.notify_channel")
    assert audit.actor_id == admin.staff_id
    await channel_choice.choose_channel(agent_actor, agent.id, None)
    assert (await Staff.get(id=agent.id)).notify_channel is None
    assert await AuditLog.filter(action="staff.notify_channel").count() == 2


async def test_the_staff_page_sets_the_channel(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
        await bind(agent, "telegram", "1001")
        await bind(agent, "wecom", "zhangsan")
        page = f"/staff/{agent.id}"
        shown = await (await client.get(page)).text()
        assert f'action="/staff/{agent.id}/notify-channel"' in shown
        await client.post(f"{page}/notify-channel", data={
            "channel": "wecom", "csrf_token": await csrf_token(client, page)})
        assert (await Staff.get(id=agent.id)).notify_channel == "wecom"
        await client.post(f"{page}/notify-channel", data={
            "channel": "", "csrf_token": await csrf_token(client, page)})
    assert (await Staff.get(id=agent.id)).notify_channel is None


async def test_a_person_sets_his_own_channel_on_his_page_but_not_anothers(
        database_url: str) -> None:
    ids = await org_tree()
    me, username = await web_user(ids["branch_a"], Role.SUPERVISOR, no="V1")
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    outsider, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F2")
    await bind(me, "wecom", "wangwu")
    for member in (agent, outsider):
        await bind(member, "wecom", f"u{member.employee_no}")
    async with admin_site() as client:
        await log_in(client, username)
        token = await csrf_token(client, f"/staff/{me.id}")
        await client.post(f"/staff/{me.id}/notify-channel",
                          data={"channel": "wecom", "csrf_token": token})
        theirs = await client.post(f"/staff/{agent.id}/notify-channel",
                                   data={"channel": "wecom", "csrf_token": token})
        hidden = await client.post(f"/staff/{outsider.id}/notify-channel",
                                   data={"channel": "wecom", "csrf_token": token})
    assert (await Staff.get(id=me.id)).notify_channel == "wecom"
    assert (theirs.status, hidden.status) == (403, 404)
    assert await ChatBinding.exists(staff_id=agent.id, channel="wecom")
    assert (await Staff.get(id=agent.id)).notify_channel is None
    assert (await Staff.get(id=outsider.id)).notify_channel is None


async def test_a_notice_whose_chat_is_gone_moves_to_the_chosen_channel(database_url: str
                                                                        ) -> None:
    ids = await org_tree()
    agent, actor = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    await webchat.bind_web_chat(agent.id)
    await bind(agent, "telegram", "1001")
    await bind(agent, "wecom", "zhangsan")
    await channel_choice.choose_channel(actor, agent.id, "web")
    queued = await notify(agent, "k1")
    assert queued.channel == "web"
    await channel_choice.choose_channel(actor, agent.id, "wecom")
    await ChatBinding.filter(staff_id=agent.id, channel="web").delete()
    [delivery] = await outbox.claim_due()
    assert await outbox.wait_for_binding(delivery) == "moved to wecom"
