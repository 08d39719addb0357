"""Device ledger and loss reports: register, issue, return, repair, retire, lose (D1–D3).

in_stock --issue--> issued --return--> in_stock
issued | in_stock --lost--> lost --found--> in_stock
in_stock --repair--> in_repair --repaired--> in_stock
in_stock | in_repair --retire--> retired (final)
Any other transition is refused with the reason. Each transition appends a DeviceEvent with
both persons and the time, an audit row and, where someone must know, an outbox message.
Managing needs DEVICE_MANAGE (it_admin) within the actor's org subtree; reading
DEVICE_VIEW. Issue needs an active field agent holding at least one active qualification;
the agent confirms receipt in chat (the notice's `confirm_receipt` action); an issue unconfirmed
after 24 hours is flagged by a sweep.

Decisions: an agent holds at most one issued tablet, and a tablet goes only to an agent of
its own org or of an org below it. A lost tablet keeps its last holder until it is found.
An open device loss incident of an agent blocks his captures until an admin closes it or
issues him a tablet after the loss was reported (that newer issue must then be confirmed).
Tablets and incidents outside the actor's subtree are refused with PermissionDenied; ids
that do not exist with NotFound. Times in messages are shown in the business time zone
(`zone`, Asia/Shanghai unless given).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.ledgers import qualifications
from domain.ledgers.qualifications import (
    DEFAULT_INCIDENT_RULES,
    ImportReport,
    ImportRow,
    IncidentRules,
    SweepReport,
)
from domain.models import (
    Device,
    DeviceEvent,
    DeviceEventKind,
    DeviceState,
    Incident,
    IncidentKind,
    IncidentStatus,
    Org,
    Role,
    Staff,
    StaffRole,
    Voucher,
    VoucherState,
)
from domain.platform import audit, chains, events, outbox
from domain.platform.access import Permission, require, require_scope, scope_prefix
from domain.platform.actors import Actor, system_actor
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.events import DeviceLost, VouchersLost
from domain.platform.identity import normalise_serial
from domain.platform.intents import Action, Intent

RECEIPT_DEADLINE_HOURS = 24
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")
REPEATABLE_LOSSES = (IncidentKind.VOUCHER_LOSS, IncidentKind.PAPERS_LOSS)
TIME_FORMAT = "%Y-%m-%d %H:%M"
MAX_NOTE_LENGTH = 500
MAX_TEXT_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 1000
CSV_COLUMNS = ("asset_tag", "serial", "imei", "model", "purchase_date", "org_code")
IMEI = re.compile(r"[0-9]{15}", re.ASCII)
SERIAL_SEPARATORS = re.compile(r"[\s,，、;；]+")
LOSS_KINDS: dict[str, IncidentKind] = {
    "device": IncidentKind.DEVICE_LOSS, "vouchers": IncidentKind.VOUCHER_LOSS,
    "papers": IncidentKind.PAPERS_LOSS,
}
LOSS_ROLES = (Role.SUPERVISOR, Role.IT_ADMIN, Role.OPS_ADMIN)

TRANSITIONS: dict[DeviceEventKind, tuple[frozenset[DeviceState], DeviceState]] = {
    DeviceEventKind.ISSUED: (frozenset({DeviceState.IN_STOCK}), DeviceState.ISSUED),
    DeviceEventKind.RETURNED: (frozenset({DeviceState.ISSUED}), DeviceState.IN_STOCK),
    DeviceEventKind.LOST: (frozenset({DeviceState.ISSUED, DeviceState.IN_STOCK}),
                           DeviceState.LOST),
    DeviceEventKind.FOUND: (frozenset({DeviceState.LOST}), DeviceState.IN_STOCK),
    DeviceEventKind.SENT_TO_REPAIR: (frozenset({DeviceState.IN_STOCK}), DeviceState.IN_REPAIR),
    DeviceEventKind.REPAIRED: (frozenset({DeviceState.IN_REPAIR}), DeviceState.IN_STOCK),
    DeviceEventKind.RETIRED: (frozenset({DeviceState.IN_STOCK, DeviceState.IN_REPAIR}),
                              DeviceState.RETIRED),
}
STATE_REFUSALS: dict[DeviceState, str] = {
    DeviceState.IN_STOCK: N_("Tablet %(asset_tag)s is in stock: it is not issued, lost or in "
                             "repair, so this cannot be done."),
    DeviceState.ISSUED: N_("Tablet %(asset_tag)s is issued to %(holder)s; it must be returned "
                           "to stock first."),
    DeviceState.LOST: N_("Tablet %(asset_tag)s is reported lost; it must be found first."),
    DeviceState.IN_REPAIR: N_("Tablet %(asset_tag)s is in repair; it must be marked repaired "
                              "first."),
    DeviceState.RETIRED: N_("Tablet %(asset_tag)s is retired; nothing more can be done with "
                            "it."),
}
ISSUED_TO_AGENT = N_("Tablet %(asset_tag)s (%(model)s, serial number %(serial)s) was issued to "
                     "you by %(actor)s. Check it and press the button to confirm that you "
                     "received it.")
UNCONFIRMED_TO_IT = N_("Tablet %(asset_tag)s, issued to %(holder)s at %(issued)s, has still not "
                       "been confirmed as received after %(hours)s hours.")
LOSS_ALERTS: dict[IncidentKind, str] = {
    IncidentKind.DEVICE_LOSS: N_(
        "Loss reported by %(agent)s (%(org)s): tablet %(item)s, lost at %(when)s, place: "
        "%(place)s.\nWhat happened: %(description)s\nThe tablet is marked lost; incident "
        "#%(incident)s is open."),
    IncidentKind.VOUCHER_LOSS: N_(
        "Loss reported by %(agent)s (%(org)s): vouchers %(item)s, lost at %(when)s, place: "
        "%(place)s.\nWhat happened: %(description)s\nIncident #%(incident)s is open."),
    IncidentKind.PAPERS_LOSS: N_(
        "Loss reported by %(agent)s (%(org)s): customer papers %(item)s, lost at %(when)s, "
        "place: %(place)s.\nWhat happened: %(description)s\nIncident #%(incident)s is open."),
}
INCIDENT_CLOSED_TO_STAFF = N_("Incident #%(incident)s (%(item)s) was closed by %(actor)s. "
                              "Resolution: %(resolution)s")

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


# --- register ----------------------------------------------------------------------------


async def register_device(actor: Actor, form: DeviceForm, *, zone: ZoneInfo = DEFAULT_ZONE
                          ) -> Device:
    """Register a tablet in stock in an org of the actor's subtree (D1)."""
    require(actor, Permission.DEVICE_MANAGE)
    clean = _clean_form(form, utcnow().astimezone(zone).date())
    async with in_transaction():
        org = await Org.get_or_none(id=clean.org_id)
        if org is None:
            raise NotFound(N_("No such organisation."))
        require_scope(actor, org)
        await _refuse_duplicates(clean)
        device = await Device.create(asset_tag=clean.asset_tag, serial=clean.serial,
                                     imei=clean.imei, model=clean.model,
                                     purchase_date=clean.purchase_date, org=org)
        await _append(actor, device, DeviceEventKind.REGISTERED, None, utcnow(), "", None)
    return device


