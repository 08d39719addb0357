"""Timelines and the audit log in words (issue 16): sentences in the reader's language with
names and links, every action the services write has one, customer data stays masked, and the
audit log is filtered by person and by action name."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from aiohttp.test_utils import TestServer

from admin_web.app import init_app
from admin_web.i18n import reset_locale, use_locale
from admin_web.words import pages_for, term_html, words
from domain.cases import case_timeline, review
from domain.ledgers import devices
from domain.models import (
    AuditLog,
    CaseEvent,
    CaseEventKind,
    DeviceEventKind,
    MisIssueStatus,
    MovementKind,
    QualificationEventKind,
    Role,
    SpecialApprovalStatus,
)
from domain.oversight.action_words import ACTIONS, GENERIC
from domain.oversight.audit_words import audit_lines
from domain.people.sessions import END_ACTIONS
from domain.platform import audit, privacy
from domain.platform.actors import Actor, system_actor
from domain.platform.identity import mask_mobile, mask_resident_id
from domain.platform.sentences import Ref, Sentence, Term
from tests.admin_support import CONFIG, PASSWORD, admin_site, log_in, web_login
from tests.browser_support import browser_page
from tests.case_support import ID_NUMBER, MOBILE
from tests.factories import web_user
from tests.review_support import build_desk, submitted_case

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("domain", "bot", "admin_web", "scheduler", "fieldops")
ACTION = re.compile(r"[a-z_]+(\.[a-z_]+)+")
# Call sites whose action is computed, and every code each one writes; a new computed call
# site fails the walk until it is listed here with its codes.
COMPUTED: dict[str, set[str]] = {
    "domain/cases/case_timeline.py:f'case.{kind.value}'": {
        f"case.{kind.value}" for kind in CaseEventKind},
    "domain/ledgers/devices.py:f'device.{kind.value}'": {
        f"device.{kind.value}" for kind in DeviceEventKind},
    "domain/ledgers/qualifications.py:f'qualification.{kind.value}'": {
        f"qualification.{kind.value}" for kind in QualificationEventKind},
    "domain/cases/special.py:f'special_approval.{status.value}'": {
        f"special_approval.{status.value}" for status in SpecialApprovalStatus
        if status != SpecialApprovalStatus.REQUESTED},
    "domain/vouchers/mis_issues.py:f'mis_issue.{status.value}'": {
        f"mis_issue.{status.value}" for status in MisIssueStatus},
    "domain/vouchers/_ledger.py:f'voucher.{kind.value}'": {
        f"voucher.{kind.value}" for kind in MovementKind},
    "domain/oversight/callback_deadlines.py:f'callback.{action}'": {
        "callback.reminded", "callback.escalated"},
    "domain/cases/_managed_lists.py:f'{object_type}.{action}'": {
        f"{kind}.{action}" for kind in ("review_reason", "business_type")
        for action in ("create", "update", "activate", "deactivate")},
    "domain/platform/privacy.py:action + REFUSED_SUFFIX": {
        action + privacy.REFUSED_SUFFIX for action in (
            "case.customer_reveal", "case.id_image_view", "callback.customer_reveal")},
    "domain/platform/audit.py:SEALED": {audit.SEALED},
    "domain/people/sessions.py:END_ACTIONS.get(reason, 'auth.session_ended')": {
        *END_ACTIONS.values(), "auth.session_ended"},
}


def _is_record(call: ast.Call) -> bool:
    """A call of audit.record (or of `record` inside the audit module) naming its action."""
    func = call.func
    named = (isinstance(func, ast.Attribute) and func.attr == "record"
             and isinstance(func.value, ast.Name) and func.value.id == "audit")
    return (named or (isinstance(func, ast.Name) and func.id == "record")) and len(call.args) > 1


def _literals(node: ast.AST) -> set[str]:
    """The action codes spelt as string literals anywhere inside a node."""
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and ACTION.fullmatch(n.value)}


def _written_by_name(tree: ast.Module, function: ast.AST, name: str) -> set[str]:
    """The codes a variable action holds: what its function assigns to it, or what the
    module's calls of that function pass for it when it is a parameter."""
    codes = {code for node in ast.walk(function) if isinstance(node, ast.Assign)
             and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
             for code in _literals(node.value)}
    if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
        params = [arg.arg for arg in function.args.args]
        if name in params:
            at = params.index(name)
            for call in ast.walk(tree):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                        and call.func.id == function.name and len(call.args) > at):
                    codes |= _literals(call.args[at])
    return codes


