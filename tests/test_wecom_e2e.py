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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.wecom.crypt import WeComCrypt
from domain.platform.clock import utcnow
from tests.cli_support import FIELDOPS, cli_env, fieldops
from tests.clock_support import subprocess_clock_env
from tests.fake_wecom import AGENT_ID, FakeWeCom
from tests.test_cli import free_port

TOKEN = "fieldopsCallbackToken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CALLBACK_PATH = "/wecom/callback"
PUBLIC_URL = "https://ops.example.com"
# what a process answers at most this long after start; a test's whole run stays well under
START_SECONDS = 30


def wecom_env(database_url: str, tmp_path: Path, fake: FakeWeCom, port: int,
              **extra: str) -> dict[str, str]:
    """The environment of `fieldops run` on this test's database with the WeCom app of the
    fake: unpaced (the pacer has its own tests), the outbox polled often."""
    return cli_env(
        database_url, tmp_path, FIELDOPS_WEB_PORT=str(port), FIELDOPS_PUBLIC_URL=PUBLIC_URL,
        FIELDOPS_WECOM_CORP_ID=fake.corp_id, FIELDOPS_WECOM_AGENT_ID=str(AGENT_ID),
        FIELDOPS_WECOM_SECRET=fake.secret, FIELDOPS_WECOM_TOKEN=TOKEN,
        FIELDOPS_WECOM_AES_KEY=AES_KEY, FIELDOPS_WECOM_API_BASE_URL=fake.url,
        FIELDOPS_WECOM_CALLBACK_PATH=CALLBACK_PATH, FIELDOPS_OUTBOX_POLL_SECONDS="0.1",
        FIELDOPS_OUTBOX_BACKOFF_SECONDS="0.1", **extra)


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


def crypt() -> WeComCrypt:
    """The crypt WeCom uses for the fake's app."""
    return WeComCrypt(TOKEN, AES_KEY, FakeWeCom.corp_id)


def verification(echo: str, *, forged: bool = False) -> dict[str, str]:
    """The query of WeCom's URL verification (`GET` with `echostr`), its signature forged on
    request."""
    app, timestamp, nonce = crypt(), str(int(utcnow().timestamp())), secrets.token_hex(8)
    echostr = app.encrypt(echo)
    signature = app.sign(timestamp, nonce, echostr)
    if forged:
        signature = ("0" if signature[0] != "0" else "1") + signature[1:]
    return {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce,
            "echostr": echostr}


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
            aiohttp.ClientSession() as session:
        for method in ("GET", "POST"):
            async with session.request(method, f"{product.url}{CALLBACK_PATH}",
                                       params=verification("hello")) as response:
                assert response.status == 404
                assert "`fieldops run --only bot`, not by `--only web`" in await response.text()
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
            aiohttp.ClientSession() as session:
        url = f"{product.url}{CALLBACK_PATH}"
        async with session.get(url, params=verification("echo-1234")) as response:
            assert (response.status, await response.text()) == (200, "echo-1234")
        async with session.get(url, params=verification("echo-1234", forged=True)) as response:
            assert response.status >= 400
            assert "echo-1234" not in await response.text()
    log = product.log()
    assert f"WeCom callback served at {CALLBACK_PATH}" in log
    assert "outbox dispatcher started for web, wecom" in log
    assert "FIELDOPS_WECOM" not in log
    assert fake.menu, "the app's menu is set at start"