def _clean_form(form: DeviceForm, today: date) -> DeviceForm:
    """Trimmed fields (full-width digits of tags, serials and IMEI read as digits), refused
    when empty, too long, a bad IMEI or a future purchase (D1)."""
    asset_tag = _required(normalise_serial(form.asset_tag),
                          N_("Enter the asset tag of the tablet."), 32)
    serial = _required(normalise_serial(form.serial),
                       N_("Enter the serial number of the tablet."), 64)
    model = _required(form.model, N_("Enter the model of the tablet."), 100)
    imei = "".join(normalise_serial(form.imei or "").split()) or None
    if imei is not None:
        validate_imei(imei)
    if form.purchase_date is not None and form.purchase_date > today:
        raise DomainError(N_("The purchase date cannot be in the future."))
    return DeviceForm(asset_tag, serial, imei, model, form.purchase_date, form.org_id)


def _required(value: str, missing: str, max_length: int) -> str:
    """A trimmed text field, refused when empty or longer than the column."""
    clean = " ".join(value.split())
    if not clean:
        raise DomainError(missing)
    if len(clean) > max_length:
        raise DomainError(N_("%(value)s is too long for this field (at most %(max)s "
                             "characters)."), value=clean, max=max_length)
    return clean


def validate_imei(imei: str) -> None:
    """Refuse an IMEI that is not 15 digits or fails its Luhn check digit (D1)."""
    if not IMEI.fullmatch(imei):
        raise DomainError(N_("The IMEI must be 15 digits."))
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(imei)):
        doubled = digit * 2 if position % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    if total % 10:
        raise DomainError(N_("The IMEI %(value)s fails its check digit."), value=imei)


async def _refuse_duplicates(form: DeviceForm) -> None:
    """Refuse a second tablet with the same asset tag, serial number or IMEI, naming it (D1)."""
    if await Device.exists(asset_tag=form.asset_tag):
        raise DomainError(N_("A tablet with asset tag %(value)s is already registered."),
                          value=form.asset_tag, field="asset_tag")
    if await Device.exists(serial=form.serial):
        raise DomainError(N_("A tablet with serial number %(value)s is already registered."),
                          value=form.serial, field="serial")
    if form.imei is not None and await Device.exists(imei=form.imei):
        raise DomainError(N_("A tablet with IMEI %(value)s is already registered."),
                          value=form.imei, field="imei")


