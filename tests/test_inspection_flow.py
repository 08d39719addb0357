"""A vault inspection by two people end to end (V5, K3): the supervisor in the admin web, the
holder in chat through the real Telegram bot; a difference opens an incident that stops
allocations to the box until it is closed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from bot.telegram import TelegramBot
from domain.models import (
    AuditLog,
    ChatBinding,
    Incident,
    Inspection,
    InspectionKind,
    InspectionResult,
    InspectionSample,
    InspectionStatus,
)
from domain.oversight import inspections
from domain.people import auth, staff
from domain.platform.actors import Actor
from domain.platform.clock import utcnow
from domain.vouchers import tail_boxes, voucher_stock
from tests.admin_support import PASSWORD, admin_site, log_in, sent_back, submit, zh
from tests.bot_support import bound_agent
from tests.chat_driver import Chat, running_bot
from tests.factories import ROOT
from tests.fake_telegram import FakeTelegram
from tests.inspection_support import STOCK, Vault, day_end_count, staff_of, vault_world
from tests.loss_support import delivered

HOLDER, SUPERVISOR, OPS = 7601, 7602, 7603
ASK_KEY = "How many USB key are in the box?"
ASK_SIM = "How many SIM card are in the box?"


@pytest.fixture
async def v(database_url: str) -> Vault:
    """The vault world with the holder's, the supervisor's and operations management's
    Telegram accounts bound."""
    world = await vault_world()
    await ChatBinding.filter(staff_id=world.holder.staff_id).update(
        external_user_id=str(HOLDER), chat_id=str(HOLDER))
    await bound_agent(await staff_of(world.supervisor), SUPERVISOR)
    await bound_agent(await staff_of(world.ops), OPS)
    return world


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(v: Vault, fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[TelegramBot]:
    async with running_bot(fake, tmp_path / "media") as telegram:
        yield telegram


async def english_chat(fake: FakeTelegram, user: int) -> Chat:
    chat = Chat(fake, user)
    await chat.press("lang:en")
    return chat


@pytest.fixture
async def holder(bot: TelegramBot, fake: FakeTelegram) -> Chat:
    return await english_chat(fake, HOLDER)


@asynccontextmanager
async def web_as(actor: Actor) -> AsyncIterator[TestClient]:
    """A browser logged in as an existing staff member."""
    username = f"staff{actor.staff_id}"
    initial = await staff.grant_web_login(ROOT, actor.staff_id, username)  # type: ignore[arg-type]
    await auth.change_password(actor, initial, PASSWORD, PASSWORD)
    async with admin_site() as client:
        assert (await log_in(client, username)).url.path == "/"
        yield client


async def this_month(v: Vault) -> Inspection:
    """This month's round, and the holder's box inspection of it."""
    assert await inspections.create_monthly_inspections(utcnow()) == 3
    return await Inspection.get(box_id=v.box.id, kind=InspectionKind.MONTHLY)


async def started_from_the_web(v: Vault, bot: TelegramBot, holder: Chat, client: TestClient
                               ) -> Inspection:
    """The supervisor starts the inspection in the web; the holder is asked in chat."""
    row = await this_month(v)
    page = await (await client.get(f"/inspections/{row.id}")).text()
    assert f'action="/inspections/{row.id}/start"' in page
    started = await submit(client, f"/inspections/{row.id}/start", {},
                           page=f"/inspections/{row.id}")
    assert started.status == 200 and started.url.path == f"/inspections/{row.id}"
    await delivered(bot)
    asked = holder.last()
    assert asked.text == ("Vault inspection of tail box PAD00001 with S001 孙主管: count the "
                          "vouchers of each type in the box, then press Count now.")
    said = await holder.press(asked.buttons["Count now"])
    assert said.text.endswith(ASK_KEY)
    return row


async def holder_counts(holder: Chat, key: int, sim: int) -> str:
    assert (await holder.say(str(key))).text == ASK_SIM
    return (await holder.say(str(sim))).text


async def test_matching_counts_of_both_people_close_the_inspection_ok(
        v: Vault, bot: TelegramBot, holder: Chat) -> None:
    async with web_as(v.supervisor) as client:
        row = await started_from_the_web(v, bot, holder, client)
        assert (await holder.say("three")).text == (
            "Send the number of USB key as a whole number, 0 or more.")
        assert (await holder.say("-1")).text.startswith("Send the number of USB key")
        assert await holder_counts(holder, 3, 2) == (
            "Your count of tail box PAD00001 · F001 员工F001 is recorded. The result follows "
            "once the other person has counted too.")
        page = await (await client.get(f"/inspections/{row.id}")).text()
        assert 'class="list ledger figures"' not in page
        counted = await submit(client, f"/inspections/{row.id}/count",
                               {"count_KEY": "3", "count_SIM": "2"}, page=f"/inspections/{row.id}")
        assert counted.status == 200
        page = await counted.text()
        assert 'class="list ledger figures"' in page
    done = await Inspection.get(id=row.id)
    assert (done.status, done.result) == (InspectionStatus.COMPLETED, InspectionResult.OK)
    await delivered(bot)
    assert holder.last().text == ("Vault inspection of tail box PAD00001 complete: the counts "
                                  "match the ledger.")


async def test_a_difference_opens_an_incident_and_refuses_allocation_until_closed(
        v: Vault, bot: TelegramBot, holder: Chat, fake: FakeTelegram) -> None:
    await day_end_count(v.holder, v.box, utcnow())
    await english_chat(fake, SUPERVISOR)
    async with web_as(v.supervisor) as client:
        row = await started_from_the_web(v, bot, holder, client)
        await holder_counts(holder, 2, 2)
        await submit(client, f"/inspections/{row.id}/count", {"count_KEY": "3", "count_SIM": "2"},
                     page=f"/inspections/{row.id}")
    incident = await Incident.get(id=(await Inspection.get(id=row.id)).incident_id)  # type: ignore[attr-defined]
    await delivered(bot)
    assert holder.last().text == (
        f"Vault inspection of tail box PAD00001 complete: the counts do not match the ledger. "
        f"Incident #{incident.id} is open and operations management has been told.")
    alert = fake.texts(SUPERVISOR)[-1]
    assert ("Holder counted: USB key 2, SIM card 2\nSecond person counted: USB key 3, SIM card 2"
            "\nLedger: USB key 3, SIM card 2\nIncident #") in alert
    assert f"#{incident.id}" in fake.texts(OPS)[-1]  # operations management reads zh_CN
    await voucher_stock.receive_range(v.ops, v.ids["outlet_a"], v.types["KEY"].id, "00000100",
                                      "00000100")
    allocate = f"/vouchers/boxes/{v.box.id}"
    async with web_as(v.ops) as ops:
        refused = await submit(ops, f"{allocate}/allocate",
                               {"voucher_type_id": str(v.types["KEY"].id), "count": "1"},
                               page=allocate)
        assert sent_back(refused, allocate)
        assert zh(voucher_stock.INSPECTION_INCIDENT_OPEN, asset_tag=v.tag,
                  incident=incident.id) in await refused.text()
        closed = await submit(ops, f"/incidents/{incident.id}/close",
                              {"resolution": "Recounted with the holder; key found."},
                              page="/incidents")
        assert closed.status == 200
        allocated = await submit(ops, f"{allocate}/allocate",
                                 {"voucher_type_id": str(v.types["KEY"].id), "count": "1"},
                                 page=allocate)
        assert allocated.status == 200 and allocated.url.path == allocate
    assert await tail_boxes.expected_in_box(v.box.id) == {"KEY": 4, "SIM": 2}


@pytest.mark.parametrize(("fields", "message", "params"), [
    ({"count_KEY": "abc", "count_SIM": "2"}, inspections.NOT_A_NUMBER, {"code": "KEY"}),
    ({"count_KEY": "-1", "count_SIM": "2"}, inspections.NOT_A_NUMBER, {"code": "KEY"}),
    ({"count_KEY": "3", "count_SIM": "2", "count_CASH": "1"},
     "%(code)s is not a voucher type to count.", {"code": "CASH"}),
])
async def test_bad_counts_in_the_web_are_refused_and_nothing_is_written(
        v: Vault, fields: dict[str, str], message: str, params: dict[str, str]) -> None:
    row = await this_month(v)
    await inspections.start_inspection(v.supervisor, row.id)
    async with web_as(v.supervisor) as client:
        refused = await submit(client, f"/inspections/{row.id}/count", fields,
                               page=f"/inspections/{row.id}")
        assert sent_back(refused, f"/inspections/{row.id}")
        assert zh(message, **params) in await refused.text()
    assert (await Inspection.get(id=row.id)).supervisor_counted is None
    assert not await AuditLog.exists(action="inspection.counted")


async def test_another_orgs_inspection_page_is_refused(v: Vault) -> None:
    row = await this_month(v)
    async with web_as(v.far_supervisor) as client:
        assert (await client.get(f"/inspections/{row.id}")).status == 404
        assert (await client.get(f"/inspections/boxes/{v.box.id}")).status == 404
        started = await submit(client, f"/inspections/{row.id}/start", {}, page="/inspections")
        assert started.status == 404
        listed = await (await client.get("/inspections")).text()
        assert v.tag not in listed
    assert (await Inspection.get(id=row.id)).status == InspectionStatus.SCHEDULED


async def test_supervisor_starts_in_chat_and_the_holder_cannot_be_second(
        v: Vault, bot: TelegramBot, holder: Chat, fake: FakeTelegram) -> None:
    row = await this_month(v)
    refused = await holder.press(f"insp:start:{row.id}")
    assert refused.text == ("You hold tail box PAD00001; the second person of its inspection "
                            "must be someone else.")
    supervisor = await english_chat(fake, SUPERVISOR)
    listed = await supervisor.say("/inspect")
    assert f"Inspection #{row.id} of tail box PAD00001 (holder F001" in listed.text
    started = await supervisor.press(listed.buttons[f"Start the inspection #{row.id}"])
    assert started.text.startswith(f"Inspection #{row.id} of tail box PAD00001 started")
    assert (await supervisor.press(started.buttons["Count now"])).text.endswith(ASK_KEY)
    await holder_counts(supervisor, *STOCK.values())
    await delivered(bot)
    assert (await holder.press(holder.last().buttons["Count now"])).text.endswith(ASK_KEY)
    assert await holder_counts(holder, *STOCK.values()) == (
        "Vault inspection of tail box PAD00001 · F001 员工F001 complete: the counts match the "
        "ledger.")
    assert (await holder.say("/inspect")).text == "No vault inspection is waiting for you."


async def test_ops_admin_launches_a_surprise_sample_and_checks_it(v: Vault) -> None:
    async with web_as(v.ops) as client:
        refused = await submit(client, "/inspections/surprise",
                               {"org_id": str(v.ids["province"]), "percent": "50",
                                "count": "1"}, page="/inspections/surprise")
        assert sent_back(refused, "/inspections/surprise")
        launched = await submit(client, "/inspections/surprise",
                                {"org_id": str(v.ids["province"]), "percent": "50"},
                                page="/inspections/surprise")
        sample = await InspectionSample.get()
        assert launched.url.path == f"/inspections/samples/{sample.id}"
        page = await launched.text()
        assert sample.seed in page
        assert zh("The draw is reproduced: the same boxes were chosen and inspected.") in page
        listed = await (await client.get("/inspections?kind=surprise")).text()
        assert listed.count('href="/inspections/boxes/') == 2
        assert (await client.get("/inspections/completion")).status == 200
    assert await Inspection.filter(sample_id=sample.id).count() == 2
