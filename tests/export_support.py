"""Reading exported files in tests: the stamp lines first, then the report table (S4)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

import openpyxl

from domain.platform.exports import STAMP_MARK


def _is_stamp(line: Sequence[object]) -> bool:
    return bool(line) and isinstance(line[0], str) and line[0].startswith(STAMP_MARK)


def after_stamp(lines: Iterable[Sequence[object]]) -> list[Sequence[object]]:
    """The report table of an export: its lines after the leading stamp lines."""
    found = list(lines)
    skip = next((n for n, line in enumerate(found) if not _is_stamp(line)), len(found))
    return found[skip:]


def stamp_of(lines: Iterable[Sequence[object]]) -> dict[str, object]:
    """The stamp of an export as {label without its mark: value}."""
    stamp: dict[str, object] = {}
    for line in lines:
        if not _is_stamp(line):
            break
        stamp[str(line[0]).removeprefix(STAMP_MARK)] = line[1]
    return stamp


def csv_lines(body: bytes) -> list[list[str]]:
    """Every line of an exported CSV file, the stamp included."""
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def xlsx_lines(body: bytes) -> list[tuple[object, ...]]:
    """Every line of an exported XLSX file's worksheet, the stamp included."""
    return list(openpyxl.load_workbook(io.BytesIO(body)).active.values)