# --- CSV import --------------------------------------------------------------------------


class _Rollback(Exception):
    """Raised inside the all-or-nothing transaction to undo a file with bad rows."""

    def __init__(self, errors: list[ImportRow]) -> None:
        super().__init__(len(errors))
        self.errors = errors


async def import_devices_csv(actor: Actor, text: str, *, all_or_nothing: bool,
                             progress: object | None = None, zone: ZoneInfo = DEFAULT_ZONE
                             ) -> ImportReport:
    """Register tablets from CSV (asset_tag,serial,imei,model,purchase_date,org_code) with a
    row-by-row error report (D1).

    `progress(done, total, label)` is called after each row; a refused row is reported with
    its msgid and parameters. With `all_or_nothing` one bad row leaves the whole file
    unimported; without it every good row is kept.
    """
    require(actor, Permission.DEVICE_MANAGE)
    rows = _csv_rows(text)
    steps = _RowImport(actor, len(rows), progress, zone)
    if all_or_nothing:
        try:
            async with in_transaction():
                imported, errors = await steps.run(rows)
                if errors:
                    raise _Rollback(errors)
        except _Rollback as undone:
            imported, errors = 0, undone.errors
    else:
        imported, errors = await steps.run(rows)
    report = ImportReport(len(rows), imported, tuple(errors), all_or_nothing)
    await audit.record(actor, "device.import", "device", org_id=actor.org_id, detail={
        "read": report.read, "imported": report.imported, "errors": len(errors),
        "all_or_nothing": all_or_nothing})
    return report


@dataclass(frozen=True)
class _RowImport:
    """Registers CSV rows one by one, each in its own savepoint, reporting progress."""

    actor: Actor
    total: int
    progress: object | None
    zone: ZoneInfo

    async def run(self, rows: list[tuple[int, list[str]]]) -> tuple[int, list[ImportRow]]:
        """Register every row; returns how many were imported and the refused rows."""
        imported, errors = 0, []
        for done, (line, values) in enumerate(rows, start=1):
            try:
                await register_device(self.actor, await _form_of(values), zone=self.zone)
                imported += 1
            except DomainError as refusal:
                errors.append(ImportRow(line, refusal.key, dict(refusal.params)))
            if callable(self.progress):
                self.progress(done, self.total, values[0] or f"#{line}")
        return imported, errors


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """The non-empty data rows with their line numbers; a wrong header refuses the file."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = tuple(name.strip().lower() for name in next(reader, []))
    if header != CSV_COLUMNS:
        raise DomainError(N_("The first line must be the header %(columns)s."),
                          columns=",".join(CSV_COLUMNS))
    return [(line, [value.strip() for value in values])
            for line, values in enumerate(reader, start=2) if any(v.strip() for v in values)]


async def _form_of(values: list[str]) -> DeviceForm:
    """The form of one CSV row: column count, purchase date and org code checked (D1)."""
    if len(values) != len(CSV_COLUMNS):
        raise DomainError(N_("This row has %(found)s columns instead of %(expected)s."),
                          found=len(values), expected=len(CSV_COLUMNS))
    asset_tag, serial, imei, model, purchased, org_code = values
    org = await Org.get_or_none(code=org_code)
    if org is None:
        raise DomainError(N_("No organisation has the code %(code)s."), code=org_code)
    return DeviceForm(asset_tag, serial, imei or None, model, _date(purchased), org.id)


def _date(text: str) -> date | None:
    """An ISO date from a CSV cell; empty means unknown."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError(N_("%(value)s is not a date; write it as YYYY-MM-DD."),
                          value=text) from None


# --- issue, receipt, return and other transitions ----------------------------------------


async def issue_device(actor: Actor, device_id: int, staff_id: int, note: str = "",
                       now: datetime | None = None, *, zone: ZoneInfo = DEFAULT_ZONE
                       ) -> Device:
    """Issue an in-stock tablet to a qualified field agent; he is asked to confirm (D1)."""
    moment = now or utcnow()
    async with in_transaction():
        device = await _managed(actor, device_id)
        await _require_state(device, DeviceEventKind.ISSUED)
        agent = await _issuable_agent(actor, staff_id, device, moment, zone)
        event = await _transition(actor, device, DeviceEventKind.ISSUED, moment, note,
                                  holder=agent)
        await outbox.enqueue(
            agent.id, ISSUED_TO_AGENT,
            {"asset_tag": device.asset_tag, "model": device.model, "serial": device.serial,
             "actor": actor.label},
            intent=Intent.of("device.issued", device.id, Action.CONFIRM_RECEIPT),
            idempotency_key=f"device:{device.id}:issued:{event.id}")
    return device


