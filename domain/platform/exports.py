"""Exported files (S4): each one states who exported it, when, with which filter and for what
purpose, and none of its cells can run as a spreadsheet formula.

Every export writes its table through `export_bytes` (the reports, whose tables carry their
own header) or `export_sheet` (the lists, with typed columns); the stamp comes first, one
line per fact, each line's first cell starting with `#` (comment rows in CSV, a header block
in XLSX), then the table. An XLSX file is made to be handed on: a list's title above the
stamp, the header row bold and frozen, columns as wide as their content, dates as dates in
the business time zone, counts as whole numbers and a totals row under the count columns.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from tortoise.transactions import in_transaction

from domain.platform import audit
from domain.platform.access import Permission, require
from domain.platform.actors import Actor
from domain.platform.clock import business_time, utcnow
from domain.platform.errors import N_, DomainError
from locales import translate

FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_PURPOSE = 500
MAX_ROWS = 100_000  # past this a list is narrowed by its filter before it is exported
# What spreadsheet programs read as the start of a formula (or of a cell they re-parse).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
STAMP_MARK = "# "
NOTHING_TO_EXPORT = N_("Nothing to export: no row matches this period and filter. Nothing "
                       "was downloaded.")
TOO_MANY_ROWS = N_("More than %(n)s rows match; narrow the period or the filter first.")
WIDTHS = (6, 60)  # narrowest and widest column, in characters
NUMBER_FORMATS = {"count": "0", "number": "0.00", "date": "yyyy-mm-dd",
                  "moment": "yyyy-mm-dd hh:mm"}


class Kind(StrEnum):
    """What a column holds, which sets its cell format."""

    TEXT = "text"
    COUNT = "count"  # a whole number that adds up: summed in the totals row
    NUMBER = "number"  # an amount or rate, not summed
    DATE = "date"
    MOMENT = "moment"  # a UTC moment, shown in the business time zone


@dataclass(frozen=True)
class Column:
    """A column of an exported list: its header (in the reader's language) and kind."""

    header: str
    kind: Kind = Kind.TEXT


@dataclass(frozen=True)
class Sheet:
    """A list to export: its file name (`name`, also its audit object), title and columns
    (in the reader's language), rows, and the business days it covers when it has a period."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: Sequence[Sequence[object]]
    period: tuple[date, date] | None = None


def inert(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, quoted to stay text (S4)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


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


@dataclass(frozen=True)
class ExportStamp:
    """Who exported a file, when, with which filter (msgid label, value) and why (S4); the
    period a list covers, when it has one."""

    exported_by: str
    at: datetime
    filters: tuple[tuple[str, str], ...]
    purpose: str
    period: tuple[date, date] | None = field(default=None)


def stamp(actor: Actor, purpose: str, *filters: tuple[str, str],
          period: tuple[date, date] | None = None) -> ExportStamp:
    """The stamp of an export the actor makes now (S4)."""
    return ExportStamp(exported_by=actor.label, at=utcnow(), filters=filters, purpose=purpose,
                       period=period)


def stamp_rows(mark: ExportStamp, locale: str, zone: ZoneInfo) -> list[list[object]]:
    """The stamp as the file's first lines, in the reader's language (S4)."""
    when = f"{business_time(mark.at, zone, locale)} ({zone.key})"
    chosen = "; ".join(f"{translate(locale, label)}: {value}" for label, value in mark.filters)
    facts = [(N_("Exported by"), mark.exported_by), (N_("Exported at"), when)]
    if mark.period is not None:
        facts.append((N_("Period"), " – ".join(day.isoformat() for day in mark.period)))
    facts += [(N_("Filter"), chosen or translate(locale, N_("none"))),
              (N_("Purpose"), mark.purpose)]
    return [[STAMP_MARK + translate(locale, label), value] for label, value in facts]


def export_bytes(table: Sequence[Sequence[object]], fmt: str, title: str, mark: ExportStamp,
                 *, locale: str, zone: ZoneInfo, heading: str = "") -> bytes:
    """A report table (its header first) under its stamp as CSV or one XLSX worksheet named
    `title`, with `heading` (the report's name) above the stamp; every text cell made inert
    (S4)."""
    header, *rows = table
    kinds = tuple(_kind_of([row[n] for row in rows]) for n in range(len(header)))
    sheet = Sheet(title, title, tuple(Column(str(text), kind)
                                      for text, kind in zip(header, kinds, strict=True)), rows)
    return _file_bytes(sheet, fmt, mark, locale=locale, zone=zone, heading=heading,
                       totals=False)


async def export_sheet(actor: Actor, sheet: Sheet, purpose: str, fmt: str,
                       *filters: tuple[str, str], locale: str, zone: ZoneInfo
                       ) -> tuple[str, bytes]:
    """A list as CSV or XLSX under its stamp, for those who may export (S4): refused without
    a purpose, and when no row matches (nothing is then downloaded or audited); audited with
    the person responsible, the purpose, the filter and the number of rows."""
    require(actor, Permission.REPORT_EXPORT)
    purpose = export_purpose(purpose, fmt)
    if not sheet.rows:
        raise DomainError(NOTHING_TO_EXPORT)
    if len(sheet.rows) > MAX_ROWS:
        raise DomainError(TOO_MANY_ROWS, n=MAX_ROWS)
    mark = stamp(actor, purpose, *filters, period=sheet.period)
    data = _file_bytes(sheet, fmt, mark, locale=locale, zone=zone, heading=sheet.title,
                       totals=True)
    days = ("_".join(day.isoformat() for day in sheet.period) if sheet.period
            else business_time(mark.at, zone, locale, "yyyy-MM-dd"))
    async with in_transaction():
        await audit.record(actor, "list.export", sheet.name, days, org_id=actor.org_id, detail={
            "purpose": purpose, "format": fmt, "rows": len(sheet.rows),
            "filter": {translate(locale, label): value for label, value in filters},
            "responsible": actor.label})
    return f"{sheet.name}-{days}.{fmt}", data


def _kind_of(values: list[object]) -> Kind:
    """The kind of a report column from its values: whole numbers, other numbers or text."""
    present = [value for value in values if value is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return Kind.COUNT
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return Kind.NUMBER
    return Kind.TEXT


def _cell(value: object, kind: Kind, zone: ZoneInfo, fmt: str) -> object:
    """A value as its file holds it: a moment in business time (text in CSV), text inert."""
    if value is None:
        return "" if fmt == "csv" else None
    if kind is Kind.MOMENT and isinstance(value, datetime):
        local = value.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
        return local.strftime("%Y-%m-%d %H:%M") if fmt == "csv" else local
    if isinstance(value, date) and fmt == "csv":
        return value.isoformat()
    return inert(value)


def _totals(sheet: Sheet, locale: str) -> list[object] | None:
    """The totals row under the count columns, None when the list has none."""
    counted = [n for n, column in enumerate(sheet.columns) if column.kind is Kind.COUNT]
    if not counted:
        return None
    line: list[object] = [None] * len(sheet.columns)
    for n in counted:
        line[n] = sum(int(row[n] or 0) for row in sheet.rows)  # type: ignore[call-overload]
    if line[0] is None:
        line[0] = translate(locale, N_("Total"))
    return line


def _file_bytes(sheet: Sheet, fmt: str, mark: ExportStamp, *, locale: str, zone: ZoneInfo,
                heading: str, totals: bool) -> bytes:
    """The sheet under its stamp, in XLSX under its `heading` when there is one; with
    `totals` a totals row under its count columns."""
    kinds = [column.kind for column in sheet.columns]
    body = [[_cell(value, kind, zone, fmt) for value, kind in zip(row, kinds, strict=True)]
            for row in sheet.rows]
    summed = _totals(sheet, locale) if totals else None
    if summed is not None:
        body.append([inert(value) for value in summed])
    head = [[inert(cell) for cell in line] for line in stamp_rows(mark, locale, zone)]
    header = [inert(column.header) for column in sheet.columns]
    if fmt == "csv":
        return _csv_bytes([*head, header, *body])
    return _xlsx_bytes(sheet, head, header, body, heading=heading, totals=summed is not None)


def _csv_bytes(lines: list[list[object]]) -> bytes:
    """CSV with a byte order mark so that spreadsheet programs read the Chinese names."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(lines)
    return buffer.getvalue().encode("utf-8-sig")


def _xlsx_bytes(sheet: Sheet, head: list[list[object]], header: list[object],
                body: list[list[object]], *, heading: str, totals: bool) -> bytes:
    """One worksheet: the heading (when there is one), the stamp, then the table with its
    header bold and frozen, cells formatted by kind, columns fitted to their content."""
    book = Workbook()
    page: Worksheet = book.active
    page.title = "".join("_" if char in "[]:*?/\\" else char for char in sheet.title)[:31]
    if heading:
        page.append([inert(heading)])
        page["A1"].font = Font(bold=True, size=14)
    for line in head:
        page.append(line)
    if heading:
        page.append([])
    page.append(header)
    top = page.max_row
    for cell in page[top]:
        cell.font = Font(bold=True)
    page.freeze_panes = f"A{top + 1}"
    for line in body:
        page.append(line)
    if totals:
        for cell in page[page.max_row]:
            cell.font = Font(bold=True)
    _format_columns(page, sheet.columns, [header, *body], top)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _format_columns(page: Worksheet, columns: Sequence[Column], table: list[list[object]],
                    top: int) -> None:
    """Each column's number format below the header row, and its width fitted to the widest
    of its header and cells."""
    for n, column in enumerate(columns, start=1):
        number_format = NUMBER_FORMATS.get(column.kind)
        if number_format is not None:
            for (cell,) in page.iter_rows(min_row=top + 1, min_col=n, max_col=n):
                cell.number_format = number_format
        widest = max(_width(line[n - 1], column.kind) for line in table)
        page.column_dimensions[get_column_letter(n)].width = min(max(widest + 2, WIDTHS[0]),
                                                                 WIDTHS[1])


def _width(value: object, kind: Kind) -> int:
    """How many narrow characters a cell's text takes (Chinese characters take two)."""
    if value is None:
        return 0
    if kind is Kind.MOMENT and isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
