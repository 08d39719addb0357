"""Small builders for test data, going through the real domain services."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.flows.context import FlowContext
from domain.cases.capture_gate import CaptureContext, WorkingHours
from domain.ledgers import devices, qualification_basis, qualifications
from domain.models import (
    BusinessType,
    ConfidentialityPledge,
    Device,
    OutboxMessage,
    Qualification,
    QualificationBasis,
    QualificationStatus,
    Role,
    Staff,
)
from domain.people import auth, binding, orgs, staff
from domain.platform.actors import Actor, actor_for, system_actor
from domain.platform.clock import utcnow
from domain.platform.images import PhotoLimits
from domain.platform.media import MediaStore
from domain.platform.privacy import FieldCipher

ROOT = system_actor("tests")


async def org_tree() -> dict[str, int]:
    """A province with two branches, each with a sub-branch and an outlet."""
    province = await orgs.create_org(ROOT, code="P1", name="省分行", parent_id=None)
    ids = {"province": province.id}
    for key in ("a", "b"):
        branch = await orgs.create_org(ROOT, code=f"B{key}", name=f"二级分行{key}",
                                       parent_id=province.id)
        sub = await orgs.create_org(ROOT, code=f"S{key}", name=f"支行{key}", parent_id=branch.id)
        outlet = await orgs.create_org(ROOT, code=f"O{key}", name=f"网点{key}", parent_id=sub.id)
        ids |= {f"branch_{key}": branch.id, f"sub_{key}": sub.id, f"outlet_{key}": outlet.id}
    return ids


async def person(org_id: int, *roles: Role, no: str, name: str = "") -> tuple[Staff, Actor]:
    """A staff member with roles; returns the row and its actor."""
    row = await staff.create_staff(
        ROOT, staff.StaffForm(employee_no=no, name=name or f"员工{no}", org_id=org_id,
                              roles=frozenset(roles)),
    )
    if Role.FIELD_AGENT in roles:  # field agents here have confirmed the pledge (C10)
        await ConfidentialityPledge.create(staff=row, version=binding.PLEDGE_VERSION,
                                           channel="test", confirmed_at=utcnow())
    return row, await actor_for(row)


async def web_user(org_id: int, *roles: Role, no: str, password: str = "Secret-pass-123"
                   ) -> tuple[Staff, str]:
    """A staff member with a web log-in whose first password change is already done."""
    row, _ = await person(org_id, *roles, no=no)
    username = f"u{no}"
    initial = await staff.grant_web_login(ROOT, row.id, username)
    actor = await actor_for(row)
    await auth.change_password(actor, initial, password, password)
    return row, username


def capture_context(media_root: Path, **overrides: Any) -> CaptureContext:
    """The capture context tests use: a fixed data key, media under tmp, Shanghai hours."""
    values: dict[str, Any] = {
        "cipher": FieldCipher("a-test-secret-that-is-long-enough"),
        "media": MediaStore(media_root), "photo_limits": PhotoLimits(),
        "hours": WorkingHours(), "zone": ZoneInfo("Asia/Shanghai"),
    }
    return CaptureContext(**(values | overrides))


def flow_context(media_root: Path, public_url: str = "", **overrides: Any) -> FlowContext:
    """The chat flows' context for tests."""
    return FlowContext(capture=capture_context(media_root, **overrides), public_url=public_url)


async def operational(staff: Staff, *, business_type_ids: list[int] | None = None,
                      tablet: bool = True) -> None:
    """Make a field agent able to capture (Q1, Q2, D1, D2): counter qualification, grants
    for every active business type (or the given ones), a tablet issued and confirmed
    (unless tablet is False: qualified, waiting for a tablet or a hand-over)."""
    before = await OutboxMessage.all().order_by("-id").first()
    await qualification_basis.record_counter_qualification(ROOT, staff.id, f"GT{staff.employee_no}",
                                                      date(2020, 1, 6))
    type_ids = business_type_ids or await BusinessType.filter(active=True).order_by(
        "id").values_list("id", flat=True)
    await qualifications.grant(ROOT, staff.id, list(type_ids), QualificationBasis.COUNTER)
    if not tablet:
        await OutboxMessage.filter(id__gt=before.id if before else 0).delete()
        return
    number = await Device.all().count() + 1
    tablet = await devices.register_device(ROOT, devices.DeviceForm(
        asset_tag=f"PAD{number:05d}", serial=f"SN{number:08d}", imei=None, model="Huawei MatePad",
        purchase_date=date(2025, 3, 1), org_id=staff.org_id))  # type: ignore[attr-defined]
    await devices.issue_device(ROOT, tablet.id, staff.id)
    await devices.confirm_receipt(await actor_for(staff), tablet.id)
    # The ledgers' own notifications belong to the set-up, long before the test's first step.
    await OutboxMessage.filter(id__gt=before.id if before else 0).delete()


ISSUED_AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 business time


async def qualify(staff: Staff, business_type_id: int) -> None:
    """An active qualification, written directly (the qualification ledger is tested apart)."""
    await Qualification.create(staff=staff, business_type_id=business_type_id,
                               status=QualificationStatus.ACTIVE,
                               basis=QualificationBasis.COUNTER, granted_at=ISSUED_AT)
