"""The header search and the page per customer: each kind found, only within the reader's
org subtree and role, customer searches and the customer page audited with the term masked,
bad input answered, the box used in Chromium (C10, S3, issue 16)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from admin_web.app import AdminConfig, init_app
from domain.cases import cases, customers
from domain.ledgers import devices
from domain.models import (
    AuditLog,
    BusinessType,
    Callback,
    CallbackStatus,
    Case,
    CaseStatus,
    Role,
    TailBox,
    Voucher,
    VoucherState,
    VoucherType,
)
from domain.oversight import search
from domain.oversight.search import Kind, SearchResults
from domain.platform.actors import Actor
from domain.platform.clock import utcnow
from domain.platform.errors import DomainError, NotFound, PermissionDenied
from tests.admin_support import admin_site, log_in, site_config, submit
from tests.browser_support import browser_page
from tests.case_support import ID_NUMBER, MOBILE
from tests.factories import ROOT, capture_context, org_tree, person, web_user

OTHER_ID = "320102198001011238"
OTHER_MOBILE = "13900001111"
IMEIS = {"a": "860000000000017", "b": "860000000000025"}
NUMBERS = {"a1": "YD20261123-000001", "a2": "YD20261124-000002", "b1": "YD20261123-000003",
           "a3": "YD20261125-000004"}


@dataclass
class World:
    """Outlets a and b: the same customer (张三丰) has cases a1, a2 at outlet a and b1 at
    outlet b, another (王五) case a3 at a; a tablet, its box with a card, an agent at each
    outlet; an open callback of a1; readers of every role at branch a, a province auditor."""

    ids: dict[str, int]
    config: AdminConfig
    cases: dict[str, int]
    rows: dict[str, int]
    actors: dict[str, Actor]


async def captured(agent: Actor, business_type_id: int, case_no: str, status: CaseStatus,
                   customer: tuple[str, str, str], config: AdminConfig) -> int:
    """A case whose customer data the capture service stored (encrypted, hashed), then moved
    to its state and number."""
    case = await Case.create(business_type_id=business_type_id, agent_id=agent.staff_id,
                             org_id=agent.org_id, status=CaseStatus.DRAFT)
    assert config.capture is not None
    await cases.set_customer(agent, case.id, *customer, config.capture)
    await Case.filter(id=case.id).update(status=status, case_no=case_no,
                                         submitted_at=utcnow(), decided_at=utcnow())
    return case.id


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> World:
    ids = await org_tree()
    config = site_config(tmp_path)
    kind = await BusinessType.create(code="OPEN", name_zh="开户", name_en="Account opening")
    _, agent_a = await person(ids["outlet_a"], Role.FIELD_AGENT, no="E0101", name="李雷")
    _, agent_b = await person(ids["outlet_b"], Role.FIELD_AGENT, no="E0201", name="韩梅梅")
    same = ("张三丰", ID_NUMBER, MOBILE)
    made = {"a1": (agent_a, same), "a2": (agent_a, same), "b1": (agent_b, same),
            "a3": (agent_a, ("王五", OTHER_ID, OTHER_MOBILE))}
    case_ids = {key: await captured(agent, kind.id, NUMBERS[key], CaseStatus.APPROVED,
                                    customer, config)
                for key, (agent, customer) in made.items()}
    rows = await _ledgers(ids, agent_a, case_ids["a1"], kind.id)
    actors = {"agent_a": agent_a}
    for role in (Role.REVIEWER, Role.AUDITOR, Role.CALLBACK_AGENT, Role.SYSADMIN):
        actors[role.value] = (await person(ids["branch_a"], role, no=f"X{role.value}"))[1]
    actors["province"] = (await person(ids["province"], Role.AUDITOR, no="XP"))[1]
    return World(ids, config, case_ids, rows, actors)


async def _ledgers(ids: dict[str, int], agent_a: Actor, case_id: int, kind_id: int
                   ) -> dict[str, int]:
    """A tablet at each outlet, outlet a's with its box and a card in it, a card in branch
    b's vault, an open callback of the case."""
    tablets = {}
    for key in ("a", "b"):
        tablets[key] = await devices.register_device(ROOT, devices.DeviceForm(
            asset_tag=f"PAD-{key.upper()}-01", serial=f"SN{key.upper()}0001",
            imei=IMEIS[key], model="MatePad",
            purchase_date=None, org_id=ids[f"outlet_{key}"]))
    box = await TailBox.create(device=tablets["a"], org_id=ids["outlet_a"],
                               holder_id=agent_a.staff_id)
    card = await VoucherType.create(code="DEBIT", name_zh="借记卡", name_en="Debit card",
                                    serial_pattern=r"\d{16}")
    await Voucher.create(voucher_type=card, serial="6222000000000001", org_id=ids["outlet_a"],
                         box=box, state=VoucherState.IN_BOX, updated_at=utcnow())
    await Voucher.create(voucher_type=card, serial="6222000000000002", org_id=ids["branch_b"],
                         state=VoucherState.IN_VAULT, updated_at=utcnow())
    callback = await Callback.create(
        case_id=case_id, org_id=ids["outlet_a"], business_type_id=kind_id,
        field_agent_id=agent_a.staff_id, status=CallbackStatus.SCHEDULED, draw=1,
        scheduled_at=utcnow(), due_at=utcnow() + timedelta(days=1), created_at=utcnow())
    return {"tablet_a": tablets["a"].id, "box_a": box.id, "callback": callback.id}