async def _issuable_agent(actor: Actor, staff_id: int, device: Device, moment: datetime,
                          zone: ZoneInfo) -> Staff:
    """An active, qualified field agent in scope below the tablet's org with no tablet (D1)."""
    agent = await Staff.get_or_none(id=staff_id).prefetch_related("org")
    if agent is None:
        raise NotFound(N_("No such staff member."))
    require_scope(actor, agent.org)
    if not agent.active:
        raise DomainError(N_("%(name)s is deactivated; a tablet cannot be issued to him."),
                          name=agent.name)
    if not await StaffRole.exists(staff_id=agent.id, role=Role.FIELD_AGENT):
        raise DomainError(N_("%(name)s is not a field agent; tablets are issued only to field "
                             "agents."), name=agent.name)
    if not await qualifications.is_qualified(agent.id, moment, zone):
        raise DomainError(N_("%(name)s holds no active qualification; a tablet is issued only "
                             "to a qualified field agent."), name=agent.name)
    device_org = await Org.get(id=device.org_id)  # type: ignore[attr-defined]
    if not agent.org.path.startswith(device_org.path):
        raise DomainError(N_("Tablet %(asset_tag)s belongs to %(org)s; it can be issued only to "
                             "an agent of that organisation or below it."),
                          asset_tag=device.asset_tag, org=device_org.name)
    held = await Device.filter(holder_id=agent.id, state=DeviceState.ISSUED).first()
    if held is not None:
        raise DomainError(N_("%(name)s already holds tablet %(asset_tag)s; it must be returned "
                             "first."), name=agent.name, asset_tag=held.asset_tag)
    return agent


async def confirm_receipt(actor: Actor, device_id: int, now: datetime | None = None) -> Device:
    """The holder confirms in chat that he received the tablet (D1)."""
    moment = now or utcnow()
    async with in_transaction():
        device = await _locked(device_id)
        if device.state != DeviceState.ISSUED or device.holder_id != actor.staff_id:  # type: ignore[attr-defined]
            raise PermissionDenied(N_("Tablet %(asset_tag)s is not issued to you."),
                                   asset_tag=device.asset_tag)
        won = await Device.filter(id=device.id, receipt_confirmed_at=None).update(
            receipt_confirmed_at=moment)
        if not won:
            raise DomainError(N_("You already confirmed the receipt of tablet %(asset_tag)s."),
                              asset_tag=device.asset_tag)
        device.receipt_confirmed_at = moment
        await _append(actor, device, DeviceEventKind.RECEIPT_CONFIRMED, device.state, moment,
                      "", actor.staff_id)
    return device


async def hand_over_with_box(actor: Actor, device_id: int, taker_id: int, moment: datetime
                             ) -> DeviceEvent:
    """The tablet goes with its tail box to the new holder, whose matching count of the box
    is his receipt: one register entry naming him (V3, D1, D2). Call inside the hand-over's
    transaction."""
    device = await _locked(device_id)
    if device.state != DeviceState.ISSUED:
        raise DomainError(N_("Tablet %(asset_tag)s is %(state)s; only an issued tablet is "
                             "handed over with its tail box."), asset_tag=device.asset_tag,
                          state=device.state.value)
    device.holder_id, device.issued_at = taker_id, moment  # type: ignore[attr-defined]
    device.receipt_confirmed_at, device.receipt_flagged_at = moment, None
    await device.save()
    return await _append(actor, device, DeviceEventKind.HANDED_OVER, DeviceState.ISSUED, moment,
                         "", taker_id)


async def return_device(actor: Actor, device_id: int, note: str = "",
                        now: datetime | None = None) -> Device:
    """Take an issued tablet back into stock (D1)."""
    return await _managed_transition(actor, device_id, DeviceEventKind.RETURNED, note, now)


async def mark_found(actor: Actor, device_id: int, note: str,
                     now: datetime | None = None) -> Device:
    """A lost tablet is found and back in stock (D3)."""
    return await _managed_transition(actor, device_id, DeviceEventKind.FOUND, note, now)


async def send_to_repair(actor: Actor, device_id: int, note: str,
                         now: datetime | None = None) -> Device:
    """An in-stock tablet goes to repair (D1)."""
    return await _managed_transition(actor, device_id, DeviceEventKind.SENT_TO_REPAIR, note,
                                     now)


async def mark_repaired(actor: Actor, device_id: int, note: str,
                        now: datetime | None = None) -> Device:
    """A repaired tablet is back in stock (D1)."""
    return await _managed_transition(actor, device_id, DeviceEventKind.REPAIRED, note, now)


