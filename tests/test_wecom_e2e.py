"""The WeCom channel in the running product (issue 15): `fieldops run` against the fake WeCom.

Every test starts a real `fieldops run` process (its clock the test's clock) on this test's
database, with the `FIELDOPS_WECOM_*` settings pointing at `tests/fake_wecom.py`; callbacks
are posted to its web port encrypted and signed as WeCom posts them. Nothing here needs
Chromium.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest
from tortoise.exceptions import OperationalError

from bot.wecom.api import CHANNEL
from bot.wecom.crypt import WeComCrypt
from bot.wecom.inbound import parse_inbound
from domain.cases import business_types, review_reasons
from domain.cases.business_types import BusinessTypeForm
from domain.models import (
    BoxCount,
    Case,
    CaseDecision,
    CasePhoto,
    CaseStatus,
    ChatBinding,
    ChatCard,
    ChatInboxMessage,
    CountStatus,
    InboxStatus,
    Incident,
    IncidentKind,
    OutboxMessage,
    OutboxStatus,
    PhotoKind,
    ReasonKind,
    Role,
    Staff,
)
from domain.people import binding
from domain.platform.actors import actor_for
from domain.platform.clock import utcnow
from domain.platform.outbox import REPLY
from domain.vouchers import day_end_counts
from locales import translate
from tests.bot_support import code_for
from tests.capture_support import KINDS, TYPE, capture_to_summary
from tests.case_support import noisy_jpeg
from tests.cli_support import FIELDOPS, cli_env, fieldops
from tests.clock_support import subprocess_clock_env
from tests.factories import operational, org_tree, person
from tests.fake_wecom import AGENT_ID, CORP_ID, FakeWeCom, Json
from tests.review_support import seen
from tests.voucher_support import stock_box_directly
from tests.wecom_client import AES_KEY, TOKEN, WeComClient

CALLBACK_PATH = "/wecom/callback"
AGENT, REVIEWER = "agent-f1", "reviewer-r1"  # members of the fake's corp
PUBLIC_URL = "https://ops.example.com"
# what a process answers at most this long after start; a test's whole run stays well under
START_SECONDS = 30
WAIT_SECONDS = 20  # for one answer or notification, on a busy machine
T = TypeVar("T")


def wecom_env(database_url: str, tmp_path: Path, fake: FakeWeCom, port: int,
              **extra: str) -> dict[str, str]:
    """The environment of `fieldops run` on this test's database with the WeCom app of the
    fake: unpaced (the pacer has its own tests), the outbox polled often."""
    return cli_env(
        database_url, tmp_path, FIELDOPS_WEB_PORT=str(port), FIELDOPS_PUBLIC_URL=PUBLIC_URL,
        FIELDOPS_WECOM_CORP_ID=fake.corp_id, FIELDOPS_WECOM_AGENT_ID=str(AGENT_ID),
        FIELDOPS_WECOM_SECRET=fake.secret, FIELDOPS_WECOM_TOKEN=TOKEN,
        FIELDOPS_WECOM_AES_KEY=AES_KEY, FIELDOPS_WECOM_API_BASE_URL=fake.url,
        FIELDOPS_WECOM_CALLBACK_PATH=CALLBACK_PATH, FIELDOPS_WECOM_PER_SECOND="100",
        FIELDOPS_WECOM_USER_GAP_SECONDS="0", FIELDOPS_OUTBOX_POLL_SECONDS="0.1",
        FIELDOPS_OUTBOX_BACKOFF_SECONDS="0.1", FIELDOPS_WORKING_DAYS="1,2,3,4,5,6,7",
        FIELDOPS_WORKING_HOURS="00:00-23:59", **extra)


def free_port() -> int:
    """A port nothing listens on now, for a process's web server or a WeCom that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Product:
    """A running `fieldops run` process: its web port and its log."""

    port: int
    log_file: Path

    @property
    def url(self) -> str:
        """The process's web address."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """What the process has logged so far."""
        return self.log_file.read_text(encoding="utf-8")


@contextlib.asynccontextmanager
async def fieldops_run(env: dict[str, str], tmp_path: Path, *options: str
                       ) -> AsyncIterator[Product]:
    """`fieldops run OPTIONS` until the block ends, then SIGTERM; it must stop cleanly. Its
    log goes to a file (a pipe read only at the end would fill up and stall it)."""
    log_file = tmp_path / f"fieldops-run-{secrets.token_hex(3)}.log"
    product = Product(int(env["FIELDOPS_WEB_PORT"]), log_file)
    with log_file.open("w", encoding="utf-8") as log:
        process = await asyncio.create_subprocess_exec(
            *FIELDOPS, "run", *options, env=env | subprocess_clock_env(utcnow()), cwd=tmp_path,
            stdout=log, stderr=log)
        try:
            await answering(product, process)
            yield product
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=START_SECONDS)
    assert process.returncode == 0, product.log()


async def answering(product: Product, process: asyncio.subprocess.Process) -> None:
    """Wait until the process answers HTTP on its port (any status: `--only bot` serves no
    /healthz); the WeCom bot has been started by then."""
    async with aiohttp.ClientSession() as session, asyncio.timeout(START_SECONDS):
        while process.returncode is None:
            try:
                async with session.get(f"{product.url}/healthz"):
                    return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"fieldops run exited {process.returncode}:\n{product.log()}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeWeCom]:
    """The fake WeCom API, with the agent and the reviewer as members of the corp."""
    async with FakeWeCom() as server:
        yield server


# -- the wiring: start-up, settings, which process serves the callback ------------------------


async def test_without_wecom_settings_the_channel_stays_off_with_one_line(
    database_url: str, tmp_path: Path
) -> None:
    env = cli_env(database_url, tmp_path, FIELDOPS_WEB_PORT=str(free_port()))
    async with fieldops_run(env, tmp_path) as product:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{product.url}{CALLBACK_PATH}") as response:
                assert response.status != 200  # nothing serves a callback: the admin's 404
    wecom_lines = [line for line in product.log().splitlines() if "WECOM" in line.upper()]
    assert len(wecom_lines) == 1, product.log()
    assert "FIELDOPS_WECOM_* are not set: the WeCom channel stays off" in wecom_lines[0]
    assert "outbox dispatcher started for web\n" in product.log()


@pytest.mark.parametrize(("setting", "value", "named"), [
    ("FIELDOPS_WECOM_AES_KEY", "tooShort", "FIELDOPS_WECOM_AES_KEY"),
    ("FIELDOPS_WECOM_AGENT_ID", "app-1", "FIELDOPS_WECOM_AGENT_ID"),
    ("FIELDOPS_WECOM_SECRET", "", "FIELDOPS_WECOM_SECRET"),
    ("FIELDOPS_WECOM_CALLBACK_PATH", "wecom", "FIELDOPS_WECOM_CALLBACK_PATH"),
    ("FIELDOPS_WECOM_API_BASE_URL", "qyapi.weixin.qq.com", "FIELDOPS_WECOM_API_BASE_URL"),
])
async def test_a_bad_wecom_setting_stops_start_up_with_one_line_naming_it(
    tmp_path: Path, setting: str, value: str, named: str
) -> None:
    env = wecom_env(f"sqlite://{tmp_path}/x.sqlite3", tmp_path, FakeWeCom(url="http://x"),
                    free_port()) | {setting: value}
    result = await fieldops(env, "run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"fieldops: bad setting {named}: "), result.stderr


async def test_only_web_answers_the_callback_path_with_a_plain_404_naming_where_it_is_served(
    database_url: str, tmp_path: Path, fake: FakeWeCom
) -> None:
    env = wecom_env(database_url, tmp_path, fake, free_port())
    async with fieldops_run(env, tmp_path, "--only", "web") as product, \
            WeComClient(product.url) as wecom, aiohttp.ClientSession() as session:
        for answer in (await wecom.verify_url("hello"),
                       await wecom.post(wecom.text(AGENT, "/help"))):
            assert answer.status == 404
            assert "`fieldops run --only bot`, not by `--only web`" in answer.body
        async with session.get(f"{product.url}/healthz") as response:
            assert response.status == 200
    assert fake.calls == []  # a web-only process neither fetches a token nor sets the menu
    assert "WeCom callback served" not in product.log()


@pytest.mark.parametrize("only", [(), ("--only", "bot")])
async def test_run_and_only_bot_serve_the_callback_beside_a_wecom_lane(
    database_url: str, tmp_path: Path, fake: FakeWeCom, only: tuple[str, ...]
) -> None:
    env = wecom_env(database_url, tmp_path, fake, free_port())
    async with fieldops_run(env, tmp_path, *only) as product, \
            WeComClient(product.url) as wecom:
        answer = await wecom.verify_url("echo-1234")
        assert (answer.status, answer.body) == (200, "echo-1234")
        forged = await wecom.verify_url("echo-1234", signature="0" * 40)
        assert forged.status == 403 and "echo-1234" not in forged.body
    log = product.log()
    assert f"WeCom callback served at {CALLBACK_PATH}" in log
    assert "outbox dispatcher started for web, wecom" in log
    assert "FIELDOPS_WECOM" not in log
    assert fake.menu, "the app's menu is set at start"


# -- a member talking to the running product through WeCom -----------------------------------


@dataclass(frozen=True)
class Said:
    """What the product sent a member for one callback: the texts and the cards' titles in
    order, and the cards' buttons (full label → task id and key, what a press posts)."""

    text: str
    buttons: dict[str, str]


