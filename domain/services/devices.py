"""Device ledger and loss reports: register, issue, return, repair, retire, lose (D1–D3).

CONTRACT FILE: signatures and docstrings are fixed; bodies are being implemented.

in_stock --issue--> issued --return--> in_stock
issued | in_stock --lost--> lost --found--> in_stock
in_stock --repair--> in_repair --repaired--> in_stock
in_stock | in_repair --retire--> retired (final)
Any other transition is refused with the reason. Each transition appends a DeviceEvent with
both persons and the time, an audit row and, where someone must know, an outbox message.
Managing needs DEVICE_MANAGE (it_admin) within the actor's org subtree; reading
DEVICE_VIEW. Issue needs an active field agent holding at least one active qualification;
the agent confirms receipt in chat (button "dev:confirm:<device id>"); an issue unconfirmed
after 24 hours is flagged by a sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from domain.models import Device, DeviceEvent, DeviceState, Incident
from domain.services.actors import Actor
from domain.services.qualifications import ImportReport, SweepReport

RECEIPT_DEADLINE_HOURS = 24


@dataclass(frozen=True)
class DeviceForm:
    """A tablet as IT registers it."""

    asset_tag: str
    serial: str
    imei: str | None
    model: str
    purchase_date: date | None
    org_id: int


@dataclass(frozen=True)
class LossReport:
    """What the agent reports in chat with /loss (D3)."""

    what: str  # "device", "vouchers" or "papers"
    item: str  # asset tag for a device, serials or a description otherwise
    occurred_at: datetime | None
    place: str
    description: str


async def register_device(actor: Actor, form: DeviceForm) -> Device:
    """Register a tablet in stock in an org of the actor's subtree (D1)."""
    raise NotImplementedError


async def import_devices_csv(actor: Actor, text: str, *, all_or_nothing: bool,
                             progress: object | None = None) -> ImportReport:
    """Register tablets from CSV (asset_tag,serial,imei,model,purchase_date,org_code) with a
    row-by-row error report (D1)."""
    raise NotImplementedError


async def issue_device(actor: Actor, device_id: int, staff_id: int, note: str = "",
                       now: datetime | None = None) -> Device:
    """Issue an in-stock tablet to a qualified field agent; he is asked to confirm (D1)."""
    raise NotImplementedError


async def confirm_receipt(actor: Actor, device_id: int, now: datetime | None = None) -> Device:
    """The holder confirms in chat that he received the tablet (D1)."""
    raise NotImplementedError


async def return_device(actor: Actor, device_id: int, note: str = "",
                        now: datetime | None = None) -> Device:
    """Take an issued tablet back into stock (D1)."""
    raise NotImplementedError


async def mark_found(actor: Actor, device_id: int, note: str,
                     now: datetime | None = None) -> Device:
    """A lost tablet is found and back in stock (D3)."""
    raise NotImplementedError


async def send_to_repair(actor: Actor, device_id: int, note: str,
                         now: datetime | None = None) -> Device:
    """An in-stock tablet goes to repair (D1)."""
    raise NotImplementedError


async def mark_repaired(actor: Actor, device_id: int, note: str,
                        now: datetime | None = None) -> Device:
    """A repaired tablet is back in stock (D1)."""
    raise NotImplementedError


async def retire_device(actor: Actor, device_id: int, note: str,
                        now: datetime | None = None) -> Device:
    """Retire a tablet for good (D1)."""
    raise NotImplementedError


async def report_loss(actor: Actor, report: LossReport, now: datetime | None = None
                      ) -> Incident:
    """A field agent reports a loss: a lost device is marked lost at once, an incident
    opened, and the supervisors, IT and operations management of the agent's org chain
    alerted (D3). Freezing the device's tail box comes with the voucher ledger."""
    raise NotImplementedError


async def close_incident(actor: Actor, incident_id: int, resolution: str,
                         now: datetime | None = None) -> Incident:
    """An admin closes an incident with a resolution (INCIDENT_MANAGE) (D3)."""
    raise NotImplementedError


async def require_issued_device(staff_id: int) -> None:
    """Refuse capture without a tablet issued to the agent and confirmed, or while a device
    loss incident of his is open (D2, D3)."""
    raise NotImplementedError


async def my_devices(actor: Actor) -> list[Device]:
    """Tablets currently issued to the acting staff member (for /loss)."""
    raise NotImplementedError


async def list_devices(actor: Actor, *, state: DeviceState | None = None,
                       org_id: int | None = None, holder_id: int | None = None
                       ) -> list[Device]:
    """Tablets of the actor's org subtree with org and holder prefetched (D1)."""
    raise NotImplementedError


async def device_history(actor: Actor, device_id: int) -> tuple[Device, list[DeviceEvent]]:
    """A tablet in scope and its full register (D1)."""
    raise NotImplementedError


async def list_incidents(actor: Actor, *, status: str | None = None) -> list[Incident]:
    """Incidents of the actor's org subtree, newest first (D3, Q4)."""
    raise NotImplementedError


async def sweep_unconfirmed_receipts(now: datetime) -> SweepReport:
    """Flag issues unconfirmed after 24 hours once and tell IT (D1)."""
    raise NotImplementedError
