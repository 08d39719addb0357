"""Voucher ledger reports: balances, the movement journal, the void queue, the monthly
reconciliation from the movement journal and its CSV/XLSX export (V1 to V6, S4), and the
read helpers of the voucher admin pages."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from tortoise.expressions import Subquery
from tortoise.functions import Count, Max
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from domain.models import (
    Device,
    MovementKind,
    Org,
    TailBox,
    VoidRequest,
    VoidStatus,
    Voucher,
    VoucherCap,
    VoucherMovement,
    VoucherState,
    VoucherType,
)
from domain.platform import audit, exports
from domain.platform.access import Permission, require, require_scope, scope_prefix, sees_everything
from domain.platform.actors import Actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.errors import N_, DomainError, NotFound
from domain.platform.identity import normalise_serial
from domain.platform.paging import Page, PageRequest, keyset_page
from domain.vouchers import voucher_balances
from domain.vouchers._ledger import org_in_scope
from domain.vouchers.tail_boxes import box_for_device
from locales import DEFAULT_LOCALE, translate


@dataclass(frozen=True)
class Balance:
    """How many serials of one type are in one place."""

    org_id: int
    org_name: str
    box_id: int | None  # None: the org's vault
    holder_name: str
    voucher_type_code: str
    in_vault: int
    in_box: int
    reserved: int
    void_pending: int
    mis_issued: int


@dataclass(frozen=True)
class ReconciliationRow:
    """One org and type of the monthly reconciliation report (V1 to V6)."""

    org_id: int
    org_name: str
    voucher_type_code: str
    opening: int
    received: int
    allocated: int
    issued: int
    voided: int
    lost: int
    mis_issued: int
    closing: int


BALANCE_STATES = (VoucherState.IN_VAULT, VoucherState.IN_BOX, VoucherState.RESERVED,
                  VoucherState.VOID_PENDING, VoucherState.MIS_ISSUED)
BAD_KIND = N_("Unknown movement kind %(kind)s.")


async def _balance_rows(prefix: str) -> list[Balance]:
    """Counts per org, place and type of the subtree under the path prefix, from the stored
    balances (V1)."""
    org_ids = await Org.filter(path__startswith=prefix).values_list("id", flat=True)
    tally: dict[tuple[int, int | None, int], dict[str, int]] = {}
    for row in await voucher_balances.stored(list(org_ids)):
        if row.state in BALANCE_STATES:
            key = (row.org_id, row.box_id or None, row.voucher_type_id)
            tally.setdefault(key, {})[row.state.value] = row.count
    orgs = {org.id: org for org in await Org.filter(id__in={k[0] for k in tally})}
    codes = dict(await VoucherType.all().values_list("id", "code"))
    holders = dict(await TailBox.filter(id__in={k[1] for k in tally if k[1]}).values_list(
        "id", "holder__name"))
    balances = [Balance(org_id, orgs[org_id].name, box_id, holders.get(box_id) or "",
                        codes[type_id], *(counts.get(s.value, 0) for s in BALANCE_STATES))
                for (org_id, box_id, type_id), counts in tally.items()]
    return sorted(balances, key=lambda b: (orgs[b.org_id].path, b.box_id or 0,
                                           b.voucher_type_code))


async def balances(actor: Actor, *, org_id: int | None = None) -> list[Balance]:
    """Vault and box balances per type of the actor's org subtree (V1, V2)."""
    require(actor, Permission.VOUCHER_VIEW)
    prefix = scope_prefix(actor) if org_id is None else (await org_in_scope(actor, org_id)).path
    return await _balance_rows(prefix)


async def journal(actor: Actor, paging: PageRequest, *, kind: str | None = None,
                  org_id: int | None = None, serial: str | None = None
                  ) -> Page[VoucherMovement]:
    """One page of the movement journal of the actor's subtree, newest first (V1)."""
    query = await journal_query(actor, kind=kind, org_id=org_id, serial=serial)
    return await keyset_page(query, ("-id",), paging,
                             lambda rows: rows.prefetch_related("voucher__voucher_type"))


