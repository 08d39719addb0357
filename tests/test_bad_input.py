"""Malformed input never crashes the admin: every route of the router, every parameter,
as the system admin and as a role that may use the route (S3)."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import NamedTuple

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from domain.models import AuditLog, Org, Voucher, VoucherMovement, VoucherType
from tests.admin_support import (
    DEMO_USERS,
    PARAMETER,
    admin_site,
    csrf_token,
    demo_log_in,
    fill,
    site_config,
    valid_path_values,
    zh,
)

ADMIN_SOURCES = Path(__file__).parent.parent / "admin_web"
MALFORMED = ("²", "-1", "0", str(2**63), "99999999999999999999", "", "abc", "0001-01-01",
             "9999-12-31", "x" * 5000, "a\x00b", "🙂")
ONE_AT_A_TIME = ("x" * 5000, "9999-12-31", str(2**63))
# Routes that end the session or serve no page are left out.
SKIPPED = frozenset({"logout", "static", "healthz", "metrics"})
# A plausible value of a name, so that one malformed value next to it reaches the service.
DATE_NAMES = re.compile(r"(_on|_date|_from|_to|_by|until|day|captured|decided|start|end|from|to)$")


class Route(NamedTuple):
    """One route of the router: its method, pattern, path matcher and the names it may read."""

    method: str
    pattern: str
    matcher: re.Pattern[str] | None
    read: list[str]


def plausible(name: str) -> str:
    """A value of the name's type that the admin accepts."""
    if name == "month":
        return "2026-01"
    if name == "week":
        return "2026-W02"
    return "2026-01-05" if DATE_NAMES.search(name) else "1"


def parameter_names() -> list[str]:
    """Every query or form name the admin reads or renders: read from its own sources."""
    names: set[str] = set()
    for path in ADMIN_SOURCES.rglob("*.py"):
        names |= set(re.findall(r"""(?:get|getall)\(\s*"(\w+)\"""", path.read_text()))
    for path in ADMIN_SOURCES.rglob("*.html"):
        names |= set(re.findall(r'name="(\w+)"', path.read_text()))
    return sorted(names - {"csrf_token"})