async def find(world: World, who: str, term: str) -> SearchResults:
    """What one reader's search finds."""
    assert world.config.capture is not None
    return await search.search(world.actors[who], term, world.config.capture.cipher)


def hits(found: SearchResults, kind: Kind) -> list[str]:
    """The hits of one kind by what names them: case number, serial, tag, employee number."""
    for group in found.groups:
        if group.kind is kind:
            return [next(getattr(hit, name) for name in (
                "case_no", "asset_tag", "employee_no", "serial") if hasattr(hit, name))
                for hit in group.hits]
    return []


def kinds(found: SearchResults) -> set[Kind]:
    """The kinds a reader's search looked into."""
    return {group.kind for group in found.groups}


async def test_each_kind_is_found(world: World) -> None:
    a1, a2, a3 = NUMBERS["a1"], NUMBERS["a2"], NUMBERS["a3"]
    assert hits(await find(world, "auditor", a1.lower()), Kind.CASE) == [a1]
    assert hits(await find(world, "auditor", "YD2026112"), Kind.CASE) == [a3, a2, a1]
    for term in (ID_NUMBER.lower(), "110105 19491231 002x", "+86 138-1234-5678", "张三丰"):
        assert hits(await find(world, "auditor", term), Kind.CUSTOMER) == [a2, a1], term
    assert hits(await find(world, "auditor", "6222000000000001"), Kind.VOUCHER) == [
        "6222000000000001"]
    for term in ("pad-a", "SNA0001", "86000000000001"):
        assert hits(await find(world, "auditor", term), Kind.DEVICE) == ["PAD-A-01"], term
    assert hits(await find(world, "auditor", "e0101"), Kind.STAFF) == ["E0101"]
    assert hits(await find(world, "auditor", "李雷"), Kind.STAFF) == ["E0101"]
    found = await find(world, "auditor", "张三丰")
    assert [hit.customer_masked for hit in found.groups[1].hits] == ["张**", "张**"]


async def test_rows_of_another_org_are_not_found(world: World) -> None:
    outside = {NUMBERS["b1"]: Kind.CASE, "6222000000000002": Kind.VOUCHER,
               "PAD-B-01": Kind.DEVICE, "E0201": Kind.STAFF}
    for term, kind in outside.items():
        assert hits(await find(world, "auditor", term), kind) == [], term
        assert hits(await find(world, "province", term), kind) != [], term
    assert NUMBERS["b1"] not in hits(await find(world, "auditor", ID_NUMBER), Kind.CUSTOMER)
    assert NUMBERS["b1"] in hits(await find(world, "province", ID_NUMBER), Kind.CUSTOMER)


