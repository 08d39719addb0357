"""Exported files (S4): each one states who exported it, when, with which filter and for what
purpose, and none of its cells can run as a spreadsheet formula.

Every report export writes its table through `export_bytes`; the stamp comes first, one
line per fact, each line's first cell starting with `#` (comment rows in CSV, a header block
in XLSX), then the table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from domain.platform.actors import Actor
from domain.platform.clock import business_time, utcnow
from domain.platform.errors import N_, DomainError
from locales import translate

FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_PURPOSE = 500
# What spreadsheet programs read as the start of a formula (or of a cell they re-parse).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
STAMP_MARK = "# "


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
    """Who exported a file, when, with which filter (msgid label, value) and why (S4)."""

    exported_by: str
    at: datetime
    filters: tuple[tuple[str, str], ...]
    purpose: str


def stamp(actor: Actor, purpose: str, *filters: tuple[str, str]) -> ExportStamp:
    """The stamp of an export the actor makes now (S4)."""
    return ExportStamp(exported_by=actor.label, at=utcnow(), filters=filters, purpose=purpose)


def stamp_rows(mark: ExportStamp, locale: str, zone: ZoneInfo) -> list[list[object]]:
    """The stamp as the file's first lines, in the reader's language (S4)."""
    when = f"{business_time(mark.at, zone, locale)} ({zone.key})"
    chosen = "; ".join(f"{translate(locale, label)}: {value}" for label, value in mark.filters)
    facts = ((N_("Exported by"), mark.exported_by), (N_("Exported at"), when),
             (N_("Filter"), chosen), (N_("Purpose"), mark.purpose))
    return [[STAMP_MARK + translate(locale, label), value] for label, value in facts]


def export_bytes(table: Sequence[Sequence[object]], fmt: str, title: str, mark: ExportStamp,
                 *, locale: str, zone: ZoneInfo) -> bytes:
    """A report table under its stamp as CSV or one XLSX worksheet named `title`; every
    text cell made inert (S4)."""
    lines = [[inert(cell) for cell in line] for line in [*stamp_rows(mark, locale, zone),
                                                         *table]]
    return _csv_bytes(lines) if fmt == "csv" else _xlsx_bytes(lines, title)


def _csv_bytes(lines: list[list[object]]) -> bytes:
    """CSV with a byte order mark so that spreadsheet programs read the Chinese names."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(lines)
    return buffer.getvalue().encode("utf-8-sig")


def _xlsx_bytes(lines: list[list[object]], title: str) -> bytes:
    """One worksheet holding the lines, numbers as numbers."""
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for line in lines:
        sheet.append(line)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
