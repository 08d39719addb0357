"""The lists a supervisor takes on paper, exported as XLSX or CSV with a purpose (S4):
tablets, staff, qualifications, cases, incidents, the voucher journal and the audit log.

Each list's export form (the `list_export` macro) posts the list's own address query, so the
export holds the rows the list shows with its filters, over a period for the lists that
grow; `export_view` is the one view behind all of them. A refusal (no purpose, no row in the
period) is shown on the list page and nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiDict, MultiMapping

from admin_web.i18n import current_locale, status_text
from admin_web.i18n import gettext as _
from admin_web.pages import (
    ACTIVE_FILTER,
    actor_of,
    attempt,
    business_today,
    download,
    flash_and_redirect,
    form_of,
)
from admin_web.params import choice, int_or_none, optional_date
from admin_web.state import TIMEZONE_KEY
from admin_web.views import audit as audit_view
from admin_web.views import cases as cases_view
from admin_web.views import devices as devices_view
from admin_web.views import incidents as incidents_view
from admin_web.views import qualifications as qualifications_view
from admin_web.views import vouchers as vouchers_view
from domain.ledgers import devices, qualifications
from domain.models import (
    CaseStatus,
    DeviceState,
    IncidentStatus,
    QualificationStatus,
    VoucherState,
)
from domain.oversight import exported_lists
from domain.oversight.audit_words import action_labels, details
from domain.people import orgs, staff
from domain.people.duties import role_name
from domain.platform import audit, exports
from domain.platform.actors import Actor, person_label
from domain.platform.errors import N_
from domain.platform.exports import Column, Kind, Sheet

Chosen = list[tuple[str, str]]  # the filter in words: (msgid of its label, value)


@dataclass(frozen=True)
class Ask:
    """What an export is asked for: by whom, the list's query, its period (lists that grow)."""

    actor: Actor
    query: MultiMapping[str]
    period: tuple[date, date]
    today: date
    zone: ZoneInfo
    locale: str


Build = Callable[[Ask], Awaitable[tuple[Sheet, Chosen]]]


def export_view(page: str, build: Build) -> Handler:
    """The export of the list at `page`: the rows `build` makes of the posted list query, as
    XLSX or CSV with the stated purpose; a refusal goes back to the list with its filters."""

    async def view(request: web.Request) -> web.StreamResponse:
        form = await form_of(request)
        query = MultiDict(parse_qsl(form.get("query", "")))
        back = f"{page}?{urlencode(list(query.items()))}" if query else page
        exported, error = await attempt(_export(request, form, query, build))
        if exported is None:
            await flash_and_redirect(request, back, error or "")
        return download(exported)

    view.__doc__ = f"Download the list at {page} with a stated purpose, audited (S4)."
    return view


async def _export(request: web.Request, form: MultiMapping[str], query: MultiMapping[str],
                  build: Build) -> tuple[str, bytes]:
    """The file of one export: the period (this month by default), the rows, the stamp."""
    today = business_today(request)
    start = optional_date(form.get("start"), N_("From")) or today.replace(day=1)
    end = optional_date(form.get("end"), N_("To")) or today
    ask = Ask(actor_of(request), query, (start, end), today, request.app[TIMEZONE_KEY],
              current_locale())
    sheet, chosen = await build(ask)
    return await exports.export_sheet(ask.actor, sheet, form.get("purpose", ""),
                                      form.get("fmt", ""), *chosen, locale=ask.locale,
                                      zone=ask.zone)


async def _org_named(actor: Actor, org_id: int | None, chosen: Chosen) -> None:
    """The org filter in words, when one is chosen."""
    if org_id is not None:
        names = {org.id: org.name for org in await orgs.list_orgs(actor)}
        chosen.append((N_("Organisation"), names.get(org_id, str(org_id))))


async def device_sheet(ask: Ask) -> tuple[Sheet, Chosen]:
    """Tablets by the list's state, org and holder filters (D1)."""
    filters = devices_view.list_filters(ask.query)
    unconfirmed = ask.query.get("unconfirmed") == "1"
    rows = await devices.list_devices(ask.actor, **filters, unconfirmed=unconfirmed)
    chosen: Chosen = []
    if filters["state"]:
        chosen.append((N_("State"), status_text(DeviceState, filters["state"])))
    await _org_named(ask.actor, filters["org_id"], chosen)
    if filters["holder_id"] is not None and rows:
        chosen.append((N_("Holder"), person_label(rows[0].holder)))
    columns = (Column(_("Asset tag")), Column(_("Model")), Column(_("Serial number")),
               Column(_("IMEI")), Column(_("Organisation")), Column(_("State")),
               Column(_("Holder")), Column(_("Issued"), Kind.MOMENT),
               Column(_("Receipt"), Kind.MOMENT), Column(_("Purchase date"), Kind.DATE))
    lines = [(d.asset_tag, d.model, d.serial, d.imei or "", d.org.name,
              status_text(DeviceState, d.state), person_label(d.holder), d.issued_at,
              d.receipt_confirmed_at, d.purchase_date) for d in rows]
    return Sheet("tablets", _("Tablets"), columns, lines), chosen


