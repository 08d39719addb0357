"""Reading exported files in tests: the stamp lines first, then the report table (S4)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

import openpyxl

from domain.platform.exports import STAMP_MARK


def _is_stamp(line: Sequence[object]) -> bool:
    return bool(line) and isinstance(line[0], str) and line[0].startswith(STAMP_MARK)


def _stamp_span(found: list[Sequence[object]]) -> tuple[int, int]:
    """Where the stamp lines start and end (a list's XLSX has its title line above them)."""
    start = next((n for n, line in enumerate(found) if _is_stamp(line)), 0)
    end = next((n for n in range(start, len(found)) if not _is_stamp(found[n])), len(found))
    return start, end


def after_stamp(lines: Iterable[Sequence[object]]) -> list[Sequence[object]]:
    """The report table of an export: its lines after the leading stamp lines (and the blank
    line a list's XLSX has between its stamp and its table)."""
    found = list(lines)
    end = _stamp_span(found)[1]
    while end < len(found) and all(cell in (None, "") for cell in found[end]):
        end += 1
    return found[end:]


def stamp_of(lines: Iterable[Sequence[object]]) -> dict[str, object]:
    """The stamp of an export as {label without its mark: value}."""
    found = list(lines)
    start, end = _stamp_span(found)
    return {str(line[0]).removeprefix(STAMP_MARK): line[1] for line in found[start:end]}


def csv_lines(body: bytes) -> list[list[str]]:
    """Every line of an exported CSV file, the stamp included."""
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def xlsx_lines(body: bytes) -> list[tuple[object, ...]]:
    """Every line of an exported XLSX file's worksheet, the stamp included."""
    return list(openpyxl.load_workbook(io.BytesIO(body)).active.values)