async def said_of(messages: list[Json]) -> Said:
    """The messages as the member reads them; the buttons' full labels from the recorded
    cards (a card shows at most ten characters of a label)."""
    lines: list[str] = []
    buttons: dict[str, str] = {}
    for message in messages:
        if message["msgtype"] == "text":
            lines.append(message["text"]["content"])
            continue
        card = message["template_card"]
        lines.extend(part for part in ((card.get("main_title") or {}).get("title", ""),
                                       card.get("sub_title_text", "")) if part)
        recorded = await recorded_card(card["task_id"])
        for key, (label, _) in recorded.keys.items():
            buttons[label] = f"{card['task_id']} {key}"
    return Said("\n".join(lines), buttons)


async def recorded_card(task_id: str) -> ChatCard:
    """A sent card's record (a notice the dispatcher sends meanwhile is recorded just after
    WeCom took it)."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            found = await ChatCard.get_or_none(channel=CHANNEL, task_id=task_id)
            if found is not None:
                return found
            await asyncio.sleep(0.05)


@dataclass
class Member:
    """A WeCom member of the fake corp talking to the product's callback URL."""

    wecom: WeComClient
    fake: FakeWeCom
    user: str

    async def send(self, message: str) -> Said:
        """Post a callback, wait until the product handled it, and return what it answered."""
        before = len(self.fake.sent(self.user))
        answer = await self.wecom.post(message)
        assert (answer.status, answer.body) == (200, ""), answer
        await handled(parse_inbound(message).dedupe_key)
        return await said_of(self.fake.sent(self.user)[before:])

    async def say(self, text: str) -> Said:
        return await self.send(self.wecom.text(self.user, text))

    async def tap_menu(self, command: str) -> Said:
        """A click on the app's menu, whose key is the command."""
        return await self.send(self.wecom.event(self.user, "click", command))

    async def press(self, button: str) -> Said:
        """Press a card's button (`Said.buttons` value) with the card's response code."""
        task_id, key = button.split()
        card = await ChatCard.get(channel=CHANNEL, task_id=task_id)
        assert card.response_code
        return await self.send(self.wecom.card_press(self.user, task_id, key,
                                                     card.response_code))

    async def photo(self, content: bytes) -> Said:
        return await self.send(self.wecom.image(self.user, self.fake.add_media(content)))

    async def file(self, content: bytes, name: str, mime_type: str) -> Said:
        media_id = self.fake.add_media(content, mime_type)
        return await self.send(self.wecom.file(self.user, media_id, name))

    async def location(self, latitude: float, longitude: float) -> Said:
        return await self.send(self.wecom.location(self.user, latitude, longitude))

    def heard(self) -> int:
        """How many messages the member got so far (for `told` to look past)."""
        return len(self.fake.sent(self.user))

    async def told(self, wanted: str, after: int = 0) -> Said:
        """Wait for the newest card or text (a notification), of those after the first
        `after`, whose text holds `wanted`."""
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                for message in reversed(self.fake.sent(self.user)[after:]):
                    said = await said_of([message])
                    if wanted in said.text:
                        return said
                await asyncio.sleep(0.1)


