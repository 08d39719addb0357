"""WeCom identity (issue 15): binding a WeCom UserID with the one-time code through the
channel-neutral flows, and a system administrator's mapping of staff to UserIDs (Q6)."""

from __future__ import annotations

import asyncio
import html
import itertools
import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bot.flows import ChatRouter, Inbound, Reply
from domain.models import AuditLog, ChatBinding, OutboxMessage, OutboxStatus, Role
from domain.people import binding
from domain.people.channel_choice import CHANNEL_LABELS
from domain.platform import access, outbox
from domain.platform.access import Permission
from domain.platform.errors import DomainError, PermissionDenied
from domain.platform.intents import Intent
from tests.admin_support import admin_site, csrf_token, log_in, sysadmin_session, zh
from tests.chat_support import chat_router
from tests.factories import ROOT, org_tree, person, web_user

WECOM = "wecom"
ACCOUNTS = "/staff/wecom-accounts"
_updates = itertools.count(1)


async def wecom_says(router: ChatRouter, user_id: str, text: str) -> list[Reply]:
    """A text a WeCom user sends to the app: his UserID is both account and chat."""
    key = f"msg{next(_updates)}"
    return await router.handle(Inbound.message(WECOM, key, user_id, user_id, text,
                                               message_id=key))


def texts(replies: list[Reply]) -> str:
    return "\n".join(reply.text for reply in replies)


async def test_a_wecom_user_binds_with_the_one_time_code(database_url: str,
                                                         tmp_path: Path) -> None:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1", name="张三")
    router = chat_router(tmp_path, default_locale="en")
    code, _ = await binding.issue_bind_code(ROOT, agent.id)
    answered = await wecom_says(router, "zhangsan", f"/bind {code}")
    assert "bound to 张三 (F1)" in texts(answered)
    assert (await binding.bound_staff(WECOM, "zhangsan")).id == agent.id
    row = await ChatBinding.get(staff_id=agent.id, channel=WECOM)
    assert (row.external_user_id, row.chat_id) == ("zhangsan", "zhangsan")
    audit = await AuditLog.get(action="chat.bind", object_id=str(agent.id))
    assert audit.actor_label == "system:chat:wecom"
    assert audit.detail == {"channel": WECOM, "external_user_id": "zhangsan"}
    assert "F1" in texts(await wecom_says(router, "zhangsan", "/whoami"))


async def test_the_code_as_plain_text_in_the_bind_step_binds_wecom(database_url: str,
                                                                   tmp_path: Path) -> None:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    router = chat_router(tmp_path, default_locale="en")
    asked = await wecom_says(router, "lisi", "/bind")
    assert "Send your bind code" in texts(asked)
    code, _ = await binding.issue_bind_code(ROOT, agent.id)
    await wecom_says(router, "lisi", code)
    assert (await binding.bound_staff(WECOM, "lisi")).id == agent.id


async def test_one_telegram_and_one_wecom_account_but_no_second_wecom(database_url: str,
                                                                      tmp_path: Path) -> None:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    router = chat_router(tmp_path, default_locale="en")
    await binding.bind_chat("telegram", "1001", "1001",
                            (await binding.issue_bind_code(ROOT, agent.id))[0])
    await wecom_says(router, "zhangsan",
                     f"/bind {(await binding.issue_bind_code(ROOT, agent.id))[0]}")
    second = await binding.issue_bind_code(ROOT, agent.id)
    refused = await wecom_says(router, "zhangsan2", f"/bind {second[0]}")
    assert "already have another account bound on this channel" in texts(refused)
    assert await binding.bound_staff(WECOM, "zhangsan2") is None
    assert sorted(await ChatBinding.filter(staff_id=agent.id).values_list(
        "channel", "external_user_id")) == [("telegram", "1001"), (WECOM, "zhangsan")]
    await binding.unbind_chat(ROOT, agent.id, WECOM)
    await wecom_says(router, "zhangsan2",
                     f"/bind {(await binding.issue_bind_code(ROOT, agent.id))[0]}")
    assert (await binding.bound_staff(WECOM, "zhangsan2")).id == agent.id


