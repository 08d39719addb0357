"""CSV imports into the ledgers: header check, cell parsing, a row-by-row error report and
all-or-nothing in one transaction (issue 4: training, exams, devices)."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.transactions import in_transaction

from domain.platform.errors import N_, DomainError


@dataclass(frozen=True)
class ImportRow:
    """The outcome of one CSV row: its line number and the error (empty when imported)."""

    line: int
    error: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows read, imported, and the errors row by row."""

    read: int
    imported: int
    errors: tuple[ImportRow, ...]
    all_or_nothing: bool


@dataclass(frozen=True)
class CsvRow:
    """One data row of a CSV file: its line number, cells by column, and surplus cells."""

    line: int
    values: dict[str, str]
    surplus: bool


MISSING = N_("%(column)s is missing.")
BAD_NUMBER = N_("%(column)s: %(value)s is not a valid number with at most one decimal place.")
RowWriter = Callable[[CsvRow], Awaitable[object]]


class _RolledBack(Exception):
    """Raised inside an all-or-nothing import to roll its transaction back."""


class _Previewed(Exception):
    """Raised after an import's preview to roll back all it wrote."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(report.read)
        self.report = report


MOST_WEB_ROWS = 2000  # a web import's preview and commit each hold the write lock this long
UNREADABLE = N_("Line %(line)s cannot be read as CSV (a cell is too long or badly quoted).")


def _lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """The CSV rows of a text with the line each ends on; one that cannot be read (a cell over
    the csv module's limit) is refused with its line."""
    reader = csv.reader(io.StringIO(text))
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error:
        raise DomainError(UNREADABLE, line=reader.line_num) from None


def require_rows_at_most(text: str, most: int = MOST_WEB_ROWS) -> None:
    """Refuse a CSV text with more than `most` data rows (blank lines not counted)."""
    count = sum(1 for _line, cells in _lines(text) if any(cell.strip() for cell in cells)) - 1
    if count > most:
        raise DomainError(N_("The file has %(count)s rows; import at most %(most)s at a time "
                             "(split the file)."), count=count, most=most)


def read_csv(text: str, columns: tuple[str, ...]) -> list[CsvRow]:
    """The data rows of a CSV text whose header names every column, blank lines skipped."""
    reader = _lines(text)
    _line, header = next(reader, (0, None))
    if header is None or not any(cell.strip() for cell in header):
        raise DomainError(N_("The file is empty; it needs a header row: %(columns)s."),
                          columns=",".join(columns))
    names = [cell.strip().lower() for cell in header]
    missing = [column for column in columns if column not in names]
    if missing:
        raise DomainError(N_("The header row lacks the column %(column)s."), column=missing[0])
    return [CsvRow(line, dict(zip(names, (c.strip() for c in cells), strict=False)),
                   len(cells) > len(names))
            for line, cells in reader if any(cell.strip() for cell in cells)]


def cell(row: CsvRow, column: str) -> str:
    """A required cell, refused when missing or empty."""
    value = row.values.get(column, "")
    if not value:
        raise DomainError(MISSING, column=column)
    return value


def date_cell(row: CsvRow, column: str) -> date:
    """A required YYYY-MM-DD date cell."""
    value = cell(row, column)
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise DomainError(N_("%(column)s: %(value)s is not a date; write YYYY-MM-DD."),
                          column=column, value=value) from None


def number_cell(row: CsvRow, column: str) -> Decimal:
    """A required decimal number cell."""
    value = cell(row, column)
    try:
        return Decimal(value)
    except InvalidOperation:
        raise DomainError(BAD_NUMBER, column=column, value=value) from None



def _check_row(row: CsvRow, key_columns: tuple[str, ...], seen: dict[tuple, int]) -> None:
    """Refuse a row that repeats an earlier row of the file or has surplus cells."""
    key = tuple(row.values.get(column, "").lower() for column in key_columns)
    if key in seen:
        raise DomainError(N_("This row repeats line %(line)s."), line=seen[key])
    seen[key] = row.line
    if row.surplus:
        raise DomainError(N_("This row has more cells than the header has columns."))


def _report_progress(progress: object | None, done: int, total: int, label: str) -> None:
    if callable(progress):
        progress(done, total, label)


async def import_csv(text: str, columns: tuple[str, ...], key_columns: tuple[str, ...],
                     writer: Callable[[list[CsvRow]], Awaitable[RowWriter]], *,
                     all_or_nothing: bool, progress: object | None) -> ImportReport:
    """Check and write row by row in one transaction, rolled back on any error when
    `all_or_nothing`; `writer(rows)` prepares the per-row writer (e.g. loads the staff),
    which raises DomainError for a bad row. `progress(done, total, label)` runs per row."""
    try:
        rows = read_csv(text, columns)
    except DomainError as bad:
        return ImportReport(0, 0, (ImportRow(1, bad.key, bad.params),), all_or_nothing)
    write = await writer(rows)
    errors: list[ImportRow] = []
    seen: dict[tuple, int] = {}
    try:
        async with in_transaction():
            for done, row in enumerate(rows, 1):
                try:
                    _check_row(row, key_columns, seen)
                    await write(row)
                except DomainError as refused:
                    errors.append(ImportRow(row.line, refused.key, refused.params))
                _report_progress(progress, done, len(rows), row.values.get(columns[0], ""))
            if errors and all_or_nothing:
                raise _RolledBack
    except _RolledBack:
        return ImportReport(len(rows), 0, tuple(errors), all_or_nothing)
    return ImportReport(len(rows), len(rows) - len(errors), tuple(errors), all_or_nothing)


async def preview_import(run: Callable[[], Awaitable[ImportReport]]) -> ImportReport:
    """What an import would do, row by row, with nothing kept: `run` (an all-or-nothing
    import) goes through every check and write in a transaction that is always rolled back,
    audit rows and notifications included."""
    try:
        async with in_transaction():
            raise _Previewed(await run())
    except _Previewed as previewed:
        return previewed.report