async def retire_device(actor: Actor, device_id: int, note: str,
                        now: datetime | None = None) -> Device:
    """Retire a tablet for good (D1)."""
    return await _managed_transition(actor, device_id, DeviceEventKind.RETIRED, note, now)


async def _managed_transition(actor: Actor, device_id: int, kind: DeviceEventKind, note: str,
                              now: datetime | None) -> Device:
    """One admin transition of a tablet in scope, in its own transaction (D1)."""
    async with in_transaction():
        device = await _managed(actor, device_id)
        await _transition(actor, device, kind, now or utcnow(), note)
    return device


async def _managed(actor: Actor, device_id: int) -> Device:
    """A tablet the actor may manage, locked for the change (D1)."""
    require(actor, Permission.DEVICE_MANAGE)
    device = await _locked(device_id)
    require_scope(actor, await Org.get(id=device.org_id))  # type: ignore[attr-defined]
    return device


async def _locked(device_id: int) -> Device:
    """Load a tablet, locking its row on PostgreSQL so concurrent changes queue up."""
    device = await Device.filter(id=device_id).select_for_update().first()
    if device is None:
        raise NotFound(N_("No such tablet."))
    return device


async def _require_state(device: Device, kind: DeviceEventKind) -> None:
    """Refuse a transition the current state does not allow, naming that state (D1)."""
    if device.state in TRANSITIONS[kind][0]:
        return
    holder = await Staff.get_or_none(id=device.holder_id)  # type: ignore[attr-defined]
    raise DomainError(STATE_REFUSALS[device.state], asset_tag=device.asset_tag,
                      holder=_label(holder), state=device.state.value)


async def _transition(actor: Actor, device: Device, kind: DeviceEventKind, moment: datetime,
                      note: str, *, holder: Staff | None = None) -> DeviceEvent:
    """Move the tablet to its next state, keeping holder and dates in step, and register it."""
    await _require_state(device, kind)
    from_state, previous_holder = device.state, device.holder_id  # type: ignore[attr-defined]
    device.state = TRANSITIONS[kind][1]
    if holder is not None:
        device.holder_id, device.issued_at = holder.id, moment  # type: ignore[attr-defined]
        device.receipt_confirmed_at = device.receipt_flagged_at = None
    elif device.state == DeviceState.IN_STOCK:
        device.holder_id = device.issued_at = None  # type: ignore[attr-defined]
        device.receipt_confirmed_at = device.receipt_flagged_at = None
    await device.save()
    return await _append(actor, device, kind, from_state, moment, note,
                         holder.id if holder is not None else previous_holder)


async def _append(actor: Actor, device: Device, kind: DeviceEventKind,
                  from_state: DeviceState | None, moment: datetime, note: str,
                  holder_id: int | None) -> DeviceEvent:
    """Append the register entry with both persons and the time, and its audit row (D1)."""
    holder = await Staff.get_or_none(id=holder_id) if holder_id is not None else None
    clean_note = " ".join(note.split())[:MAX_NOTE_LENGTH]
    event = await DeviceEvent.create(
        device=device, kind=kind, from_state=from_state, to_state=device.state,
        holder_id=holder_id, holder_label=_label(holder), actor_id=actor.staff_id,
        actor_label=actor.label, note=clean_note, at=moment)
    await audit.record(actor, f"device.{kind.value}", "device", device.id,
                       org_id=device.org_id,  # type: ignore[attr-defined]
                       detail={"asset_tag": device.asset_tag, "from": from_state,
                               "to": device.state.value, "holder_id": holder_id,
                               "note": clean_note})
    return event


def _label(staff: Staff | None) -> str:
    """How a person is named in the register: employee number and name."""
    return f"{staff.employee_no} {staff.name}" if staff is not None else ""


# --- loss and incidents ------------------------------------------------------------------


