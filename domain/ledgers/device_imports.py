"""Tablets registered from a CSV file, row by row or all or nothing, with an error report
(D1)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from domain.ledgers.devices import DeviceForm, register_device
from domain.ledgers.ledger_csv import ImportReport, ImportRow
from domain.models import Org
from domain.platform import audit
from domain.platform.access import Permission, require
from domain.platform.actors import Actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.errors import N_, DomainError

CSV_COLUMNS = ("asset_tag", "serial", "imei", "model", "purchase_date", "org_code")


class _Rollback(Exception):
    """Raised inside the all-or-nothing transaction to undo a file with bad rows."""

    def __init__(self, errors: list[ImportRow]) -> None:
        super().__init__(len(errors))
        self.errors = errors


async def import_devices_csv(actor: Actor, text: str, *, all_or_nothing: bool,
                             progress: object | None = None, zone: ZoneInfo = DEFAULT_ZONE
                             ) -> ImportReport:
    """Register tablets from CSV (asset_tag,serial,imei,model,purchase_date,org_code) with a
    row-by-row error report (D1).

    `progress(done, total, label)` is called after each row; a refused row is reported with
    its msgid and parameters. With `all_or_nothing` one bad row leaves the whole file
    unimported; without it every good row is kept.
    """
    require(actor, Permission.DEVICE_MANAGE)
    rows = _csv_rows(text)
    steps = _RowImport(actor, len(rows), progress, zone)
    if all_or_nothing:
        try:
            async with in_transaction():
                imported, errors = await steps.run(rows)
                if errors:
                    raise _Rollback(errors)
        except _Rollback as undone:
            imported, errors = 0, undone.errors
    else:
        imported, errors = await steps.run(rows)
    report = ImportReport(len(rows), imported, tuple(errors), all_or_nothing)
    await audit.record(actor, "device.import", "device", org_id=actor.org_id, detail={
        "read": report.read, "imported": report.imported, "errors": len(errors),
        "all_or_nothing": all_or_nothing})
    return report


@dataclass(frozen=True)
class _RowImport:
    """Registers CSV rows one by one, each in its own savepoint, reporting progress."""

    actor: Actor
    total: int
    progress: object | None
    zone: ZoneInfo

    async def run(self, rows: list[tuple[int, list[str]]]) -> tuple[int, list[ImportRow]]:
        """Register every row; returns how many were imported and the refused rows."""
        imported, errors = 0, []
        for done, (line, values) in enumerate(rows, start=1):
            try:
                await register_device(self.actor, await _form_of(values), zone=self.zone)
                imported += 1
            except DomainError as refusal:
                errors.append(ImportRow(line, refusal.key, dict(refusal.params)))
            if callable(self.progress):
                self.progress(done, self.total, values[0] or f"#{line}")
        return imported, errors


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """The non-empty data rows with their line numbers; a wrong header refuses the file."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = tuple(name.strip().lower() for name in next(reader, []))
    if header != CSV_COLUMNS:
        raise DomainError(N_("The first line must be the header %(columns)s."),
                          columns=",".join(CSV_COLUMNS))
    return [(line, [value.strip() for value in values])
            for line, values in enumerate(reader, start=2) if any(v.strip() for v in values)]


async def _form_of(values: list[str]) -> DeviceForm:
    """The form of one CSV row: column count, purchase date and org code checked (D1)."""
    if len(values) != len(CSV_COLUMNS):
        raise DomainError(N_("This row has %(found)s columns instead of %(expected)s."),
                          found=len(values), expected=len(CSV_COLUMNS))
    asset_tag, serial, imei, model, purchased, org_code = values
    org = await Org.get_or_none(code=org_code)
    if org is None:
        raise DomainError(N_("No organisation has the code %(code)s."), code=org_code)
    return DeviceForm(asset_tag, serial, imei or None, model, _date(purchased), org.id)


def _date(text: str) -> date | None:
    """An ISO date from a CSV cell; empty means unknown."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError(N_("%(value)s is not a date; write it as YYYY-MM-DD."),
                          value=text) from None