async def staff_sheet(ask: Ask) -> tuple[Sheet, Chosen]:
    """Staff by the list's org, name or number, and state filters."""
    org_id = int_or_none(ask.query.get("org_id"))
    words, active = ask.query.get("q", "").strip(), ask.query.get("active", "")
    rows = await staff.list_staff(ask.actor, org_id=org_id, query=words,
                                  active=ACTIVE_FILTER.get(active))
    chosen: Chosen = []
    await _org_named(ask.actor, org_id, chosen)
    if words:
        chosen.append((N_("Name or number"), words))
    if active in ("1", "0"):
        chosen.append((N_("State"), _("Active") if active == "1" else _("Deactivated")))
    columns = (Column(_("Employee number")), Column(_("Full name")), Column(_("Organisation")),
               Column(_("Roles")), Column(_("State")), Column(_("Last active"), Kind.MOMENT))
    lines = [(person.employee_no, person.name, person.org.name,
              ", ".join(role_name(r.role, ask.locale) for r in person.roles),
              _("Active") if person.active else _("Deactivated"), person.last_active_at)
             for person in rows]
    return Sheet("staff", _("Staff"), columns, lines), chosen


async def qualification_sheet(ask: Ask) -> tuple[Sheet, Chosen]:
    """Qualifications by the list's state, business type, org and expiry filters (Q1-Q5)."""
    filters = qualifications_view.list_filters(ask.query)
    days = int_or_none(ask.query.get("expiring"))
    by = None
    if days is not None and days <= qualifications_view.MAX_EXPIRY_DAYS:
        by = ask.today + timedelta(days=days)
    rows = await qualifications.list_qualifications(ask.actor, **filters, expiring_by=by)
    chosen: Chosen = []
    if filters["status"]:
        chosen.append((N_("State"), status_text(QualificationStatus, filters["status"])))
    if filters["business_type_id"] is not None and rows:
        names = {q.business_type_id: q.business_type.name_in(ask.locale) for q in rows}
        chosen.append((N_("Business type"), names.get(filters["business_type_id"], "")))
    await _org_named(ask.actor, filters["org_id"], chosen)
    if by is not None:
        chosen.append((N_("Valid until"), by.isoformat()))
    basis = qualifications_view.labels()["basis_label"]
    columns = (Column(_("Employee number")), Column(_("Full name")), Column(_("Organisation")),
               Column(_("Business type")), Column(_("State")), Column(_("Basis")),
               Column(_("Granted"), Kind.MOMENT), Column(_("Valid until"), Kind.DATE),
               Column(_("Reason")))
    lines = [(q.staff.employee_no, q.staff.name, q.staff.org.name,
              q.business_type.name_in(ask.locale), status_text(QualificationStatus, q.status),
              basis(q.basis), q.granted_at, q.valid_until, q.status_reason) for q in rows]
    return Sheet("qualifications", _("Qualifications"), columns, lines), chosen


async def case_sheet(ask: Ask) -> tuple[Sheet, Chosen]:
    """Cases submitted in the period by the queue's status, business type, org and agent
    filters; the customer's name masked (C10)."""
    filters = cases_view.queue_filters(ask.query)
    rows = await exported_lists.cases_submitted(
        ask.actor, *ask.period, ask.zone, org_id=filters.org_id, status=filters.status,
        business_type_id=filters.business_type_id, agent_id=filters.agent_id)
    chosen: Chosen = []
    if filters.status:
        chosen.append((N_("State"), status_text(CaseStatus, filters.status)))
    await _org_named(ask.actor, filters.org_id, chosen)
    columns = (Column(_("Case number")), Column(_("Business type")), Column(_("Field agent")),
               Column(_("Organisation")), Column(_("Customer")),
               Column(_("Submitted"), Kind.MOMENT), Column(_("State")),
               Column(_("Decided"), Kind.MOMENT), Column(_("Claimed by")),
               Column(_("Times returned"), Kind.COUNT), Column(_("Escalations"), Kind.COUNT))
    lines = [(c.case_no, c.business_type_zh if ask.locale.startswith("zh") else c.business_type_en,
              c.agent, c.org_name, c.customer, c.submitted_at, status_text(CaseStatus, c.status),
              c.decided_at, c.reviewer, c.returns, c.escalations) for c in rows]
    return Sheet("cases", _("Cases"), columns, lines, ask.period), chosen