async def test_one_code_sent_from_two_accounts_at_once_binds_one(database_url: str) -> None:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    code, _ = await binding.issue_bind_code(ROOT, agent.id)
    outcomes = await asyncio.gather(binding.bind_chat("telegram", "1001", "1001", code),
                                    binding.bind_chat(WECOM, "zhangsan", "zhangsan", code),
                                    return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert [o.key for o in refused] == [binding.CODE_USED]
    assert await ChatBinding.filter(staff_id=agent.id).count() == 1
    assert await AuditLog.filter(action="chat.bind").count() == 1


async def test_one_account_bound_to_two_people_at_once_is_answered_not_raised(
        database_url: str) -> None:
    ids = await org_tree()
    first, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    second, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F2")
    codes = [(await binding.issue_bind_code(ROOT, one.id))[0] for one in (first, second)]
    outcomes = await asyncio.gather(
        *(binding.bind_chat(WECOM, "zhangsan", "zhangsan", code) for code in codes),
        return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], DomainError)
    assert refused[0].key in (binding.BOUND_MEANWHILE, binding.ANOTHER_PERSON)
    assert await ChatBinding.filter(channel=WECOM, external_user_id="zhangsan").count() == 1


async def test_a_wecom_account_of_another_person_is_refused(database_url: str,
                                                            tmp_path: Path) -> None:
    ids = await org_tree()
    first, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    second, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F2")
    await binding.bind_chat(WECOM, "zhangsan", "zhangsan",
                            (await binding.issue_bind_code(ROOT, first.id))[0])
    with pytest.raises(DomainError) as taken:
        await binding.bind_chat(WECOM, "zhangsan", "zhangsan",
                                (await binding.issue_bind_code(ROOT, second.id))[0])
    assert "another staff member" in taken.value.key


# --- mapping by a system administrator ---------------------------------------------------


def rows(*lines: tuple[str, str]) -> list[binding.AccountRow]:
    return [binding.AccountRow(number, no, user) for number, (no, user) in
            enumerate(lines, start=2)]


async def test_mapping_is_checked_per_line_and_applied_all_or_nothing(database_url: str) -> None:
    ids = await org_tree()
    admin, admin_actor = await person(ids["province"], Role.SYSADMIN, no="S1")
    one, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    two, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F2")
    holder, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F3")
    await binding.bind_chat(WECOM, "taken", "taken",
                            (await binding.issue_bind_code(ROOT, holder.id))[0])
    bad = rows(("F1", "zhang.san@x"), ("F9", "nobody"), ("F2", "taken"), ("F2", "bad id!"),
               ("F1", "again"), ("F3", "taken"))
    checked = await binding.map_accounts(admin_actor, WECOM, bad)
    assert [(line.row.line, line.error) for line in checked] == [
        (2, ""), (3, "Unknown employee number %(employee_no)s."),
        (4, "The account %(account)s is already bound to %(staff)s."),
        (5, "%(account)s is not a valid user id: 1 to 64 letters, digits, _ - @ or ."),
        (6, "This row repeats line %(line)s."), (7, "This row repeats line %(line)s.")]
    assert checked[5].params == {"line": 4}
    assert not await ChatBinding.exists(channel=WECOM, staff_id=one.id)
    assert not await AuditLog.exists(action="chat.bind", actor_id=admin.id)

    good = rows(("F1", "zhang.san@x"), ("F2", "li-si_2"), ("F3", "taken"))
    applied = await binding.map_accounts(admin_actor, WECOM, good)
    assert not any(line.error for line in applied)
    assert [line.unchanged for line in applied] == [False, False, True]
    assert (await binding.bound_staff(WECOM, "zhang.san@x")).id == one.id
    assert (await ChatBinding.get(channel=WECOM, staff_id=two.id)).chat_id == "li-si_2"
    audits = await AuditLog.filter(action="chat.bind", actor_id=admin.id).order_by("id")
    assert [(a.object_id, a.detail["external_user_id"], a.detail["mapped"]) for a in audits] \
        == [(str(one.id), "zhang.san@x", True), (str(two.id), "li-si_2", True)]