def reached_names(handler: Callable[..., object], names: list[str]) -> list[str]:
    """The names quoted in the handler, in the functions of its module it reaches (calls,
    passes on), and at the module's top level: what the route may read."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(handler)))  # type: ignore[arg-type]
    functions = {node.name: node for node in tree.body
                 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    nodes: list[ast.AST] = [node for node in tree.body if not isinstance(
        node, ast.FunctionDef | ast.AsyncFunctionDef)]
    todo, seen = [handler.__name__], set()
    while todo:
        name = todo.pop()
        if name in functions and name not in seen:
            seen.add(name)
            nodes.append(functions[name])
            todo += [node.id if isinstance(node, ast.Name) else node.attr
                     for node in ast.walk(functions[name])
                     if isinstance(node, ast.Name | ast.Attribute)]
    quoted = {node.value for tree_node in nodes for node in ast.walk(tree_node)
              if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    return [name for name in names if name in quoted]


def routes(client: TestClient, names: list[str]) -> list[Route]:
    """Every route of the router (new routes are covered too), with the names it may read."""
    app = client.server.app
    assert app is not None
    found = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None or resource.name in SKIPPED or route.method == "HEAD":
            continue
        found.append(Route(route.method, resource.canonical,
                           resource.get_info().get("pattern"),
                           reached_names(inspect.unwrap(route.handler), names)))
    return sorted(found, key=lambda route: (route.method, route.pattern))


def urls(route: Route, valid: dict[str, str]) -> list[str]:
    """The route with valid path values, then with each path value malformed: every
    malformed value its pattern lets through to the view, and one the router refuses."""
    names = PARAMETER.findall(route.pattern)
    assert set(names) <= set(valid), f"no valid value for {route.pattern}"
    found = [fill(route.pattern, valid)]
    for name in names:
        candidates = [fill(route.pattern, valid | {name: value.replace("\x00", "%00")})
                      for value in MALFORMED if "/" not in value]
        let_through = [url for url in candidates
                       if route.matcher is None or route.matcher.fullmatch(url)]
        refused = [url for url in candidates if url not in let_through]
        found += let_through + refused[:1]
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


def requests(route: Route, names: list[str], valid: dict[str, str], users: list[str]
             ) -> list[tuple[str, str, dict[str, str]]]:
    """(user, url, fields) of one route: each malformed value in every name at once (names
    read by shared helpers get it too), as the system admin; each malformed path value, as
    every user; each name the route reads malformed alone, the others plausible, so that it
    reaches the service, as the user of narrowest scope."""
    first, *malformed_paths = urls(route, valid)
    usual = {name: plausible(name) for name in names}
    found = [("admin", first, dict.fromkeys(names, value)) for value in MALFORMED]
    found += [(user, url, usual) for user in users for url in malformed_paths]
    return found + [(users[-1], first, usual | {name: value})
                    for name in route.read for value in ONE_AT_A_TIME]


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
        for route in routes(clients["admin"], names):
            users = await reachable_as(clients, route.method, fill(route.pattern, valid), tokens)
            for username, url, fields in requests(route, names, valid, users):
                status = await send(clients[username], route.method, url, fields,
                                    tokens[username])
                sent += 1
                if status >= 500:
                    odd = {name: value[:8] for name, value in fields.items()
                           if value != plausible(name)}
                    crashes.append((username, route.method, url[:80], str(odd)[:80]))
    assert sent > 2000
    assert crashes == [], "\n".join(map(str, crashes))


CHINESE = re.compile(r"[\u4e00-\u9fff]")
UPLOAD_FORM = re.compile(r'<form method="post" action="(/[^"]*)" enctype="multipart/form-data"'
                         r'(.*?)</form>', re.S)
FILE_FIELD = re.compile(r'<input type="file" name="(\w+)"')
# Files an upload may carry by mistake or on purpose; the first lines are good serials of the
# USB key type, so that a file refused for a later line shows nothing is written half.
GOOD = b"UK99000001\nUK99000002\n"
MALFORMED_FILES: dict[str, bytes] = {
    "not UTF-8": GOOD + "序列号\n".encode("gb18030"),
    "binary": bytes(range(256)) * 8,
    "a NUL inside": GOOD + b"UK990\x0000003\n",
    "one huge row": GOOD + b"UK" + b"9" * 200_000 + b"\n",
    "columns instead of serials": b"serial,type,org\nUK99000001,USB_KEY,1\n",
    "formula injection": GOOD + b"=cmd|' /C calc'!A0\n@SUM(1+1)*cmd|' /C calc'!A0\n",
    "larger than a form may be": GOOD * 60_000,
    "empty": b"",
    "blank lines only": b"\n \n\t\n",
}


def upload_forms() -> list[tuple[str, str]]:
    """(action, file field) of every form of the admin that uploads a file."""
    found = []
    for path in ADMIN_SOURCES.rglob("*.html"):
        for action, body in UPLOAD_FORM.findall(path.read_text()):
            # the web imports share one template: its action names the ledger, as training's
            found += [(action.replace("{{ name }}", "training"), field)
                      for field in FILE_FIELD.findall(body)]
    return sorted(found)


async def written() -> tuple[int, int, int]:
    """Vouchers, their movements and audit rows: what a receipt or an upload writes."""
    return (await Voucher.all().count(), await VoucherMovement.all().count(),
            await AuditLog.all().count())


async def post_files(client: TestClient, token: str, action: str, field: str,
                     fields: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Each malformed file posted to one upload form: its status and error message."""
    refusals = {}
    for label, data in MALFORMED_FILES.items():
        form = FormData(fields | {"csrf_token": token})
        form.add_field(field, data, filename="serials.csv", content_type="text/csv")
        response = await client.post(action, data=form)
        html = await response.text()
        message = re.search(r'<p class="error" role="alert">(.*?)</p>', html, re.S)
        # a form's refusal goes back to its page (303), which shows the message once
        status = response.history[0].status if response.history else response.status
        refusals[label] = (status, message[1] if message else "")
    return refusals


async def test_no_malformed_upload_answers_500_or_writes_anything(every_kind_media: Path
                                                                  ) -> None:
    org = await Org.all().order_by("id").first()
    usb_key = await VoucherType.get(code="USB_KEY")
    assert org is not None
    fields = {"org_id": str(org.id), "voucher_type_id": str(usb_key.id), "first": "",
              "last": ""}
    forms = upload_forms()
    assert ("/vouchers/receive", "file") in forms
    refusals: dict[tuple[str, str], tuple[int, str]] = {}
    config = site_config(every_kind_media)
    async with admin_site(config) as ops, admin_site(config) as admin:
        # Operations management uploads ledgers; a form it may not use, the system admin.
        users = [(ops, "ops"), (admin, "admin")]
        tokens = []
        for client, username in users:
            assert (await demo_log_in(client, username)).url.path == "/"
            tokens.append(await csrf_token(client, "/"))
        before = await written()
        for action, field in forms:
            for (client, _user), token in zip(users, tokens, strict=True):
                answers = await post_files(client, token, action, field, fields)
                if answers["empty"][0] != 403:  # a form too large is refused before the role
                    break
            refusals |= {(action, label): answer for label, answer in answers.items()}
        after = await written()
    assert all(status in (303, 400, 413) for status, _text in refusals.values()), refusals
    assert all(CHINESE.search(text) for _status, text in refusals.values()), refusals
    assert zh("The file is not UTF-8 text.") in refusals[("/vouchers/receive", "not UTF-8")][1]
    assert after == before