async def handled(dedupe_key: str) -> None:
    """Wait until the product has handled a stored callback and sent its replies (those
    queued behind a notice waiting in the outbox too)."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            if await ChatInboxMessage.exists(
                    channel=CHANNEL, dedupe_key=dedupe_key, status=InboxStatus.HANDLED
            ) and not await OutboxMessage.exists(
                    channel=CHANNEL, kind=REPLY,
                    status__in=(OutboxStatus.PENDING, OutboxStatus.SENDING)):
                return
            await asyncio.sleep(0.05)


@dataclass
class Branch:
    """The people of the journey: an agent with a tail box, a reviewer, both in WeCom."""

    agent: Staff
    reviewer: Staff


@pytest.fixture
async def branch(database_url: str) -> Branch:
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O1")
    await business_types.create_business_type(
        ops, "DEBIT_CARD", BusinessTypeForm("借记卡开户", TYPE, KINDS))
    await review_reasons.seed_default_reasons()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F1", name="陈展业")
    await operational(agent)
    await stock_box_directly(agent, {"CARD": 3, "SIM": 2})
    reviewer, _ = await person(ids["branch_a"], Role.REVIEWER, no="R1", name="周审核")
    return Branch(agent, reviewer)


@contextlib.asynccontextmanager
async def members(product: Product, fake: FakeWeCom) -> AsyncIterator[tuple[Member, Member]]:
    """The agent and the reviewer, talking to the product through its callback URL."""
    async with WeComClient(product.url) as wecom:
        yield Member(wecom, fake, AGENT), Member(wecom, fake, REVIEWER)


async def beside_the_process(write: Callable[[], Awaitable[T]]) -> T:
    """A write of the test while the product runs: on SQLite a transaction whose snapshot the
    process's commit made stale is refused at once ("database is locked"); tried again."""
    for _ in range(50):
        try:
            return await write()
        except OperationalError as error:
            if "locked" not in str(error):
                raise
            await asyncio.sleep(0.1)
    return await write()