async def report_loss(actor: Actor, report: LossReport, now: datetime | None = None, *,
                      rules: IncidentRules = DEFAULT_INCIDENT_RULES,
                      zone: ZoneInfo = DEFAULT_ZONE) -> Incident:
    """A field agent reports a loss: a lost device is marked lost at once, an incident
    opened, and the supervisors, IT and operations management of the agent's org chain
    alerted (D3). A lost tablet freezes its tail box; the serials of the agent's own box
    named in the item of a voucher loss (split on spaces and commas) go void-pending under
    the incident, and a mass loss makes it major (V6, Q4); other words of the item stay in
    the incident only. `rules` are the configured thresholds of Q4 and K2."""
    if actor.staff_id is None or not actor.has(Role.FIELD_AGENT):
        raise PermissionDenied(N_("Only field agents can report a loss."))
    moment = now or utcnow()
    clean = _clean_report(report, moment)
    async with in_transaction():
        agent = await Staff.get(id=actor.staff_id).prefetch_related("org")
        device = await _own_issued(agent, clean.item) if clean.what == "device" else None
        repeated = clean.what != "device" and await Incident.exists(
            staff_id=agent.id, kind__in=list(REPEATABLE_LOSSES))
        incident = await Incident.create(
            kind=LOSS_KINDS[clean.what], staff=agent, org=agent.org, device=device,
            item=clean.item, occurred_at=clean.occurred_at, place=clean.place,
            description=clean.description, major=repeated,
            detail={"what": clean.what, "repeated_loss": repeated},
            reported_by=agent, reported_at=moment)
        if repeated:
            await qualifications.major_incident_recorded(agent.id, moment, rules)
        if device is not None:
            await _transition(actor, device, DeviceEventKind.LOST, moment,
                              f"#{incident.id} {clean.description}")
            await events.publish(DeviceLost(actor, device.id,
                                            f"#{incident.id} {clean.description}", moment))
        elif clean.what == "vouchers" and (serials := await _own_box_serials(agent, clean.item)):
            await events.publish(VouchersLost(
                actor, tuple(serials), clean.description, incident.id, moment,
                rules.major_incident_threshold, rules.mass_loss_threshold))
        await audit.record(actor, "incident.reported", "incident", incident.id,
                           org_id=agent.org.id, detail={
                               "kind": incident.kind.value, "item": clean.item,
                               "device_id": device.id if device else None})
        await _alert_chain(incident, agent, zone)
    return incident


def _clean_report(report: LossReport, moment: datetime) -> LossReport:
    """The report trimmed and checked: known kind, item, place, description, no future time."""
    if report.what not in LOSS_KINDS:
        raise DomainError(N_("Say whether a tablet, vouchers or customer papers were lost."))
    item = _required(report.item, N_("Say which item was lost."), MAX_TEXT_LENGTH)
    place = _required(report.place, N_("Say where the loss happened."), MAX_TEXT_LENGTH)
    description = _required(report.description, N_("Describe briefly what happened."),
                            MAX_DESCRIPTION_LENGTH)
    occurred_at = report.occurred_at or moment
    if occurred_at > moment + timedelta(minutes=1):
        raise DomainError(N_("The time of the loss cannot be in the future."))
    return LossReport(report.what, item, occurred_at, place, description)


async def _own_box_serials(agent: Staff, item: str) -> list[str]:
    """The words of a loss item that are serials in the agent's own tail box (V6)."""
    words = [word for word in map(normalise_serial, SERIAL_SEPARATORS.split(item)) if word]
    return list(await Voucher.filter(
        serial__in=words, box__holder_id=agent.id,
        state__in=[VoucherState.IN_BOX, VoucherState.RESERVED]).order_by("serial").values_list(
        "serial", flat=True)) if words else []


async def _own_issued(agent: Staff, asset_tag: str) -> Device:
    """The reporter's own issued tablet with this asset tag, locked (D3)."""
    device = await Device.filter(asset_tag=asset_tag, holder_id=agent.id,
                                 state=DeviceState.ISSUED).select_for_update().first()
    if device is None:
        raise DomainError(N_("Tablet %(asset_tag)s is not issued to you."), asset_tag=asset_tag)
    return device


async def _alert_chain(incident: Incident, agent: Staff, zone: ZoneInfo) -> None:
    """Queue one alert per supervisor, IT and operations admin of the agent's org chain (D3)."""
    org: Org = agent.org
    assert incident.occurred_at is not None
    params = {"agent": _label(agent), "org": org.name, "item": incident.item,
              "when": incident.occurred_at.astimezone(zone).strftime(TIME_FORMAT),
              "place": incident.place, "description": incident.description,
              "incident": incident.id}
    for recipient in await chains.staff_in_chain(org, *LOSS_ROLES):
        if recipient.id == agent.id:
            continue
        await outbox.enqueue(recipient.id, LOSS_ALERTS[incident.kind], params,
                             intent=Intent.of("incident.reported", incident.id),
                             idempotency_key=f"incident:{incident.id}:reported:{recipient.id}")


