"""Device ledger: register, issue, return, repair, retire, lose (D1–D3); loss reports and
incidents are in `incidents`, the CSV import in `device_imports`.

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

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from domain.ledgers import qualifications
from domain.ledgers._fields import required_text
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
)
from domain.platform import audit, chains, outbox
from domain.platform.access import Permission, require, require_scope, scope_prefix
from domain.platform.actors import Actor, person_label, system_actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.clock import business_time, utcnow
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.identity import normalise_serial
from domain.platform.intents import Action, Intent
from domain.platform.paging import Page, PageRequest, keyset_page
from domain.platform.sweeps import SweepReport

RECEIPT_DEADLINE_HOURS = 24
MAX_NOTE_LENGTH = 500
NO_SUCH_TABLET = N_("No such tablet.")
IMEI = re.compile(r"[0-9]{15}", re.ASCII)
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


@dataclass(frozen=True)
class DeviceForm:
    """A tablet as IT registers it."""

    asset_tag: str
    serial: str
    imei: str | None
    model: str
    purchase_date: date | None
    org_id: int


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
    asset_tag = required_text(normalise_serial(form.asset_tag),
                              N_("Enter the asset tag of the tablet."), 32)
    serial = required_text(normalise_serial(form.serial),
                           N_("Enter the serial number of the tablet."), 64)
    model = required_text(form.model, N_("Enter the model of the tablet."), 100)
    imei = "".join(normalise_serial(form.imei or "").split()) or None
    if imei is not None:
        validate_imei(imei)
    if form.purchase_date is not None and form.purchase_date > today:
        raise DomainError(N_("The purchase date cannot be in the future."))
    return DeviceForm(asset_tag, serial, imei, model, form.purchase_date, form.org_id)


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
    device_org = await Org.get(id=device.org_id)  # type: ignore[attr-defined]
    refusal = (await _agent_refusal(agent, moment, zone) or _org_refusal(agent, device, device_org)
               or await _held_refusal(agent))
    if refusal is not None:
        raise refusal
    return agent


async def eligible_holders(actor: Actor, tablets: list[Device], now: datetime | None = None, *,
                           zone: ZoneInfo = DEFAULT_ZONE) -> dict[int, list[Staff]]:
    """For each tablet, the staff it may be issued to: active, qualified field agents of its
    org or below, in the actor's scope, holding no tablet (D1); the same checks as the issue."""
    require(actor, Permission.DEVICE_MANAGE)
    if not tablets:
        return {}
    prefix = scope_prefix(actor)
    candidates = await Staff.filter(
        active=True, org__path__startswith=prefix, roles__role=Role.FIELD_AGENT,
    ).distinct().prefetch_related("org").order_by("name")
    qualified = await qualifications.qualified_within(prefix, now or utcnow(), zone)
    holding = set(await Device.filter(state=DeviceState.ISSUED, holder__org__path__startswith=prefix
                                      ).values_list("holder_id", flat=True))
    agents = [agent for agent in candidates if agent.id in qualified - holding]
    orgs = {org.id: org for org in await Org.filter(
        id__in={device.org_id for device in tablets})}  # type: ignore[attr-defined]
    return {device.id: [agent for agent in agents if _org_refusal(
        agent, device, orgs[device.org_id]) is None]  # type: ignore[attr-defined]
        for device in tablets}


async def _agent_refusal(agent: Staff, moment: datetime, zone: ZoneInfo) -> DomainError | None:
    """Why no tablet may be issued to this person: deactivated, no field agent, not qualified."""
    if not agent.active:
        return DomainError(N_("%(name)s is deactivated; a tablet cannot be issued to him."),
                           name=agent.name)
    if not await StaffRole.exists(staff_id=agent.id, role=Role.FIELD_AGENT):
        return DomainError(N_("%(name)s is not a field agent; tablets are issued only to field "
                              "agents."), name=agent.name)
    if not await qualifications.is_qualified(agent.id, moment, zone):
        return DomainError(N_("%(name)s holds no active qualification; a tablet is issued only "
                              "to a qualified field agent."), name=agent.name)
    return None


def _org_refusal(agent: Staff, device: Device, device_org: Org) -> DomainError | None:
    """Why this tablet may not go to this agent: he works outside the tablet's org (D1)."""
    if agent.org.path.startswith(device_org.path):
        return None
    return DomainError(N_("Tablet %(asset_tag)s belongs to %(org)s; it can be issued only to "
                          "an agent of that organisation or below it."),
                       asset_tag=device.asset_tag, org=device_org.name)