async def test_mapping_never_replaces_a_binding(database_url: str) -> None:
    ids = await org_tree()
    _, admin = await person(ids["province"], Role.SYSADMIN, no="S1")
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    await binding.map_accounts(admin, WECOM, rows(("F1", "first")))
    [second] = await binding.map_accounts(admin, WECOM, rows(("F1", "second")))
    assert "already bound to the account" in second.error
    with pytest.raises(DomainError):
        await binding.map_account(admin, agent.id, WECOM, "second")
    assert await binding.account_of(agent.id, WECOM) == "first"


async def test_only_a_system_administrator_maps_accounts(database_url: str) -> None:
    ids = await org_tree()
    _, supervisor = await person(ids["branch_a"], Role.SUPERVISOR, no="V1")
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O1")
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    for actor in (supervisor, ops):
        with pytest.raises(PermissionDenied):
            await binding.map_accounts(actor, WECOM, rows(("F1", "zhangsan")))
        with pytest.raises(PermissionDenied):
            await binding.preview_accounts(actor, WECOM, rows(("F1", "zhangsan")))
    assert await binding.account_of(agent.id, WECOM) is None


async def test_a_mapping_releases_what_waited_and_maps_no_browser_chat(database_url: str
                                                                      ) -> None:
    ids = await org_tree()
    _, admin = await person(ids["province"], Role.SYSADMIN, no="S1")
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    await outbox.enqueue(agent.id, "Hello", intent=Intent.of("staff.roles_changed", agent.id),
                         idempotency_key="k1")
    await OutboxMessage.filter(idempotency_key="k1").update(status=OutboxStatus.WAITING)
    await binding.map_accounts(admin, WECOM, rows(("F1", "zhangsan")))
    waited = await OutboxMessage.get(idempotency_key="k1")
    assert (waited.status, waited.channel) == (OutboxStatus.PENDING, WECOM)
    with pytest.raises(DomainError):
        await binding.map_accounts(admin, "web", rows(("F1", "1")))
    assert await outbox.release_for_binding(agent.id, WECOM) == 0


async def test_only_wecom_userids_are_mapped(database_url: str) -> None:
    ids = await org_tree()
    _, admin = await person(ids["province"], Role.SYSADMIN, no="S1")
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    for channel in ("telegram", "web", "WeCom"):
        with pytest.raises(DomainError):
            await binding.preview_accounts(admin, channel, rows(("F1", "1001")))
        with pytest.raises(DomainError):
            await binding.map_accounts(admin, channel, rows(("F1", "1001")))
    assert not await ChatBinding.exists(staff_id=agent.id)


