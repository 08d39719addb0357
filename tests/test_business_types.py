"""Business types (issue 3): the ops admin configures them; C1/C5 photos, SLA and rate rules."""

from __future__ import annotations

import pytest

from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.models import AuditLog, BusinessType, PhotoKind, Role
from domain.platform.actors import Actor
from domain.platform.errors import DomainError, PermissionDenied
from tests.admin_support import admin_site, log_in, sent_back, submit, zh
from tests.factories import org_tree, person, web_user

BOTH_MANDATORY = frozenset({PhotoKind.ID_FRONT, PhotoKind.ONSITE_WITH_AGENT})
SMS = BusinessTypeForm("短信签约", "SMS alert sign-up", BOTH_MANDATORY, review_sla_minutes=10,
                       callback_rate=10)
PHOTOS_MSGID = ("Required photos must include the ID card portrait side (C1) and the on-site "
                "photo of the agent with the customer (C5).")


async def ops_admin(ids: dict[str, int] | None = None) -> Actor:
    """An ops admin at the province (of a new org tree unless one is given)."""
    ids = ids or await org_tree()
    _, actor = await person(ids["province"], Role.OPS_ADMIN, no="O001")
    return actor


def web_form(code: str = "SMS_ALERT", **overrides: str) -> list[tuple[str, str]]:
    """A business type form as the browser posts it."""
    fields = {"code": code, "name_zh": "短信签约", "name_en": "SMS alert sign-up",
              "review_sla_minutes": "10", "callback_rate": "10", "four_eyes": "1"} | overrides
    kinds = [("photo_kinds", "id_front"), ("photo_kinds", "onsite_with_agent")]
    return [*fields.items(), *kinds]


async def test_ops_admin_creates_a_type_with_an_audit_row(database_url: str) -> None:
    actor = await ops_admin()
    row = await business_types.create_business_type(actor, "sms_alert", SMS)
    assert row.code == "SMS_ALERT"
    assert row.required_photo_kinds == ["id_front", "onsite_with_agent"]
    assert row.voucher_type_code is None and row.active
    entry = await AuditLog.get(action="business_type.create", object_id=str(row.id))
    assert entry.detail["before"] is None
    assert entry.detail["after"]["review_sla_minutes"] == 10


async def test_reviewer_may_list_but_not_create(database_url: str) -> None:
    ids = await org_tree()
    _, reviewer = await person(ids["province"], Role.REVIEWER, no="R001")
    assert await business_types.list_business_types(reviewer) == []
    with pytest.raises(PermissionDenied):
        await business_types.create_business_type(reviewer, "SMS_ALERT", SMS)
    assert not await BusinessType.exists(code="SMS_ALERT")


async def test_field_agent_may_not_see_the_list(database_url: str) -> None:
    ids = await org_tree()
    _, agent = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001")
    with pytest.raises(PermissionDenied):
        await business_types.list_business_types(agent)


async def test_duplicate_code_is_refused(database_url: str) -> None:
    actor = await ops_admin()
    await business_types.create_business_type(actor, "SMS_ALERT", SMS)
    with pytest.raises(DomainError) as refused:
        await business_types.create_business_type(actor, "SMS_ALERT", SMS)
    assert refused.value.key == "Business type code %(code)s is already used."
    assert await BusinessType.all().count() == 1


@pytest.mark.parametrize("kinds", [
    frozenset({PhotoKind.ONSITE_WITH_AGENT, PhotoKind.ID_BACK}),
    frozenset({PhotoKind.ID_FRONT, PhotoKind.SIGNED_FORM}),
])
async def test_types_without_id_front_or_onsite_photo_are_refused(
    database_url: str, kinds: frozenset[PhotoKind]
) -> None:
    actor = await ops_admin()
    form = BusinessTypeForm("短信签约", "SMS alert sign-up", kinds)
    with pytest.raises(DomainError) as refused:
        await business_types.create_business_type(actor, "SMS_ALERT", form)
    assert refused.value.key == PHOTOS_MSGID


@pytest.mark.parametrize(("code", "form", "msgid"), [
    ("SMS ALERT", SMS, "Code %(code)s is not valid: use 2 to 32 capital letters, digits or "
                       "underscores, starting with a letter."),
    ("1SMS", SMS, "Code %(code)s is not valid: use 2 to 32 capital letters, digits or "
                  "underscores, starting with a letter."),
    ("SMS_ALERT", BusinessTypeForm(" ", "SMS", BOTH_MANDATORY),
     "Both the Chinese and the English name are required."),
    ("SMS_ALERT", BusinessTypeForm("短信签约", "SMS", frozenset()),
     "Choose at least one required photo kind."),
    ("SMS_ALERT", BusinessTypeForm("短信签约", "SMS", BOTH_MANDATORY, review_sla_minutes=0),
     "The review time limit must be a whole number of minutes from %(low)s to %(high)s."),
    ("SMS_ALERT", BusinessTypeForm("短信签约", "SMS", BOTH_MANDATORY, review_sla_minutes=241),
     "The review time limit must be a whole number of minutes from %(low)s to %(high)s."),
    ("SMS_ALERT", BusinessTypeForm("短信签约", "SMS", BOTH_MANDATORY, callback_rate=101),
     "The callback sampling rate must be a whole percentage from 0 to 100."),
    ("SMS_ALERT", BusinessTypeForm("短信签约", "SMS", BOTH_MANDATORY, callback_rate=None),
     "The callback sampling rate must be a whole percentage from 0 to 100."),
])
async def test_invalid_fields_are_refused_with_the_reason(
    database_url: str, code: str, form: BusinessTypeForm, msgid: str
) -> None:
    actor = await ops_admin()
    with pytest.raises(DomainError) as refused:
        await business_types.create_business_type(actor, code, form)
    assert refused.value.key == msgid
    assert not await BusinessType.exists()