async def _held_refusal(agent: Staff) -> DomainError | None:
    """Why no second tablet may go to this agent: he holds one (D1)."""
    held = await Device.filter(holder_id=agent.id, state=DeviceState.ISSUED).first()
    if held is None:
        return None
    return DomainError(N_("%(name)s already holds tablet %(asset_tag)s; it must be returned "
                          "first."), name=agent.name, asset_tag=held.asset_tag)


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


async def mark_lost(actor: Actor, device: Device, moment: datetime, note: str) -> DeviceEvent:
    """A tablet its holder reports lost is marked lost (D3). Call inside the loss report's
    transaction, the tablet locked."""
    return await _transition(actor, device, DeviceEventKind.LOST, moment, note)


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
    require_scope(actor, await Org.get(id=device.org_id),  # type: ignore[attr-defined]
                  NO_SUCH_TABLET)
    return device


async def _locked(device_id: int) -> Device:
    """Load a tablet, locking its row on PostgreSQL so concurrent changes queue up."""
    device = await Device.filter(id=device_id).select_for_update().first()
    if device is None:
        raise NotFound(NO_SUCH_TABLET)
    return device


async def _require_state(device: Device, kind: DeviceEventKind) -> None:
    """Refuse a transition the current state does not allow, naming that state (D1)."""
    if device.state in TRANSITIONS[kind][0]:
        return
    holder = await Staff.get_or_none(id=device.holder_id)  # type: ignore[attr-defined]
    raise DomainError(STATE_REFUSALS[device.state], asset_tag=device.asset_tag,
                      holder=person_label(holder), state=device.state.value)


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
        holder_id=holder_id, holder_label=person_label(holder), actor_id=actor.staff_id,
        actor_label=actor.label, note=clean_note, at=moment)
    await audit.record(actor, f"device.{kind.value}", "device", device.id,
                       org_id=device.org_id,  # type: ignore[attr-defined]
                       detail={"asset_tag": device.asset_tag, "from": from_state,
                               "to": device.state.value, "holder_id": holder_id,
                               "note": clean_note})
    return event


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
    query = await _matching_devices(actor, state, org_id, holder_id, unconfirmed)
    return await query.prefetch_related("org", "holder").order_by("asset_tag")


async def device_page(actor: Actor, paging: PageRequest, *, state: DeviceState | None = None,
                      org_id: int | None = None, holder_id: int | None = None,
                      unconfirmed: bool = False) -> Page[Device]:
    """One page of the tablets of the actor's org subtree, by asset tag (D1)."""
    query = await _matching_devices(actor, state, org_id, holder_id, unconfirmed)
    return await keyset_page(query, ("asset_tag", "id"), paging,
                             lambda rows: rows.prefetch_related("org", "holder"))


async def _matching_devices(actor: Actor, state: DeviceState | None, org_id: int | None,
                            holder_id: int | None, unconfirmed: bool) -> QuerySet[Device]:
    """The tablets of the list's filters, within the actor's org subtree (D1)."""
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
    return query


async def device_history(actor: Actor, device_id: int) -> tuple[Device, list[DeviceEvent]]:
    """A tablet in scope and its full register (D1)."""
    require(actor, Permission.DEVICE_VIEW)
    device = await Device.get_or_none(id=device_id).prefetch_related("org", "holder")
    if device is None:
        raise NotFound(NO_SUCH_TABLET)
    require_scope(actor, device.org, NO_SUCH_TABLET)
    return device, await DeviceEvent.filter(device_id=device.id).order_by("id")


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
    params = {"asset_tag": device.asset_tag, "holder": person_label(device.holder),
              "issued": business_time(device.issued_at, zone),
              "hours": RECEIPT_DEADLINE_HOURS}
    recipients = await chains.staff_in_chain(device.org, Role.IT_ADMIN)
    for recipient in recipients:
        await outbox.enqueue(recipient.id, UNCONFIRMED_TO_IT, params,
                             intent=Intent.of("device.unconfirmed", device.id),
                             idempotency_key=f"device:{device.id}:unconfirmed:"
                                             f"{device.issued_at.isoformat()}:{recipient.id}")
    return len(recipients)