async def test_the_holder_of_an_account_is_named_only_within_scope(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A system administrator sees every org; should mapping ever be granted to a role bound
    # to an org subtree, a holder outside it is not named.
    monkeypatch.setitem(access.GRANTS, Permission.STAFF_MANAGE,
                        frozenset({Role.SYSADMIN, Role.SUPERVISOR}))
    ids = await org_tree()
    _, admin = await person(ids["branch_a"], Role.SUPERVISOR, no="V1")
    await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    await person(ids["outlet_a"], Role.FIELD_AGENT, no="F2")
    near, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F3", name="近邻")
    far, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F4", name="远方")
    for holder, account in ((near, "near"), (far, "far")):
        await binding.bind_chat(WECOM, account, account,
                                (await binding.issue_bind_code(ROOT, holder.id))[0])
    checked = await binding.preview_accounts(admin, WECOM, rows(("F1", "far"), ("F2", "near")))
    assert [(line.error, line.params) for line in checked] == [
        ("The account %(account)s is already bound to another person.", {"account": "far"}),
        ("The account %(account)s is already bound to %(staff)s.",
         {"account": "near", "staff": "F3 近邻"})]


def bind_meanwhile(monkeypatch: pytest.MonkeyPatch, staff_id: int, account: str) -> None:
    """Let a /bind of the account land between a mapping's check and its bindings."""
    check = binding.preview_accounts

    async def checked_then_bound(*args: object) -> list[binding.AccountMapping]:
        lines = await check(*args)  # type: ignore[arg-type]
        code, _ = await binding.issue_bind_code(ROOT, staff_id)
        await binding.bind_chat(WECOM, account, account, code)
        return lines

    monkeypatch.setattr(binding, "preview_accounts", checked_then_bound)


async def test_a_binding_made_meanwhile_refuses_the_whole_mapping(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = await org_tree()
    admin, admin_actor = await person(ids["province"], Role.SYSADMIN, no="S1")
    one, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    await person(ids["outlet_a"], Role.FIELD_AGENT, no="F2")
    other, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F3")
    bind_meanwhile(monkeypatch, other.id, "lisi")
    with pytest.raises(DomainError) as refused:
        await binding.map_accounts(admin_actor, WECOM, rows(("F1", "zhangsan"), ("F2", "lisi")))
    assert refused.value.key == binding.CHANGED_MEANWHILE
    assert not await ChatBinding.exists(staff_id=one.id)
    assert not await AuditLog.exists(action="chat.bind", actor_id=admin.id)


async def test_two_applies_of_one_mapping_bind_it_once(database_url: str) -> None:
    ids = await org_tree()
    _, admin = await person(ids["province"], Role.SYSADMIN, no="S1")
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    mapping = rows(("F1", "zhangsan"))
    answers = await asyncio.gather(*(binding.map_accounts(admin, WECOM, mapping)
                                     for _ in range(2)), return_exceptions=True)
    for answer in answers:
        assert isinstance(answer, list) or (isinstance(answer, DomainError) and
                                            answer.key == binding.CHANGED_MEANWHILE), answer
    assert await ChatBinding.filter(channel=WECOM).values_list("staff_id", "external_user_id") \
        == [(agent.id, "zhangsan")]


# --- the admin pages ----------------------------------------------------------------------


async def post_csv(client: TestClient, step: str, csv_text: str, *,
                   as_file: bool = True) -> aiohttp.ClientResponse:
    """Send a mapping to the preview or apply step as the page's forms do."""
    form = aiohttp.FormData()
    form.add_field("csrf_token", await csrf_token(client, ACCOUNTS))
    if as_file:
        form.add_field("file", csv_text.encode("utf-8"), filename="map.csv",
                       content_type="text/csv")
    else:
        form.add_field("csv_text", csv_text)
    return await client.post(f"{ACCOUNTS}/{step}", data=form)


async def test_csv_preview_shows_errors_per_line_and_apply_binds_all(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        one, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
        two, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F2")
        bad = "employee_no,wecom_userid\nF1,zhangsan\nF404,x\nF2,zhangsan\n"
        previewed = await post_csv(client, "preview", bad)
        page = await previewed.text()
        assert previewed.status == 400
        assert re.search(r"<td>3</td>\s*<td>F404</td>", page)
        assert "F404" in page and "zhangsan" in page
        assert 'action="/staff/wecom-accounts/apply"' not in page
        applied_bad = await post_csv(client, "apply", bad, as_file=False)
        assert applied_bad.status == 400
        assert not await ChatBinding.exists(channel=WECOM)

        good = "employee_no,wecom_userid\nF1,zhangsan\nF2,lisi\n"
        preview = await post_csv(client, "preview", good)
        assert preview.status == 200
        assert 'action="/staff/wecom-accounts/apply"' in await preview.text()
        assert not await ChatBinding.exists(channel=WECOM)
        applied = await post_csv(client, "apply", good, as_file=False)
        assert applied.status == 200
    assert await binding.account_of(one.id, WECOM) == "zhangsan"
    assert await binding.account_of(two.id, WECOM) == "lisi"


async def test_a_wrong_header_or_a_missing_csrf_token_applies_nothing(database_url: str
                                                                     ) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
        wrong = await post_csv(client, "apply", "employee_no,userid\nF1,zhangsan\n")
        assert wrong.status == 400
        assert "wecom_userid" in await wrong.text()
        form = aiohttp.FormData()
        form.add_field("csv_text", "employee_no,wecom_userid\nF1,zhangsan\n")
        forged = await client.post(f"{ACCOUNTS}/apply", data=form)
        assert forged.status in (400, 403)
    assert not await ChatBinding.exists(channel=WECOM)


async def test_the_staff_page_maps_one_wecom_userid(database_url: str) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
        page = f"/staff/{agent.id}"
        form = [("external_user_id", "zhangsan"),
                ("csrf_token", await csrf_token(client, page))]
        await client.post(f"{page}/wecom-account", data=form)
        shown = await (await client.get(page)).text()
    assert await binding.account_of(agent.id, WECOM) == "zhangsan"
    assert 'value="zhangsan"' in shown


async def test_a_supervisor_may_not_map_accounts_in_the_admin(database_url: str) -> None:
    ids = await org_tree()
    _, username = await web_user(ids["branch_a"], Role.SUPERVISOR, no="V1")
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
    async with admin_site() as client:
        await log_in(client, username)
        assert (await client.get(ACCOUNTS)).status == 403
        token = await csrf_token(client, "/")
        refused = await client.post(f"{ACCOUNTS}/apply", data={
            "csv_text": "employee_no,wecom_userid\nF1,zhangsan\n", "csrf_token": token})
        assert refused.status == 403
        one = await client.post(f"/staff/{agent.id}/wecom-account", data={
            "external_user_id": "zhangsan", "csrf_token": token})
        assert one.status in (403, 404)
    assert await binding.account_of(agent.id, WECOM) is None


async def test_a_binding_made_meanwhile_is_explained_on_the_admin_pages(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
        other, _ = await person(ids["outlet_b"], Role.FIELD_AGENT, no="F2")
        bind_meanwhile(monkeypatch, other.id, "zhangsan")
        applied = await post_csv(client, "apply", "employee_no,wecom_userid\nF1,zhangsan\n",
                                 as_file=False)
        assert applied.status == 400
        assert zh(binding.CHANGED_MEANWHILE) in html.unescape(await applied.text())
        page = f"/staff/{agent.id}"
        one = await client.post(f"{page}/wecom-account", data={
            "external_user_id": "zhangsan", "csrf_token": await csrf_token(client, page)})
        assert one.status == 200
        assert zh(binding.CHANGED_MEANWHILE) in html.unescape(await one.text())
    assert not await ChatBinding.exists(channel=WECOM)


async def test_the_staff_page_names_chat_channels_in_the_users_language(database_url: str
                                                                       ) -> None:
    async with admin_site() as client:
        ids = await sysadmin_session(client)
        agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1")
        await binding.bind_chat("telegram", "1001", "1001",
                                (await binding.issue_bind_code(ROOT, agent.id))[0])
        await binding.bind_chat(WECOM, "zhangsan", "zhangsan",
                                (await binding.issue_bind_code(ROOT, agent.id))[0])
        page = html.unescape(await (await client.get(f"/staff/{agent.id}")).text())
    telegram, wecom = zh(CHANNEL_LABELS["telegram"]), zh(CHANNEL_LABELS[WECOM])
    assert f"<dt>{zh('Chat accounts')}</dt><dd>{telegram}, {wecom}</dd>" in page
    assert zh("Unbind chat account (%(channel)s)", channel=wecom) in page