async def incident_sheet(ask: Ask) -> tuple[Sheet, Chosen]:
    """Incidents reported in the period, by the list's state filter (open by default)."""
    status = choice(ask.query.get("status", IncidentStatus.OPEN.value), IncidentStatus)
    rows = await exported_lists.incidents_reported(ask.actor, status, *ask.period, ask.zone)
    chosen: Chosen = [(N_("State"), status_text(IncidentStatus, status) if status
                       else _("All"))]
    kind = incidents_view.labels()["kind_label"]
    columns = (Column(_("Reported"), Kind.MOMENT), Column(_("Kind")), Column(_("Major")),
               Column(_("Owner")), Column(_("Organisation")), Column(_("Tablet")),
               Column(_("What was lost or went wrong")), Column(_("State")),
               Column(_("Closed"), Kind.MOMENT), Column(_("Resolution")))
    lines = [(i.reported_at, kind(i.kind), incidents_view.major_reason(i) or
              (_("Yes") if i.major else _("No")), person_label(i.staff), i.org.name,
              i.device.asset_tag if i.device else "", i.item or i.description,
              status_text(IncidentStatus, i.status), i.closed_at, i.resolution) for i in rows]
    return Sheet("incidents", _("Incidents"), columns, lines, ask.period), chosen


async def journal_sheet(ask: Ask) -> tuple[Sheet, Chosen]:
    """Voucher movements of the period by the journal's kind, org and serial filters (V1)."""
    filters = vouchers_view.journal_filters(ask.query)
    rows = await exported_lists.journal_between(ask.actor, filters["kind"], filters["org_id"],
                                                filters["serial"], *ask.period, ask.zone)
    movement = vouchers_view.labels()["movement_label"]
    chosen: Chosen = []
    if filters["kind"]:
        chosen.append((N_("Movement"), movement(filters["kind"])))
    await _org_named(ask.actor, filters["org_id"], chosen)
    if filters["serial"]:
        chosen.append((N_("Serial"), filters["serial"]))
    columns = (Column(_("Time"), Kind.MOMENT), Column(_("Movement")), Column(_("Voucher type")),
               Column(_("Serial")), Column(_("State")), Column(_("Organisation")),
               Column(_("Tail box")), Column(_("Case number")), Column(_("By")), Column(_("Note")))
    lines = [(m.at, movement(m.kind), m.voucher_type.name_in(ask.locale), m.serial,
              _state_change(m.from_state, m.to_state), m.org_name, m.box, m.case_no,
              m.actor_label, m.note) for m in rows]
    return Sheet("voucher-journal", _("Movement journal"), columns, lines, ask.period), chosen


def _state_change(before: str | None, after: str) -> str:
    """A voucher's state before and after a movement, in words."""
    now = status_text(VoucherState, after)
    return f"{status_text(VoucherState, before)} → {now}" if before else now


async def audit_sheet(ask: Ask) -> tuple[Sheet, Chosen]:
    """Audit rows of the period by the log's filters, in words (S3)."""
    since, until = exported_lists.period_bounds(*ask.period, ask.zone)
    terms = replace(audit_view.audit_filter(ask.query, ask.zone), date_from=since,
                    date_to=until)
    rows = await audit.search(ask.actor, terms, limit=exported_lists.ROW_LIMIT)
    actions = action_labels()
    chosen: Chosen = [(label, ask.query[name]) for name, (label, _column)
                      in audit_view.TEXT_FILTERS.items() if ask.query.get(name)]
    columns = (Column(_("Time"), Kind.MOMENT), Column(_("Actor")), Column(_("Action")),
               Column(_("Object type")), Column(_("Object id")), Column(_("Details")))
    lines = [(row.at, row.actor_label, _(actions[row.action]) if row.action in actions
              else row.action, row.object_type, row.object_id,
              "; ".join(f"{key}: {value}" for key, value in details(row.detail)))
             for row in rows]
    return Sheet("audit-log", _("Audit log"), columns, lines, ask.period), chosen