def _functions(tree: ast.Module) -> Iterator[tuple[ast.AST, ast.Call]]:
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for call in ast.walk(function):
                if isinstance(call, ast.Call) and _is_record(call):
                    yield function, call


def written_actions() -> tuple[set[str], set[str]]:
    """Every action code an audit.record call of the product writes, and the computed call
    sites found (file:expression)."""
    codes: set[str] = set()
    computed: set[str] = set()
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for function, call in _functions(tree):
                action = call.args[1]
                if isinstance(action, ast.Constant) or (
                        isinstance(action, ast.IfExp) and isinstance(action.body, ast.Constant)
                        and isinstance(action.orelse, ast.Constant)):
                    codes |= _literals(action)
                elif isinstance(action, ast.Name) and action.id.islower():
                    codes |= _written_by_name(tree, function, action.id)
                else:
                    site = f"{path.relative_to(ROOT)}:{ast.unparse(action)}"
                    computed.add(site)
                    codes |= COMPUTED.get(site, set())
    return codes, computed


@contextmanager
def reading(locale: str) -> Iterator[None]:
    token = use_locale(locale)
    try:
        yield
    finally:
        reset_locale(token)


def said(sentence: Sentence, locale: str) -> str:
    """A sentence as the reader sees it, tags stripped."""
    with reading(locale):
        return re.sub(r"<[^>]+>", "", str(words(sentence)))


def test_every_action_the_services_write_has_a_sentence() -> None:
    codes, computed = written_actions()
    assert computed == set(COMPUTED), "a computed action: list its codes in COMPUTED"
    assert {"auth.login_inactive", "staff.role_granted", "review.duty_off",
            "case.returned", "device.lost"} <= codes  # the walk reads every kind of call
    assert sorted(codes - set(ACTIONS)) == []
    assert sorted(set(ACTIONS) - codes) == []  # and no sentence waits for a gone action


