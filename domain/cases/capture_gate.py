"""The capture gate: who may capture a case of a business type, with which tablet and when
(C2, Q1, Q6, D2, D3), and the context the edges hand to capture."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from domain.ledgers import devices, qualifications
from domain.models import (
    BusinessType,
    Case,
    CaseStatus,
    ChatBinding,
    Device,
    Role,
    SpecialApproval,
    SpecialApprovalStatus,
    Staff,
    StaffRole,
)
from domain.platform.errors import N_, DomainError, PermissionDenied
from domain.platform.images import PhotoLimits
from domain.platform.media import MediaStore
from domain.platform.privacy import FieldCipher, RevealLimits

OTHER_TABLET = N_("This draft was started with tablet %(started)s, but you now hold %(now)s. "
                  "Its photos and voucher belong to the other tablet: cancel the draft and "
                  "capture the case again.")


@dataclass(frozen=True)
class WorkingHours:
    """Operating hours in business time: working weekdays (0 = Monday) and opening hours (C2)."""

    weekdays: frozenset[int] = field(default_factory=lambda: frozenset(range(5)))
    start: time = time(8, 30)
    end: time = time(17, 30)

    def covers(self, moment: datetime, zone: ZoneInfo) -> bool:
        """True when the moment falls on a working day within opening hours (C2)."""
        local = moment.astimezone(zone)
        return local.weekday() in self.weekdays and self.start <= local.time() < self.end


class LocationMode(StrEnum):
    """Whether the wizard asks for the shared location of the visit (setting)."""

    OFF = "off"
    OPTIONAL = "optional"
    REQUIRED = "required"


@dataclass(frozen=True)
class CaptureContext:
    """What the edges hand to capture: cipher (C10), media store (C9), limits (C7), hours (C2)."""

    cipher: FieldCipher
    media: MediaStore
    photo_limits: PhotoLimits
    hours: WorkingHours
    zone: ZoneInfo
    location_mode: LocationMode = LocationMode.OPTIONAL
    mis_issue_recovery_days: int = 7  # to take back the card of a closed case (V6)
    reveal_limits: RevealLimits = field(default_factory=RevealLimits)  # per person (C10, S2)
    photo_checks: Executor | None = None  # the composition root's process pool (issue 14)


async def capture_gate(staff_id: int, business_type_id: int, now: datetime,
                       ctx: CaptureContext) -> Device:
    """Refuse capture unless an active, bound, qualified agent holding his tablet works in
    hours or is approved; the tablet he captures with (C2, Q1, Q6, D2, D3). Checked when a
    draft starts, when a voucher is reserved and when a case is submitted."""
    staff = await Staff.get_or_none(id=staff_id)
    if staff is None or not staff.active:
        raise DomainError(N_("Your staff account is deactivated. Contact your administrator."))
    if not await StaffRole.exists(staff_id=staff_id, role=Role.FIELD_AGENT):
        raise PermissionDenied(N_("Only field agents can capture cases."))
    if not await ChatBinding.exists(staff_id=staff_id):
        raise DomainError(N_("Bind your chat account before you capture cases."))
    if not await BusinessType.exists(id=business_type_id, active=True):
        raise DomainError(N_("This business type is not offered for new cases."))
    await qualifications.require_active(staff_id, business_type_id, now, ctx.zone)
    device = await devices.require_issued_device(staff_id)
    if not ctx.hours.covers(now, ctx.zone) and not await _approved_window(staff_id, now):
        raise DomainError(
            N_("Cases can be captured only in working hours (%(start)s to %(end)s on working "
               "days). Outside them, ask for a special approval first."),
            start=ctx.hours.start.strftime("%H:%M"), end=ctx.hours.end.strftime("%H:%M"),
        )
    return device


async def gate_for(case: Case, now: datetime, ctx: CaptureContext) -> None:
    """The capture gate again for a case in progress; a draft keeps the tablet it was started
    with (D2): its photos and reserved voucher come from that tablet and its tail box. A
    returned case may be corrected with the tablet the agent holds now (C7, D2)."""
    device = await capture_gate(case.agent_id, case.business_type_id,  # type: ignore[attr-defined]
                                now, ctx)
    started = case.device_id  # type: ignore[attr-defined]
    if case.status == CaseStatus.DRAFT and started is not None and started != device.id:
        first = await Device.get(id=started)
        raise DomainError(OTHER_TABLET, started=first.asset_tag, now=device.asset_tag)


async def offered_business_types(staff_id: int, now: datetime, ctx: CaptureContext
                                 ) -> list[BusinessType]:
    """The active business types the gate lets the agent capture now; else the refusal (C2)."""
    offered = await BusinessType.filter(active=True).order_by("code")
    if not offered:
        raise DomainError(N_("No business type is offered for new cases yet."))
    open_types: list[BusinessType] = []
    refusal: DomainError | None = None
    for business_type in offered:
        try:
            await capture_gate(staff_id, business_type.id, now, ctx)
        except DomainError as refused:
            refusal = refusal or refused
            continue
        open_types.append(business_type)
    if refusal is not None and not open_types:
        raise refusal
    return open_types


async def _approved_window(staff_id: int, now: datetime) -> bool:
    """True when an approved special approval covers the moment (C2)."""
    return await SpecialApproval.exists(staff_id=staff_id, status=SpecialApprovalStatus.APPROVED,
                                        starts_at__lte=now, ends_at__gt=now)
