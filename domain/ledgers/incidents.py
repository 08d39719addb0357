"""Loss reports and incidents: a lost tablet, vouchers or customer papers reported in chat,
the alerts up the org chain, closing an incident and marking it major (D3, V6, Q4, K2).

An open device loss incident of an agent blocks his captures until an admin closes it or
issues him a tablet after the loss was reported (`devices.require_issued_device`). A lost
tablet is marked lost at once and raises `DeviceLost` (its tail box is frozen); serials of
the agent's own box named in a voucher loss raise `VouchersLost` (they go void-pending).
Incidents outside the actor's subtree are refused with PermissionDenied; ids that do not
exist with NotFound."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from domain.ledgers import devices, major_incidents
from domain.ledgers._fields import required_text
from domain.ledgers.major_incidents import DEFAULT_INCIDENT_RULES, IncidentRules
from domain.models import (
    Device,
    DeviceState,
    Incident,
    IncidentKind,
    IncidentStatus,
    Org,
    Role,
    Staff,
    Voucher,
    VoucherState,
)
from domain.platform import audit, chains, events, outbox
from domain.platform.access import Permission, require, require_scope, scope_prefix
from domain.platform.actors import Actor, person_label
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.chat_privacy import masked_text
from domain.platform.clock import business_time, utcnow
from domain.platform.errors import N_, DomainError, NotFound, PermissionDenied
from domain.platform.events import DeviceLost, VouchersLost
from domain.platform.identity import normalise_serial
from domain.platform.intents import Intent
from domain.platform.paging import Page, PageRequest, keyset_page

REPEATABLE_LOSSES = (IncidentKind.VOUCHER_LOSS, IncidentKind.PAPERS_LOSS)
MAX_TEXT_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 1000
SERIAL_SEPARATORS = re.compile(r"[\s,，、;；]+")
LOSS_KINDS: dict[str, IncidentKind] = {
    "device": IncidentKind.DEVICE_LOSS, "vouchers": IncidentKind.VOUCHER_LOSS,
    "papers": IncidentKind.PAPERS_LOSS,
}
LOSS_ROLES = (Role.SUPERVISOR, Role.IT_ADMIN, Role.OPS_ADMIN)
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
class LossReport:
    """What the agent reports in chat with /loss (D3)."""

    what: str  # "device", "vouchers" or "papers"
    item: str  # asset tag for a device, serials or a description otherwise
    occurred_at: datetime | None
    place: str
    description: str


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
            await major_incidents.major_incident_recorded(agent.id, moment, rules)
        if device is not None:
            await devices.mark_lost(actor, device, moment, f"#{incident.id} {clean.description}")
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
    item = required_text(report.item, N_("Say which item was lost."), MAX_TEXT_LENGTH)
    place = required_text(report.place, N_("Say where the loss happened."), MAX_TEXT_LENGTH)
    description = required_text(report.description, N_("Describe briefly what happened."),
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
    papers = incident.kind == IncidentKind.PAPERS_LOSS  # typed words; a serial stays as is
    params = {"agent": person_label(agent), "org": org.name,
              "item": masked_text(incident.item) if papers else incident.item,
              "when": business_time(incident.occurred_at, zone),
              "place": masked_text(incident.place),
              "description": masked_text(incident.description),  # customer numbers (C10)
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
    clean = required_text(resolution, N_("Write how the incident was resolved."),
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
    clean = required_text(reason, N_("Say why the incident is major."), MAX_DESCRIPTION_LENGTH)
    async with in_transaction():
        incident = await _incident_in_scope(actor, incident_id)
        await _change_once(incident, {"major": False}, {
            "major": True, "detail": incident.detail | {"major_reason": clean},
        }, N_("Incident #%(incident)s is already marked major."))
        await audit.record(actor, "incident.marked_major", "incident", incident.id,
                           org_id=incident.org.id, detail={"reason": clean})
        if incident.staff_id is not None:  # type: ignore[attr-defined]
            await major_incidents.major_incident_recorded(
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
    missing = N_("No such incident.")
    if incident is None:
        raise NotFound(missing)
    await incident.fetch_related("org")
    require_scope(actor, incident.org, missing)
    return incident


def _incidents(actor: Actor, status: str | None) -> QuerySet[Incident]:
    """Incidents of the actor's org subtree, in one state or all (D3, Q4)."""
    require(actor, Permission.INCIDENT_VIEW)
    query = Incident.filter(org__path__startswith=scope_prefix(actor))
    return query.filter(status=IncidentStatus(status)) if status else query


def _listed(query: QuerySet[Incident]) -> QuerySet[Incident]:
    """What the incident list shows of each row."""
    return query.prefetch_related("org", "staff", "device", "reported_by", "closed_by")


async def list_incidents(actor: Actor, *, status: str | None = None) -> list[Incident]:
    """Incidents of the actor's org subtree, newest first (D3, Q4)."""
    return await _listed(_incidents(actor, status)).order_by("-id")


async def incident_page(actor: Actor, paging: PageRequest, *, status: str | None = None
                        ) -> Page[Incident]:
    """One page of the incidents of the actor's org subtree, newest first (D3, Q4)."""
    return await keyset_page(_incidents(actor, status), ("-id",), paging, _listed)