async def journal_query(actor: Actor, *, kind: str | None = None, org_id: int | None = None,
                        serial: str | None = None) -> QuerySet[VoucherMovement]:
    """The movements of the actor's subtree (or of one org's) of a kind and serial (V1)."""
    require(actor, Permission.VOUCHER_VIEW)
    query = VoucherMovement.all()
    if org_id is not None or not sees_everything(actor):
        prefix = scope_prefix(actor) if org_id is None else (await org_in_scope(actor, org_id)).path
        query = query.filter(org_id__in=Subquery(Org.filter(path__startswith=prefix
                                                            ).values("id")))
    if kind:
        if kind not in {k.value for k in MovementKind}:
            raise DomainError(BAD_KIND, kind=kind)
        query = query.filter(kind=MovementKind(kind))
    if serial and normalise_serial(serial):
        query = query.filter(voucher__serial=normalise_serial(serial))
    return query


async def pending_voids(actor: Actor) -> list[VoidRequest]:
    """Void requests of the subtree still waiting for a signature (V6)."""
    require(actor, Permission.VOUCHER_VIEW)
    return list(await VoidRequest.filter(
        status=VoidStatus.PENDING, org__path__startswith=scope_prefix(actor)).prefetch_related(
        "org", "requested_by", "business_head_signed_by", "ops_head_signed_by", "incident",
        "items__voucher__voucher_type").order_by("-id"))


HELD_STATES = (VoucherState.IN_VAULT, VoucherState.IN_BOX, VoucherState.RESERVED,
               VoucherState.VOID_PENDING, VoucherState.MIS_ISSUED)
# The report column each movement kind of the month counts toward.
PERIOD_KINDS: dict[MovementKind, str] = {
    MovementKind.RECEIVED: "received",
    MovementKind.ALLOCATED: "allocated",
    MovementKind.ISSUED: "issued",
    MovementKind.VOIDED: "voided",
    MovementKind.REPORTED_LOST: "lost",
    MovementKind.MIS_ISSUED: "mis_issued",
}
COLUMNS: tuple[tuple[str, str], ...] = (
    ("org_name", N_("Organisation")),
    ("voucher_type_code", N_("Voucher type")),
    ("opening", N_("Opening balance")),
    ("received", N_("Received")),
    ("allocated", N_("Allocated")),
    ("issued", N_("Issued to customers")),
    ("voided", N_("Voided")),
    ("lost", N_("Lost")),
    ("mis_issued", N_("Mis-issued")),
    ("closing", N_("Closing balance")),
)
Key = tuple[int, int]  # (org id, voucher type id)