def zh(msgid: str, **params: object) -> str:
    return translate("zh_CN", msgid, **params)


async def test_a_case_from_capture_to_approval_a_count_and_a_loss_all_in_wecom(
    database_url: str, tmp_path: Path, fake: FakeWeCom, branch: Branch
) -> None:
    codes = [await code_for(branch.agent), await code_for(branch.reviewer)]  # from the admin
    env = wecom_env(database_url, tmp_path, fake, free_port())
    async with fieldops_run(env, tmp_path) as product, members(product, fake) as (agent,
                                                                                   reviewer):
        # 1. Both bind with their one-time codes: the agent types /bind, the reviewer the code.
        bound = ("This chat is now bound to %(name)s (%(employee_no)s). Send /help to see "
                 "what I can do.")
        assert zh(bound, name="陈展业", employee_no="F1") in (
            await agent.say(f"/bind {codes[0]}")).text
        assert zh(bound, name="周审核", employee_no="R1") in (await reviewer.say(codes[1])).text
        assert await ChatBinding.filter(channel=CHANNEL).count() == 2
        languages = await agent.say("/language")
        assert "From now on I answer in English." in (
            await agent.press(languages.buttons["English"])).text

        # 2. The agent captures a case: typed answers, a location, photos through media/get.
        summary = await capture_to_summary(agent, seed=30)  # type: ignore[arg-type]
        submitted = await agent.press(summary.buttons["Submit"])
        case = await Case.get(agent_id=branch.agent.id)
        assert case.status == CaseStatus.SUBMITTED and case.case_no
        assert f"Case {case.case_no} was submitted." in submitted.text
        assert (case.latitude, case.longitude) == (31.2304, 121.4737)
        assert len(fake.called("media/get")) == 3
        assert await CasePhoto.filter(case_id=case.id).count() == 3

        # 3. The reviewer claims it from the card the outbox sent him, and returns it with
        #    two reasons ticked on the cards of the return menu.
        notice = await reviewer.told(case.case_no)
        claimed = await reviewer.press(notice.buttons[zh("Claim")])
        assert zh("You claimed case %(case_no)s.", case_no=case.case_no) in claimed.text
        assert "11010519491231002X" not in claimed.text  # masked in WeCom too
        fake.expire_token()  # mid-run: the next call is refused 42001, refreshed, retried
        menu = await reviewer.press(claimed.buttons[zh("Return")])
        reasons = {r.code: r.name_zh for r in await review_reasons.active_reasons(
            ReasonKind.RETURN)}
        ticked = await reviewer.press(menu.buttons[reasons["portrait_mismatch"]])
        ticked = await reviewer.press(ticked.buttons[reasons["incomplete_papers"]])
        assert f"✓ {reasons['portrait_mismatch']}" in ticked.buttons
        returned = await reviewer.press(ticked.buttons[zh("Send return")])
        heard = reviewer.heard()
        assert case.case_no in returned.text
        case = await Case.get(id=case.id)
        assert case.status == CaseStatus.RETURNED
        assert case.retake_items == [PhotoKind.ONSITE_WITH_AGENT.value]
        assert sorted((await CaseDecision.get(case_id=case.id)).reason_codes) == [
            "incomplete_papers", "portrait_mismatch"]
        assert any(call.errcode == 42001 for call in fake.calls)  # refused once expired,
        assert len(fake.called("gettoken")) == 2  # then one new token for the process

        # 4. The agent is told, retakes the on-site photo and submits revision 2.
        told = await agent.told("returned for correction")
        retake = await agent.press(told.buttons["Retake the flagged items"])
        assert "on-site photo" in retake.text
        again = await agent.photo(noisy_jpeg(40))
        assert "Everything is there" in again.text
        resubmitted = await agent.press(again.buttons["Submit"])
        assert f"Case {case.case_no} was submitted again as revision 2." in resubmitted.text

        # 5. The reviewer opens the case page (its photos, C6), claims the resubmission from
        #    its card and approves from the case card; the agent is told.
        corrected = await reviewer.told(case.case_no, after=heard)
        assert zh("Approve") not in corrected.buttons
        await seen(await actor_for(await Staff.get(employee_no="R1")), case.id)
        reclaimed = await reviewer.press(corrected.buttons[zh("Claim")])
        await reviewer.press(reclaimed.buttons[zh("Approve")])
        assert (await Case.get(id=case.id)).status == CaseStatus.APPROVED
        assert case.case_no in (await agent.told("has been approved")).text
        assert fake.updates, "a pressed card is updated to show the choice"

        # 6. A day-end count from the card of the request.
        assert await beside_the_process(
            lambda: day_end_counts.request_day_end_counts(utcnow())) == 1
        request = await agent.told("Day-end count of tail box")
        assert (await agent.press(request.buttons["Count now"])).text.endswith(
            "How many Debit card are in the box?")
        assert "How many SIM card are in the box?" in (await agent.say("3")).text
        assert "matches the ledger" in (await agent.say("2")).text
        assert (await BoxCount.get()).status == CountStatus.MATCHED

        # 7. A loss reported from the app's menu.
        what = await agent.tap_menu("/loss")
        assert "What was lost?" in what.text
        await agent.press(what.buttons["Customer papers"])
        for answer in ("客户张某的开户申请书", "now", "客户家中"):
            await agent.say(answer)
        loss = await agent.say("离开时遗落")
        reported = await agent.press(loss.buttons["Report the loss"])
        incident = await Incident.get()
        assert f"Loss reported as incident #{incident.id}." in reported.text
        assert incident.kind == IncidentKind.PAPERS_LOSS
    assert not await ChatInboxMessage.filter(status=InboxStatus.DEAD).exists()
    assert not await OutboxMessage.filter(status=OutboxStatus.DEAD).exists()
    assert "Traceback" not in product.log()  # no message failed and was tried again


