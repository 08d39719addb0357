"""The `fieldops` command, run as a newcomer would run it."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import aiohttp

from domain.models import (
    AuditDraw,
    AuditLog,
    Callback,
    CallbackAttempt,
    CallbackStatus,
    Case,
    CaseAudit,
    CaseAuditStatus,
    CaseStatus,
    Device,
    DeviceEvent,
    Incident,
    IncidentKind,
    Inspection,
    InspectionStatus,
    MisIssue,
    MisIssueStatus,
    QualificationEvent,
    Role,
    Staff,
    VoidRequest,
    Voucher,
    VoucherMovement,
    VoucherState,
    WebCredential,
)
from domain.platform.clock import utcnow
from fieldops.demo import (
    BUSINESS_TYPES,
    DEMO_CUSTOMERS,
    LEDGERS,
    ORG_TREE,
    PEOPLE,
    VOUCHER_STEPS,
)
from fieldops.demo_history import STEPS as HISTORY_STEPS
from tests.audit_support import owner_rights
from tests.cli_support import FIELDOPS, cli_env, fieldops
from tests.clock_support import subprocess_clock_env
from tests.factories import org_tree, person

LEDGER_MODELS = (QualificationEvent, Device, DeviceEvent, Incident, VoucherMovement, VoidRequest,
                 Case, Callback, CallbackAttempt, Inspection, AuditDraw, CaseAudit)


async def test_run_refuses_a_database_with_unapplied_migrations(tmp_path: Path) -> None:
    env = cli_env(f"sqlite://{tmp_path}/fresh.sqlite3", tmp_path)
    result = await fieldops(env, "run", cwd=tmp_path)
    assert result.returncode == 1
    assert "fieldops migrate" in result.stderr
    assert "0001_initial" in result.stderr


async def test_bad_setting_stops_with_one_line(tmp_path: Path) -> None:
    env = cli_env(f"sqlite://{tmp_path}/x.sqlite3", tmp_path, FIELDOPS_WEB_PORT="http")
    result = await fieldops(env, "migrate", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if "FIELDOPS_WEB_PORT" in line
    ]


async def test_demo_is_idempotent_prints_logins_and_issues_two_cards(
    database_url: str, tmp_path: Path
) -> None:
    env = cli_env(database_url, tmp_path)
    first = await fieldops(env, "demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "admin" in first.stdout and "FieldOps-demo-2026" in first.stdout
    staff_count = await Staff.all().count()
    ledgers = [await model.all().count() for model in LEDGER_MODELS]
    second = await fieldops(env, "demo", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert [await model.all().count() for model in LEDGER_MODELS] == ledgers
    assert await Staff.all().count() == staff_count == len(PEOPLE) + 1
    agents = [p for p in PEOPLE if Role.FIELD_AGENT in p.roles]
    assert second.stdout.count("E01") == len(agents)
    assert "agent1" in second.stdout and "/chat" in second.stdout
    assert not await WebCredential.exists(username="agent1", must_change_password=True)
    total = (len(ORG_TREE) + len(PEOPLE) + 1 + len(BUSINESS_TYPES) + len(LEDGERS)
             + VOUCHER_STEPS + len(DEMO_CUSTOMERS) + HISTORY_STEPS)
    assert f"{total}/{total}" in second.stderr
    issued = await Voucher.filter(state=VoucherState.ISSUED).prefetch_related("case__agent")
    assert len(issued) == len(DEMO_CUSTOMERS) == 2
    assert {card.case.status for card in issued} == {CaseStatus.APPROVED}
    assert {card.case.agent.employee_no for card in issued} == {"E0101"}
    assert {card.case.customer_name for card in issued} == {c.name for c in DEMO_CUSTOMERS}
    [mis_issue] = await MisIssue.all().prefetch_related("voucher")
    assert mis_issue.status == MisIssueStatus.RECOVERING
    assert mis_issue.voucher.state == VoucherState.MIS_ISSUED
    await month_of_history_to_show()


async def month_of_history_to_show() -> None:
    """The demo's month of history gives every scheduled-work page rows to show."""
    days = {case.case_no[2:10] for case in await Case.filter(case_no__not_isnull=True)}
    assert len(days) >= 15  # about 21 working days of cases, and today's card openings
    assert await Case.filter(status=CaseStatus.RETURNED).exists()
    assert await Case.filter(status=CaseStatus.REJECTED).exists()
    assert await Callback.filter(status=CallbackStatus.COMPLETED, satisfaction__gte=1).exists()
    assert await Callback.filter(status=CallbackStatus.SCHEDULED).exists()
    assert await Incident.filter(kind=IncidentKind.MAJOR_ERROR, major=True).count() == 1
    assert await Inspection.filter(status=InspectionStatus.COMPLETED).exists()
    assert await Inspection.filter(status=InspectionStatus.OVERDUE).exists()
    assert await Inspection.filter(status=InspectionStatus.SCHEDULED).exists()
    assert await CaseAudit.filter(status=CaseAuditStatus.ERROR).count() == 2
    assert await CaseAudit.filter(status=CaseAuditStatus.PENDING).exists()