async def close_incident(actor: Actor, incident_id: int, resolution: str,
                         now: datetime | None = None) -> Incident:
    """An admin closes an incident with a resolution (INCIDENT_MANAGE) (D3)."""
    require(actor, Permission.INCIDENT_MANAGE)
    clean = _required(resolution, N_("Write how the incident was resolved."),
                      MAX_DESCRIPTION_LENGTH)
    moment = now or utcnow()
    async with in_transaction():
        incident = await _incident_in_scope(actor, incident_id)
        await _change_once(incident, {"status": IncidentStatus.OPEN}, {
            "status": IncidentStatus.CLOSED, "closed_by_id": actor.staff_id,
            "closed_at": moment, "resolution": clean,
        }, N_("Incident #%(incident)s is already closed."))
        await audit.record(actor, "incident.closed", "incident", incident.id,
                           org_id=incident.org.id, detail={"resolution": clean})
        if incident.staff_id is not None:  # type: ignore[attr-defined]
            await outbox.enqueue(
                incident.staff_id,  # type: ignore[attr-defined]
                INCIDENT_CLOSED_TO_STAFF, {"incident": incident.id, "item": incident.item,
                                           "actor": actor.label, "resolution": clean},
                intent=Intent.of("incident.closed", incident.id),
                idempotency_key=f"incident:{incident.id}:closed")
    return await Incident.get(id=incident.id).prefetch_related("org", "staff", "device")


async def mark_major(actor: Actor, incident_id: int, reason: str,
                     now: datetime | None = None, *,
                     rules: IncidentRules = DEFAULT_INCIDENT_RULES) -> Incident:
    """Operations management marks an incident major (identity not verified, customer data
    leaked, mass loss…), which counts toward withdrawal and retraining (Q4, K2)."""
    require(actor, Permission.INCIDENT_MANAGE)
    clean = _required(reason, N_("Say why the incident is major."), MAX_DESCRIPTION_LENGTH)
    async with in_transaction():
        incident = await _incident_in_scope(actor, incident_id)
        await _change_once(incident, {"major": False}, {
            "major": True, "detail": incident.detail | {"major_reason": clean},
        }, N_("Incident #%(incident)s is already marked major."))
        await audit.record(actor, "incident.marked_major", "incident", incident.id,
                           org_id=incident.org.id, detail={"reason": clean})
        if incident.staff_id is not None:  # type: ignore[attr-defined]
            await qualifications.major_incident_recorded(
                incident.staff_id, now or utcnow(), rules)  # type: ignore[attr-defined]
    return await Incident.get(id=incident.id).prefetch_related("org", "staff", "device")


async def _change_once(incident: Incident, guard: dict[str, Any], values: dict[str, Any],
                       refusal: str) -> None:
    """Update the incident only while `guard` holds; a second, concurrent change is refused."""
    if not await Incident.filter(id=incident.id, **guard).update(**values):
        raise DomainError(refusal, incident=incident.id)


async def _incident_in_scope(actor: Actor, incident_id: int) -> Incident:
    """An incident of the actor's org subtree."""
    incident = await Incident.filter(id=incident_id).select_for_update().first()
    if incident is None:
        raise NotFound(N_("No such incident."))
    await incident.fetch_related("org")
    require_scope(actor, incident.org)
    return incident


# --- the capture gate and reads ----------------------------------------------------------


async def require_issued_device(staff_id: int) -> Device:
    """The tablet issued to the agent and confirmed, which he captures with; refused without
    one, or while a device loss incident of his is open (D2, D3)."""
    device = await Device.filter(holder_id=staff_id, state=DeviceState.ISSUED).order_by(
        "-issued_at").first()
    loss = await Incident.filter(staff_id=staff_id, kind=IncidentKind.DEVICE_LOSS,
                                 status=IncidentStatus.OPEN).order_by("-reported_at").first()
    if loss is not None and (device is None or device.issued_at is None
                             or device.issued_at <= loss.reported_at):
        raise DomainError(N_("A device loss you reported (incident #%(incident)s) is still "
                             "open. You can capture cases again once an administrator closes "
                             "it or issues you another tablet."), incident=loss.id)
    if device is None:
        raise DomainError(N_("No tablet is issued to you. Ask the IT department to issue one "
                             "before you capture cases."))
    if device.receipt_confirmed_at is None:
        raise DomainError(N_("Confirm the receipt of tablet %(asset_tag)s first: press Confirm "
                             "receipt under the message about its issue."),
                          asset_tag=device.asset_tag)
    return device


async def my_devices(actor: Actor) -> list[Device]:
    """Tablets currently issued to the acting staff member (for /loss)."""
    if actor.staff_id is None:
        return []
    return await Device.filter(holder_id=actor.staff_id, state=DeviceState.ISSUED).order_by(
        "asset_tag")


def receipt_overdue(device: Device, now: datetime) -> bool:
    """An issued tablet whose holder has not confirmed receipt within 24 hours (D1)."""
    if device.state != DeviceState.ISSUED or device.receipt_confirmed_at is not None:
        return False
    return device.receipt_flagged_at is not None or (
        device.issued_at is not None
        and now - device.issued_at > timedelta(hours=RECEIPT_DEADLINE_HOURS))