async def test_a_callback_retried_three_times_is_handled_once_and_a_forged_one_is_refused(
    database_url: str, tmp_path: Path, fake: FakeWeCom, branch: Branch
) -> None:
    await binding.bind_chat(CHANNEL, AGENT, AGENT, await code_for(branch.agent))
    env = wecom_env(database_url, tmp_path, fake, free_port())
    async with fieldops_run(env, tmp_path) as product, members(product, fake) as (agent, _):
        whoami = agent.wecom.text(AGENT, "/whoami")
        answer = await agent.wecom.post(whoami, times=4)  # WeCom's first post and 3 retries
        assert (answer.status, answer.posts) == (200, 4)
        await handled(parse_inbound(whoami).dedupe_key)
        said = await agent.say("/help")  # handled after /whoami: its answers are all in
        assert "/whoami –" in said.text and "/channel –" in said.text  # the list of commands
        texts = [(await said_of([m])).text for m in fake.sent(AGENT)]
        assert sum("F1" in text for text in texts) == 1
        assert await ChatInboxMessage.filter(channel=CHANNEL).count() == 2

        sent = len(fake.sent())
        forged = await agent.wecom.post(agent.wecom.text(AGENT, "/whoami"),
                                        signature="0" * 40)
        assert forged.status == 403 and forged.posts == 1
        other_key = WeComCrypt(TOKEN, "A" * 43, CORP_ID)  # not the app's EncodingAESKey
        garbled = await agent.wecom.post(agent.wecom.text(AGENT, "/whoami"), crypt=other_key)
        assert garbled.status in (400, 403)
        assert await ChatInboxMessage.filter(channel=CHANNEL).count() == 2
        assert len(fake.sent()) == sent
    assert "wecom callback refused (bad_signature, answered 403)" in product.log()


async def test_wecom_unreachable_at_start_the_run_goes_on_and_replies_wait_in_the_outbox(
    database_url: str, tmp_path: Path, branch: Branch
) -> None:
    await binding.bind_chat(CHANNEL, AGENT, AGENT, await code_for(branch.agent))
    nowhere = FakeWeCom(url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    env = wecom_env(database_url, tmp_path, nowhere, free_port())
    async with fieldops_run(env, tmp_path) as product, members(product, nowhere) as (agent, _):
        assert (await agent.wecom.verify_url("still-here")).body == "still-here"
        whoami = agent.wecom.text(AGENT, "/whoami")
        assert (await agent.wecom.post(whoami)).status == 200
        await handled(parse_inbound(whoami).dedupe_key)
        waiting = await OutboxMessage.get(channel=CHANNEL, recipient_id=branch.agent.id)
        assert waiting.status != OutboxStatus.SENT and "F1" in waiting.template
    assert "wecom app menu not set" in product.log()