async def test_init_creates_the_first_system_admin_once(database_url: str, tmp_path: Path
                                                        ) -> None:
    env = cli_env(database_url, tmp_path)
    flags = ["--username", "root", "--name", "管理员", "--employee-no", "A001",
             "--password", "Strong-pass-2026"]
    created = await fieldops(env, "init", *flags, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert await WebCredential.filter(username="root").exists()
    again = await fieldops(env, "init", *flags, cwd=tmp_path)
    assert again.returncode == 1
    assert "已存在" in again.stderr or "already exists" in again.stderr


async def test_audit_verify_catches_a_hand_edited_row(database_url: str, tmp_path: Path) -> None:
    env = cli_env(database_url, tmp_path)
    ids = await org_tree()  # audited changes, under the key the command is given
    for number in ("F1", "F2"):
        await person(ids["outlet_a"], Role.FIELD_AGENT, no=number)
    intact = await fieldops(env, "audit", "verify", cwd=tmp_path)
    assert intact.returncode == 0 and "intact" in intact.stdout
    victim = await AuditLog.filter(action="staff.create").order_by("id").first()
    async with owner_rights():
        await AuditLog.filter(id=victim.id).update(actor_label="someone else")
    broken = await fieldops(env, "audit", "verify", cwd=tmp_path)
    assert broken.returncode == 1
    assert f"row {victim.id}" in broken.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_run_without_token_serves_the_admin_and_keeps_the_bot_off(
    database_url: str, tmp_path: Path
) -> None:
    log = await run_until_healthy(database_url, tmp_path)
    assert "FIELDOPS_TELEGRAM_BOT_TOKEN is not set" in log
    assert "scheduler started" in log


async def test_run_only_web_serves_the_admin_on_its_database_and_nothing_else(
    database_url: str, tmp_path: Path
) -> None:
    log = await run_until_healthy(database_url, tmp_path, "--only", "web")
    assert "web server on" in log
    assert "scheduler started" not in log and "outbox dispatcher" not in log
    assert "TELEGRAM_BOT_TOKEN" not in log


async def run_until_healthy(database_url: str, tmp_path: Path, *options: str) -> str:
    """Run `fieldops run OPTIONS` until its /healthz answers 200 (the database is open), stop
    it with SIGTERM and return its log; it must have stopped cleanly."""
    port = free_port()
    env = cli_env(database_url, tmp_path, FIELDOPS_WEB_PORT=str(port))
    process = await asyncio.create_subprocess_exec(
        *FIELDOPS, "run", *options, env=env | subprocess_clock_env(utcnow()), cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        status = await wait_for_health(port)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = stderr.decode()
    assert status == 200 and process.returncode == 0, log
    return log


async def wait_for_health(port: int) -> int:
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    return response.status
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.2)
    return 0