async def test_each_role_sees_only_the_kinds_it_reads(world: World) -> None:
    assert kinds(await find(world, "reviewer", ID_NUMBER)) == {Kind.CASE, Kind.CUSTOMER}
    assert kinds(await find(world, "auditor", ID_NUMBER)) == set(Kind)
    callbacks = await find(world, "callback_agent", MOBILE)
    assert kinds(callbacks) == {Kind.CALLBACK}
    assert [hit.callback_id for hit in callbacks.groups[0].hits] == [world.rows["callback"]]
    assert callbacks.groups[0].hits[0].customer_masked == "张**"


async def test_the_sysadmin_finds_no_customer_data(world: World) -> None:
    by_id = await find(world, "sysadmin", ID_NUMBER)
    assert Kind.CUSTOMER not in kinds(by_id) and by_id.customer is None
    assert hits(await find(world, "sysadmin", "张三丰"), Kind.CALLBACK) == []
    by_number = await find(world, "sysadmin", NUMBERS["a1"])
    assert [hit.customer_masked for hit in by_number.groups[0].hits] == [""]
    assert [hit.customer_masked for group in by_number.groups if group.kind is Kind.CALLBACK
            for hit in group.hits] == [""]
    assert not await AuditLog.exists(action="customer.search")
    with pytest.raises(PermissionDenied):
        await customers.customer_cases(world.actors["sysadmin"], world.cases["a1"],
                                       capture_context(Path()).cipher)


async def test_customer_searches_are_audited_with_the_term_masked(world: World) -> None:
    await find(world, "reviewer", ID_NUMBER.lower())
    await find(world, "callback_agent", "138 1234 5678")
    await find(world, "reviewer", "王五")
    for code in ("PAD-A-01", "PAD", "YD"):  # codes, never customer data: not audited
        await find(world, "reviewer", code)
    rows = await AuditLog.filter(action="customer.search").order_by("id")
    assert [(row.actor_id, row.detail) for row in rows] == [
        (world.actors["reviewer"].staff_id,
         {"kind": "id_number", "term": "110105********002X", "hits": 2, "more": False}),
        (world.actors["callback_agent"].staff_id,
         {"kind": "mobile", "term": "138****5678", "hits": 1, "more": False}),
        (world.actors["reviewer"].staff_id,
         {"kind": "name", "term": "王*", "hits": 1, "more": False})]
    logged = json.dumps([row.detail for row in await AuditLog.all()], ensure_ascii=False)
    assert ID_NUMBER not in logged and MOBILE not in logged and "王五" not in logged


async def test_empty_and_too_long_terms_are_refused(world: World) -> None:
    for term in ("", "   ", "x" * (search.MAX_TERM + 1)):
        with pytest.raises(DomainError):
            await find(world, "auditor", term)
    async with admin_site(world.config) as client:
        _, username = await web_user(world.ids["branch_a"], Role.AUDITOR, no="W1")
        await log_in(client, username)
        await submit(client, "/language", {"locale": "en", "next": "/"})
        blank = await client.get("/search", params={"q": "  "})
        assert blank.status == 200  # the page says what to type
        assert "Type a case number" in await blank.text()
        too_long = await client.get("/search", params={"q": "x" * 300})
        assert too_long.status == 400
        assert "64" in await too_long.text()