async def test_a_return_reads_with_reasons_and_retakes_in_both_languages(
        database_url: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    case = await submitted_case(desk)
    await review.claim(desk.reviewer, case.id)
    await review.return_case(desk.reviewer, case.id, ["unclear_image", "incomplete_papers"],
                             "", desk.ctx, ["id_front", "onsite_with_agent"])
    events = await CaseEvent.filter(case_id=case.id).order_by("id")
    lines = await case_timeline.timeline(events)
    returned = next(line for line in lines
                    if line.sentence.msgid.startswith("%(actor)s returned"))
    photos = [line for line in lines if line.photo_sha256]
    with reading("en"):
        html = str(words(returned.sentence))
    assert said(returned.sentence, "en") == (
        "审核甲 returned revision 1: Unclear image, Incomplete papers; retake ID card, "
        "portrait side, On-site photo of the agent with the customer")
    assert f'<a href="/people/{desk.reviewer.staff_id}">审核甲</a>' in html
    zh = said(returned.sentence, "zh_CN")
    assert "影像不清晰、资料不完整" in zh and "身份证人像面、移动运营人员与客户现场合影" in zh
    assert len(photos) == 3 and all(len(line.photo_sha256) == 64 for line in photos)
    assert "{" not in "".join(said(line.sentence, "en") for line in lines)


async def test_sentences_keep_customer_data_masked_and_name_legacy_actions(
        database_url: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    await submitted_case(desk)
    device = await devices.register_device(desk.it, devices.DeviceForm(
        "PAD-W-01", "SN-W-01", None, "Tab", None, desk.ids["outlet_a"]))
    await audit.record(system_actor("old"), "device.relabelled", "device", device.id,
                       org_id=device.org_id, detail={"was": "X-1"})  # type: ignore[attr-defined]
    rows = await AuditLog.all().order_by("id")
    lines = {line.action: line for line in await audit_lines(rows)}
    shown = " ".join(said(line.sentence, "en") for line in lines.values())
    entered = said(lines["case.customer_set"].sentence, "en")
    legacy = lines["device.relabelled"]
    assert ID_NUMBER not in shown and MOBILE not in shown
    assert mask_resident_id(ID_NUMBER) in entered and mask_mobile(MOBILE) in entered
    assert legacy.sentence.msgid == GENERIC
    assert said(legacy.sentence, "en") == "The system: device.relabelled on PAD-W-01"
    assert dict(legacy.details) == {"was": "X-1"}


async def test_audit_log_filters_by_person_and_action_name(
        database_url: str, tmp_path: Path) -> None:
    desk = await build_desk(tmp_path)
    case = await submitted_case(desk)
    await review.claim(desk.reviewer, case.id)
    await review.return_case(desk.reviewer, case.id, ["unclear_image"], "", desk.ctx)
    _, username = await web_user(desk.ids["province"], Role.AUDITOR, no="A001")
    reviewer = desk.reviewer.staff_id
    async with admin_site() as client:
        await log_in(client, username)
        page = await (await client.get("/audit")).text()
        by_person = await (await client.get(f"/audit?person={reviewer}")).text()
        returned = await (await client.get(
            f"/audit?person={reviewer}&action=case.returned")).text()
        typed = await (await client.get("/audit?actor=审核甲&action=case.claimed")).text()
        bad_day = await client.get("/audit?action=case.claimed&date_from=2026-13-45")
        refused = await bad_day.text()
    assert '<option value="case.returned">' in page
    assert re.search(r'<option value="case.returned">[^<]*Case returned for correction'
                     r'|<option value="case.returned">[^<]+<', page)
    assert f'<option value="{reviewer}">审核甲 R001</option>' in page
    assert 'data-action="case.claimed"' in by_person
    assert 'data-action="case.returned"' in by_person
    assert 'data-action="case.submitted"' not in by_person
    assert re.findall(r'data-action="([^"]+)"', returned) == ["case.returned"]
    assert re.findall(r'data-action="([^"]+)"', typed) == ["case.claimed"]
    assert "<details>" in returned and "reason_codes" in returned
    assert bad_day.status == 400 and 'role="alert"' in refused


async def test_the_case_timeline_shows_photo_thumbnails_in_chromium(
        database_url: str, tmp_path: Path, chromium: str) -> None:
    desk = await build_desk(tmp_path)
    case = await submitted_case(desk)
    username = await web_login("O001")  # operations management: ID images, person pages
    server = TestServer(init_app(replace(CONFIG, capture=desk.ctx)), host="127.0.0.1")
    await server.start_server()
    try:
        async with browser_page(chromium) as page:
            await page.goto(str(server.make_url("/login")))
            await page.fill("input[name=username]", username)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("main form button.primary")
            await page.wait_for_url(str(server.make_url("/")))
            await page.goto(str(server.make_url(f"/cases/{case.id}")))
            thumbnails = page.locator("table.timeline a.thumb img")
            await thumbnails.last.scroll_into_view_if_needed()
            await page.wait_for_function(
                "[...document.querySelectorAll('table.timeline a.thumb img')]"
                ".every(img => img.complete && img.naturalWidth > 0)")
            shown = await thumbnails.count()
            agent_link = await page.get_attribute("table.timeline a[href^='/people/']", "href")
            sentences = await page.inner_text("table.timeline")
    finally:
        await server.close()
    assert shown == 3
    assert agent_link == f"/people/{desk.agent.staff_id}"
    assert "{" not in sentences and "sha256" not in sentences


def test_a_word_links_only_to_a_page_its_reader_may_open() -> None:
    def reader(*roles: Role) -> Actor:
        return Actor(staff_id=1, label="x", roles=frozenset(roles))

    agent = Term(text="员工F001", ref=Ref.PERSON, ref_id=7)
    case = Term(text="YD1", ref=Ref.CASE, ref_id=3)
    linked_for = {role: (term_html(agent, pages_for(reader(role))),
                         term_html(case, pages_for(reader(role))))
                  for role in (Role.SUPERVISOR, Role.SYSADMIN, Role.REVIEWER, Role.FIELD_AGENT)}
    assert linked_for[Role.SUPERVISOR] == ('<a href="/people/7">员工F001</a>',
                                           '<a href="/cases/3">YD1</a>')
    assert linked_for[Role.SYSADMIN][0] == '<a href="/staff/7">员工F001</a>'
    assert linked_for[Role.REVIEWER] == ("员工F001", '<a href="/cases/3">YD1</a>')
    assert linked_for[Role.FIELD_AGENT] == ("员工F001", "YD1")
