"""Voucher ledger reports: the monthly reconciliation from the movement journal and its
CSV/XLSX export (V1 to V6, S4), and the read helpers of the voucher admin pages."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from tortoise.expressions import Subquery
from tortoise.functions import Count, Max
from tortoise.transactions import in_transaction

from domain.models import (
    Device,
    MovementKind,
    Org,
    TailBox,
    VoidRequest,
    Voucher,
    VoucherCap,
    VoucherMovement,
    VoucherState,
    VoucherType,
)
from domain.platform import audit
from domain.platform.access import Permission, require, require_scope, scope_prefix
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError, NotFound
from domain.vouchers import vouchers
from locales import DEFAULT_LOCALE, translate

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
FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_PURPOSE = 500
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


async def reconciliation(actor: Actor, month: date, *, zone: ZoneInfo = vouchers.DEFAULT_ZONE
                         ) -> list[vouchers.ReconciliationRow]:
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
    return [vouchers.ReconciliationRow(
        org_id=org_id, org_name=orgs[org_id].name, voucher_type_code=codes[type_id],
        opening=opening.get((org_id, type_id), 0), closing=closing.get((org_id, type_id), 0),
        **{column: moved[(org_id, type_id)].get(column, 0) for column in PERIOD_KINDS.values()},
    ) for org_id, type_id in keys]


def _table(rows: list[vouchers.ReconciliationRow], locale: str) -> list[list[object]]:
    """The header (in the reader's language) and one line per report row."""
    header: list[object] = [translate(locale, label) for _key, label in COLUMNS]
    return [header, *([getattr(row, key) for key, _label in COLUMNS] for row in rows)]


def _csv_bytes(table: list[list[object]]) -> bytes:
    """CSV with a byte order mark so that spreadsheet programs read the Chinese names."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(table)
    return buffer.getvalue().encode("utf-8-sig")


def _xlsx_bytes(table: list[list[object]], title: str) -> bytes:
    """One worksheet holding the table, numbers as numbers."""
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for line in table:
        sheet.append(line)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def table_bytes(table: list[list[object]], fmt: str, title: str) -> bytes:
    """A report table as CSV or as one XLSX worksheet named `title` (S4)."""
    return _csv_bytes(table) if fmt == "csv" else _xlsx_bytes(table, title)


def export_purpose(purpose: str, fmt: str) -> str:
    """The stated purpose of an export, trimmed; refused when blank or too long, or when the
    format is neither CSV nor XLSX (S4)."""
    purpose = purpose.strip()
    if not purpose:
        raise DomainError(N_("Enter the purpose of the export."))
    if len(purpose) > MAX_PURPOSE:
        raise DomainError(N_("The purpose may be at most %(n)s characters."), n=MAX_PURPOSE)
    if fmt not in FORMATS:
        raise DomainError(N_("Choose CSV or XLSX."))
    return purpose


async def export_reconciliation(actor: Actor, month: date, purpose: str, fmt: str, *,
                                zone: ZoneInfo = vouchers.DEFAULT_ZONE,
                                locale: str = DEFAULT_LOCALE) -> tuple[str, bytes]:
    """The monthly reconciliation as CSV or XLSX; refused without a purpose, audited with
    the person responsible and the purpose (S4)."""
    require(actor, Permission.REPORT_EXPORT)
    purpose = export_purpose(purpose, fmt)
    rows = await reconciliation(actor, month, zone=zone)
    label = f"{month.year:04d}-{month.month:02d}"
    data = table_bytes(_table(rows, locale), fmt, label)
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
    device = await Device.get_or_none(id=device_id).prefetch_related("org")
    if device is None:
        raise NotFound(N_("No such tablet."))
    require_scope(actor, device.org)
    return await vouchers.box_for_device(device_id)


async def serials_of(voucher_ids: set[int]) -> dict[int, str]:
    """The serial of each voucher id, to show the journal in words (V1)."""
    rows = await Voucher.filter(id__in=list(voucher_ids)).values_list("id", "serial")
    return dict(rows)


async def void_queue(actor: Actor) -> list[VoidRequest]:
    """The pending void requests of the subtree with their org, people and serials (V6)."""
    rows = await vouchers.pending_voids(actor)
    await VoidRequest.fetch_for_list(rows, "org", "requested_by", "business_head_signed_by",
                                     "ops_head_signed_by", "items__voucher")
    return rows