async def test_the_customer_page_lists_his_cases_in_scope_audited(world: World) -> None:
    cipher = capture_context(Path()).cipher
    reviewer = world.actors["reviewer"]
    customer = await customers.customer_cases(reviewer, world.cases["a2"], cipher)
    assert [c.case_no for c in customer.cases] == [NUMBERS["a2"], NUMBERS["a1"]]
    assert (customer.name_masked, customer.id_number_masked) == ("张**", "110105********002X")
    viewed = await AuditLog.get(action="customer.cases_view")
    assert (viewed.actor_id, viewed.object_id, viewed.detail["found"]) == (
        reviewer.staff_id, str(world.cases["a2"]), [world.cases["a2"], world.cases["a1"]])
    with pytest.raises(NotFound):
        await customers.customer_cases(reviewer, world.cases["b1"], cipher)
    with pytest.raises(PermissionDenied):
        await customers.customer_cases(world.actors["callback_agent"], world.cases["a1"], cipher)


async def test_results_page_links_each_kind_and_masks_the_customer(world: World) -> None:
    async with admin_site(world.config) as client:
        _, username = await web_user(world.ids["branch_a"], Role.AUDITOR, no="W1")
        await log_in(client, username)
        found = await submit(client, "/search", {"q": ID_NUMBER})  # the header box posts
        page = await found.text()
        assert f'href="/cases/{world.cases["a1"]}"' in page
        assert f'href="/customers/by-case/{world.cases["a2"]}"' in page
        assert "张**" in page
        assert "张三丰" not in page
        assert ID_NUMBER not in page and ID_NUMBER not in str(found.url)  # not even the address
        assert "110105********002X" in page
        for term in (ID_NUMBER, MOBILE, "张三丰"):  # customer data in an address: refused
            by_address = await client.get("/search", params={"q": term})
            assert by_address.status == 400, term
            assert term not in await by_address.text(), term
        assert await AuditLog.filter(action="customer.search").count() == 1
        devices_page = await (await client.get("/search", params={"q": "PAD-A"})).text()
        assert f'href="/devices/{world.rows["tablet_a"]}"' in devices_page
        box_page = await (await client.get("/search", params={"q": "6222"})).text()
        assert f'href="/vouchers/boxes/{world.rows["box_a"]}"' in box_page
        staff_page = await (await client.get("/search", params={"q": "E0101"})).text()
        assert f'href="/people/{world.actors["agent_a"].staff_id}"' in staff_page
        customer = await client.get(f"/customers/by-case/{world.cases['a1']}")
        assert customer.status == 200 and NUMBERS["a2"] in await customer.text()
    async with admin_site(world.config) as client:  # no person pages: the staff record
        _, username = await web_user(world.ids["province"], Role.SYSADMIN, no="W3")
        await log_in(client, username)
        staff_page = await (await client.get("/search", params={"q": "E0101"})).text()
        assert f'href="/staff/{world.actors["agent_a"].staff_id}"' in staff_page


async def test_search_box_in_chromium_leads_to_the_case(world: World, chromium: str) -> None:
    _, username = await web_user(world.ids["branch_a"], Role.REVIEWER, no="W2")
    server = TestServer(init_app(world.config), host="127.0.0.1")
    await server.start_server()
    try:
        async with browser_page(chromium) as page:
            await page.goto(str(server.make_url("/login")))
            await page.fill("input[name=username]", username)
            await page.fill("input[name=password]", "Secret-pass-123")
            await page.click("main form button.primary")
            await page.wait_for_url(str(server.make_url("/")))
            await page.fill("form.search input[name=q]", NUMBERS["a1"])
            await page.press("form.search input[name=q]", "Enter")
            await page.wait_for_url("**/search")
            await page.click(f"#found-case a:text('{NUMBERS['a1']}')")
            await page.wait_for_url(f"**/cases/{world.cases['a1']}")
            heading = await page.inner_text("h1")
            await page.click(f"a[href='/customers/by-case/{world.cases['a1']}']")
            await page.wait_for_url(f"**/customers/by-case/{world.cases['a1']}")
            listed = await page.inner_text("main table")
    finally:
        await server.close()
    assert NUMBERS["a1"] in heading
    assert NUMBERS["a2"] in listed and NUMBERS["b1"] not in listed