async def test_update_and_deactivation_record_before_and_after(database_url: str) -> None:
    actor = await ops_admin()
    row = await business_types.create_business_type(actor, "SMS_ALERT", SMS)
    changed = BusinessTypeForm("短信签约", "SMS alert sign-up",
                               BOTH_MANDATORY | {PhotoKind.ID_BACK}, review_sla_minutes=20,
                               four_eyes=True, callback_rate=50)
    await business_types.update_business_type(actor, row.id, changed)
    await business_types.update_business_type(actor, row.id, changed)
    await business_types.set_active(actor, row.id, False)
    entries = await AuditLog.filter(object_type="business_type").order_by("id")
    assert [e.action for e in entries] == [
        "business_type.create", "business_type.update", "business_type.deactivate"]
    update = entries[1].detail
    assert (update["before"]["review_sla_minutes"], update["after"]["review_sla_minutes"]) == (
        10, 20)
    assert update["after"]["required_photo_kinds"] == ["id_front", "id_back", "onsite_with_agent"]
    assert (entries[2].detail["before"]["active"], entries[2].detail["after"]["active"]) == (
        True, False)
    assert await business_types.list_business_types(actor, active=True) == []


async def test_ops_admin_creates_and_edits_a_type_in_the_admin(database_url: str) -> None:
    ids = await org_tree()
    _, username = await web_user(ids["province"], Role.OPS_ADMIN, no="O001")
    async with admin_site() as client:
        await log_in(client, username)
        created = await submit(client, "/business-types/new", web_form(),
                               page="/business-types/new")
        created_page = await created.text()
        row = await BusinessType.get(code="SMS_ALERT")
        edited = await submit(client, f"/business-types/{row.id}",
                              web_form(name_en="SMS alerts", callback_rate="25"),
                              page=f"/business-types/{row.id}")
        edited_page = await edited.text()
        listing = await (await client.get("/business-types")).text()
    assert created.url.path == f"/business-types/{row.id}"
    assert zh("Business type %(code)s added.", code="SMS_ALERT") in created_page
    assert zh("Changes saved.") in edited_page
    await row.refresh_from_db()
    assert (row.name_en, row.callback_rate, row.four_eyes) == ("SMS alerts", 25, True)
    assert "短信签约" in listing and zh("ID card, portrait side") in listing


async def test_admin_form_shows_the_photo_rule_when_id_front_is_missing(database_url: str
                                                                        ) -> None:
    ids = await org_tree()
    _, username = await web_user(ids["province"], Role.OPS_ADMIN, no="O001")
    form = [f for f in web_form() if f != ("photo_kinds", "id_front")]
    async with admin_site() as client:
        await log_in(client, username)
        response = await submit(client, "/business-types/new", form, page="/business-types/new")
        page = await response.text()
    assert sent_back(response, "/business-types/new")
    assert zh(PHOTOS_MSGID) in page and 'value="短信签约"' in page
    assert not await BusinessType.exists()


async def test_reviewer_sees_the_list_but_may_not_post(database_url: str) -> None:
    ids = await org_tree()
    await business_types.create_business_type(await ops_admin(ids), "SMS_ALERT", SMS)
    _, username = await web_user(ids["province"], Role.REVIEWER, no="R001")
    async with admin_site() as client:
        await log_in(client, username)
        listing = await client.get("/business-types")
        page = await listing.text()
        refused = await submit(client, "/business-types/new", web_form("OTHER_TYPE"),
                               page="/business-types")
    assert listing.status == 200 and "短信签约" in page
    assert 'href="/business-types/new"' not in page
    assert refused.status == 403
    assert not await BusinessType.exists(code="OTHER_TYPE")


async def test_post_without_csrf_token_creates_nothing(database_url: str) -> None:
    ids = await org_tree()
    _, username = await web_user(ids["province"], Role.OPS_ADMIN, no="O001")
    async with admin_site() as client:
        await log_in(client, username)
        response = await client.post("/business-types/new", data=web_form())
    assert response.status == 403
    assert not await BusinessType.exists()



async def test_list_shows_the_name_of_the_chosen_language(database_url: str) -> None:
    ids = await org_tree()
    await business_types.create_business_type(await ops_admin(ids), "SMS_ALERT", SMS)
    _, username = await web_user(ids["province"], Role.SUPERVISOR, no="V001")
    async with admin_site() as client:
        await log_in(client, username)
        chinese = await (await client.get("/business-types")).text()
        await submit(client, "/language", {"locale": "en", "next": "/business-types"})
        english = await (await client.get("/business-types")).text()
    assert "<td>短信签约</td>" in chinese and "<td>SMS alert sign-up</td>" in english
