"""Malformed input never crashes the admin: every route of the router, every parameter,
as the system admin and as a role that may use the route (S3)."""

from __future__ import annotations

import inspect
import re
from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp.test_utils import TestClient
from tortoise.models import Model

from domain.models import (
    AuditDraw,
    BusinessType,
    Callback,
    Case,
    CaseAudit,
    CasePhoto,
    Device,
    Incident,
    Inspection,
    InspectionSample,
    MisIssue,
    Org,
    OutboxMessage,
    Qualification,
    ReviewReason,
    Role,
    SpecialApproval,
    StaffRole,
    TailBox,
    VoidRequest,
)
from tests.admin_support import (
    DEMO_USERS,
    admin_site,
    csrf_token,
    demo_log_in,
    site_config,
)

ADMIN_SOURCES = Path(__file__).parent.parent / "admin_web"
MALFORMED = ("²", "-1", "0", str(2**63), "99999999999999999999", "", "abc", "0001-01-01",
             "9999-12-31", "x" * 5000, "a\x00b", "🙂")
ONE_AT_A_TIME = ("x" * 5000, "9999-12-31", str(2**63))
# Routes that end the session or serve no page are left out.
SKIPPED = frozenset({"logout", "static", "healthz", "metrics"})
PATH_MODELS: dict[str, type[Model]] = {
    "approval_id": SpecialApproval, "audit_id": CaseAudit, "box_id": TailBox,
    "business_type_id": BusinessType, "callback_id": Callback, "case_id": Case,
    "device_id": Device, "draw_id": AuditDraw, "incident_id": Incident,
    "inspection_id": Inspection, "message_id": OutboxMessage, "mis_issue_id": MisIssue,
    "org_id": Org, "qualification_id": Qualification, "reason_id": ReviewReason,
    "sample_id": InspectionSample, "void_id": VoidRequest,
}
# A plausible value of a name, so that one malformed value next to it reaches the service.
DATE_NAMES = re.compile(r"(_on|_date|_from|_to|_by|until|day|captured|decided|start|end|from|to)$")


def plausible(name: str) -> str:
    """A value of the name's type that the admin accepts."""
    if name == "month":
        return "2026-01"
    if name == "week":
        return "2026-W02"
    return "2026-01-05" if DATE_NAMES.search(name) else "1"


PARAMETER = re.compile(r"\{(\w+)(?::[^{}]*(?:\{\d+\}[^{}]*)*)?\}")


def parameter_names() -> list[str]:
    """Every query or form name the admin reads or renders: read from its own sources."""
    names: set[str] = set()
    for path in ADMIN_SOURCES.rglob("*.py"):
        names |= set(re.findall(r"""(?:get|getall)\(\s*"(\w+)\"""", path.read_text()))
    for path in ADMIN_SOURCES.rglob("*.html"):
        names |= set(re.findall(r'name="(\w+)"', path.read_text()))
    return sorted(names - {"csrf_token"})


async def valid_path_values() -> dict[str, str]:
    """An existing row for each path parameter: a field agent for staff, a case's photo."""
    values = {}
    for name, model in PATH_MODELS.items():
        row = await model.all().order_by("id").first()
        values[name] = str(row.pk if row else 1)
    agent = await StaffRole.filter(role=Role.FIELD_AGENT).order_by("id").first()
    values["staff_id"] = str(agent.staff_id if agent else 1)  # type: ignore[attr-defined]
    photo = await CasePhoto.all().order_by("id").first()
    values["sha256"] = photo.sha256 if photo else "0" * 64
    if photo:
        values["case_id"] = str(photo.case_id)  # type: ignore[attr-defined]
    return values


def routes(client: TestClient, names: list[str]) -> list[tuple[str, str, list[str]]]:
    """(method, pattern, names its view module reads) of every route of the router: new
    routes are covered too."""
    app = client.server.app
    assert app is not None
    found = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None or resource.name in SKIPPED or route.method == "HEAD":
            continue
        source = inspect.getsource(inspect.getmodule(route.handler))  # type: ignore[arg-type]
        found.append((route.method, resource.canonical,
                      [name for name in names if f'"{name}"' in source]))
    return sorted(found)


def urls(pattern: str, valid: dict[str, str]) -> list[str]:
    """The route with valid path values, then with each path value malformed."""
    names = PARAMETER.findall(pattern)
    assert set(names) <= set(valid), f"no valid value for {pattern}"
    def fill(values: dict[str, str]) -> str:
        return PARAMETER.sub(lambda m: values[m.group(1)] or "_", pattern)
    found = [fill(valid)]
    for name in names:
        found += [fill(valid | {name: value.replace("\x00", "%00")}) for value in MALFORMED
                  if "/" not in value]
    return found


async def send(client: TestClient, method: str, url: str, fields: dict[str, str],
               token: str) -> int:
    """One request, its status: the fields in the query of a GET, in the form of a POST."""
    if method == "GET":
        response = await client.get(url, params=fields)
    else:
        response = await client.post(url, data=fields | {"csrf_token": token})
    await response.read()
    return response.status


async def reachable_as(clients: dict[str, TestClient], method: str, url: str,
                       tokens: dict[str, str]) -> list[str]:
    """The system admin, and the first other demo user the route does not refuse."""
    for username in DEMO_USERS[1:]:
        if await send(clients[username], method, url, {}, tokens[username]) != 403:
            return ["admin", username]
    return ["admin"]


async def test_no_malformed_value_answers_500(every_kind_media: Path) -> None:
    valid = await valid_path_values()
    names = parameter_names()
    crashes: list[tuple[str, str, str, str]] = []
    sent = 0
    config = site_config(every_kind_media)
    async with AsyncExitStack() as stack:
        clients = {username: await stack.enter_async_context(admin_site(config))
                   for username in DEMO_USERS}
        for username, client in clients.items():
            assert (await demo_log_in(client, username)).url.path == "/"
        tokens = {username: await csrf_token(client, "/") for username, client in clients.items()}
        for method, pattern, read in routes(clients["admin"], names):
            first, *malformed_paths = urls(pattern, valid)
            every = [(first, dict.fromkeys(names, value)) for value in MALFORMED]
            usual = {name: plausible(name) for name in names}
            every += [(url, usual) for url in malformed_paths]
            # One odd value at a time, the rest plausible, so that it reaches the service.
            each = [(first, usual | {name: value}) for name in read for value in ONE_AT_A_TIME]
            users = await reachable_as(clients, method, first, tokens)
            for username in users:
                for url, fields in every + (each if username == users[-1] else []):
                    status = await send(clients[username], method, url, fields,
                                        tokens[username])
                    sent += 1
                    if status >= 500:
                        odd = {name: value[:8] for name, value in fields.items()
                               if value != plausible(name)}
                        crashes.append((username, method, url[:80], str(odd)[:80]))
    assert sent > 2000
    assert crashes == [], "\n".join(map(str, crashes))