def month_bounds(month: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC start of a business month and of the next one."""
    first = datetime(month.year, month.month, 1, tzinfo=zone)
    following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=zone)
    return first.astimezone(UTC), following.astimezone(UTC)


async def _scope_orgs(actor: Actor) -> dict[int, Org]:
    """The orgs of the actor's subtree by id."""
    rows = await Org.filter(path__startswith=scope_prefix(actor)).order_by("path")
    return {row.id: row for row in rows}


async def _held_at(moment: datetime, org_ids: list[int]) -> dict[Key, int]:
    """Serials held per org and type at a moment: those whose last movement before it left
    them in the vault, a box, reserved, void-pending or mis-issued (V1, V6)."""
    last = Subquery(VoucherMovement.filter(at__lt=moment).group_by("voucher_id")
                    .annotate(last_id=Max("id")).values("last_id"))
    rows = await (VoucherMovement.filter(id__in=last, to_state__in=HELD_STATES,
                                         org_id__in=org_ids)
                  .annotate(n=Count("id")).group_by("org_id", "voucher_type_id")
                  .values("org_id", "voucher_type_id", "n"))
    return {(row["org_id"], row["voucher_type_id"]): row["n"] for row in rows}


async def _moved_between(start: datetime, end: datetime, org_ids: list[int]
                         ) -> dict[Key, dict[str, int]]:
    """Movements of the period per org and type, counted by report column."""
    rows = await (VoucherMovement.filter(at__gte=start, at__lt=end, org_id__in=org_ids,
                                         kind__in=list(PERIOD_KINDS))
                  .annotate(n=Count("id")).group_by("org_id", "voucher_type_id", "kind")
                  .values("org_id", "voucher_type_id", "kind", "n"))
    found: dict[Key, dict[str, int]] = defaultdict(dict)
    for row in rows:
        found[(row["org_id"], row["voucher_type_id"])][PERIOD_KINDS[MovementKind(row["kind"])]] \
            = row["n"]
    return found


async def reconciliation(actor: Actor, month: date, *, zone: ZoneInfo = DEFAULT_ZONE
                         ) -> list[ReconciliationRow]:
    """Opening, receipts, allocations, issues, voids, losses and closing per org and type of
    the actor's subtree for one business month, all from the movement journal (V1 to V6)."""
    require(actor, Permission.VOUCHER_VIEW)
    orgs = await _scope_orgs(actor)
    start, end = month_bounds(month, zone)
    org_ids = list(orgs)
    opening, closing = await _held_at(start, org_ids), await _held_at(end, org_ids)
    moved = await _moved_between(start, end, org_ids)
    codes = dict(await VoucherType.all().values_list("id", "code"))
    keys = sorted(set(opening) | set(closing) | set(moved),
                  key=lambda key: (orgs[key[0]].path, codes[key[1]]))
    return [ReconciliationRow(
        org_id=org_id, org_name=orgs[org_id].name, voucher_type_code=codes[type_id],
        opening=opening.get((org_id, type_id), 0), closing=closing.get((org_id, type_id), 0),
        **{column: moved[(org_id, type_id)].get(column, 0) for column in PERIOD_KINDS.values()},
    ) for org_id, type_id in keys]


def _table(rows: list[ReconciliationRow], locale: str) -> list[list[object]]:
    """The header (in the reader's language) and one line per report row."""
    header: list[object] = [translate(locale, label) for _key, label in COLUMNS]
    return [header, *([getattr(row, key) for key, _label in COLUMNS] for row in rows)]


async def export_reconciliation(actor: Actor, month: date, purpose: str, fmt: str, *,
                                zone: ZoneInfo = DEFAULT_ZONE,
                                locale: str = DEFAULT_LOCALE) -> tuple[str, bytes]:
    """The monthly reconciliation as CSV or XLSX; refused without a purpose, audited with
    the person responsible and the purpose (S4)."""
    require(actor, Permission.REPORT_EXPORT)
    purpose = exports.export_purpose(purpose, fmt)
    rows = await reconciliation(actor, month, zone=zone)
    label = f"{month.year:04d}-{month.month:02d}"
    data = exports.export_bytes(_table(rows, locale), fmt, label,
                                exports.stamp(actor, purpose, (N_("Month"), label)),
                                locale=locale, zone=zone,
                                heading=translate(locale, N_("Monthly reconciliation")))
    async with in_transaction():
        await audit.record(actor, "voucher.reconciliation.export", "voucher_reconciliation",
                           label, org_id=actor.org_id, detail={
                               "purpose": purpose, "format": fmt, "rows": len(rows),
                               "responsible": actor.label})
    return f"voucher-reconciliation-{label}.{fmt}", data


async def voucher_types(actor: Actor) -> list[VoucherType]:
    """Every voucher type, for the pages of the ledger (V1)."""
    require(actor, Permission.VOUCHER_VIEW)
    return await VoucherType.all().order_by("code")


async def caps(actor: Actor) -> list[VoucherCap]:
    """The box caps of the actor's subtree with org and type (V2)."""
    require(actor, Permission.VOUCHER_VIEW)
    return await (VoucherCap.filter(org__path__startswith=scope_prefix(actor))
                  .prefetch_related("org", "voucher_type").order_by("org__path", "id"))


async def tail_box_of_device(actor: Actor, device_id: int) -> TailBox:
    """The tail box of a tablet in the actor's subtree, opened on first use (V1)."""
    require(actor, Permission.VOUCHER_MANAGE)
    missing = N_("No such tablet.")
    device = await Device.get_or_none(id=device_id).prefetch_related("org")
    if device is None:
        raise NotFound(missing)
    require_scope(actor, device.org, missing)
    return await box_for_device(device_id)


async def serials_of(voucher_ids: set[int]) -> dict[int, str]:
    """The serial of each voucher id, to show the journal in words (V1)."""
    rows = await Voucher.filter(id__in=list(voucher_ids)).values_list("id", "serial")
    return dict(rows)


async def void_queue(actor: Actor) -> list[VoidRequest]:
    """The pending void requests of the subtree with their org, people and serials (V6)."""
    rows = await pending_voids(actor)
    await VoidRequest.fetch_for_list(rows, "org", "requested_by", "business_head_signed_by",
                                     "ops_head_signed_by", "items__voucher")
    return rows