def _receipt_overdue_filter(now: datetime) -> Q:
    """`receipt_overdue` as a query condition (D1)."""
    return Q(state=DeviceState.ISSUED, receipt_confirmed_at__isnull=True) & (
        Q(receipt_flagged_at__isnull=False)
        | Q(issued_at__lt=now - timedelta(hours=RECEIPT_DEADLINE_HOURS)))


async def count_unconfirmed_issues(actor: Actor, now: datetime | None = None) -> int:
    """Issued tablets of the actor's subtree not confirmed within 24 hours (D1)."""
    require(actor, Permission.DEVICE_VIEW)
    return await Device.filter(_receipt_overdue_filter(now or utcnow()),
                               org__path__startswith=scope_prefix(actor)).count()


async def list_devices(actor: Actor, *, state: DeviceState | None = None,
                       org_id: int | None = None, holder_id: int | None = None,
                       unconfirmed: bool = False) -> list[Device]:
    """Tablets of the actor's org subtree with org and holder prefetched, only those whose
    receipt is overdue when `unconfirmed` (D1)."""
    require(actor, Permission.DEVICE_VIEW)
    prefix = scope_prefix(actor)
    if org_id is not None:
        org = await Org.get_or_none(id=org_id)
        if org is None:
            raise NotFound(N_("No such organisation."))
        require_scope(actor, org)
        prefix = org.path
    query = Device.filter(org__path__startswith=prefix)
    if state is not None:
        query = query.filter(state=state)
    if holder_id is not None:
        query = query.filter(holder_id=holder_id)
    if unconfirmed:
        query = query.filter(_receipt_overdue_filter(utcnow()))
    return await query.prefetch_related("org", "holder").order_by("asset_tag")


async def device_history(actor: Actor, device_id: int) -> tuple[Device, list[DeviceEvent]]:
    """A tablet in scope and its full register (D1)."""
    require(actor, Permission.DEVICE_VIEW)
    device = await Device.get_or_none(id=device_id).prefetch_related("org", "holder")
    if device is None:
        raise NotFound(N_("No such tablet."))
    require_scope(actor, device.org)
    return device, await DeviceEvent.filter(device_id=device.id).order_by("id")


async def list_incidents(actor: Actor, *, status: str | None = None) -> list[Incident]:
    """Incidents of the actor's org subtree, newest first (D3, Q4)."""
    require(actor, Permission.INCIDENT_VIEW)
    query = Incident.filter(org__path__startswith=scope_prefix(actor))
    if status:
        query = query.filter(status=IncidentStatus(status))
    return await query.prefetch_related("org", "staff", "device", "reported_by",
                                        "closed_by").order_by("-id")


async def sweep_unconfirmed_receipts(now: datetime, *, zone: ZoneInfo = DEFAULT_ZONE
                                     ) -> SweepReport:
    """Flag issues unconfirmed after 24 hours once and tell IT (D1).

    `changed` counts the tablets flagged, `warned` the IT staff messages queued.
    """
    due = await Device.filter(
        state=DeviceState.ISSUED, receipt_confirmed_at=None, receipt_flagged_at=None,
        issued_at__lte=now - timedelta(hours=RECEIPT_DEADLINE_HOURS)).values_list("id", flat=True)
    flagged = warned = 0
    for device_id in due:
        async with in_transaction():
            won = await Device.filter(id=device_id, receipt_confirmed_at=None,
                                      receipt_flagged_at=None).update(receipt_flagged_at=now)
            if won:
                flagged += 1
                warned += await _flag_unconfirmed(device_id, now, zone)
    return SweepReport(warned=warned, changed=flagged)


async def _flag_unconfirmed(device_id: int, now: datetime, zone: ZoneInfo) -> int:
    """Audit the flag and tell the IT staff of the tablet's org chain; returns how many (D1)."""
    device = await Device.get(id=device_id).prefetch_related("org", "holder")
    await audit.record(system_actor("devices"), "device.receipt_flagged", "device", device.id,
                       org_id=device.org.id, detail={"asset_tag": device.asset_tag,
                                                     "holder_id": device.holder.id})
    assert device.issued_at is not None
    params = {"asset_tag": device.asset_tag, "holder": _label(device.holder),
              "issued": device.issued_at.astimezone(zone).strftime(TIME_FORMAT),
              "hours": RECEIPT_DEADLINE_HOURS}
    recipients = await chains.staff_in_chain(device.org, Role.IT_ADMIN)
    for recipient in recipients:
        await outbox.enqueue(recipient.id, UNCONFIRMED_TO_IT, params,
                             intent=Intent.of("device.unconfirmed", device.id),
                             idempotency_key=f"device:{device.id}:unconfirmed:"
                                             f"{device.issued_at.isoformat()}:{recipient.id}")
    return len(recipients)
