"""Staff added from a CSV file, row by row through `create_staff` (its scope, duties and
second-administrator rules), with a row-by-row error report."""

from __future__ import annotations

import re

from domain.ledgers.ledger_csv import CsvRow, ImportReport, RowWriter, cell, import_csv
from domain.models import Org, Role
from domain.people.staff import StaffForm, create_staff
from domain.platform.access import Permission, require
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError

STAFF_COLUMNS = ("employee_no", "name", "org_code", "phone", "roles")
ROLE_SEPARATORS = re.compile(r"[\s;,]+")


async def import_staff_csv(actor: Actor, text: str, *, all_or_nothing: bool,
                           progress: object | None = None) -> ImportReport:
    """Add staff from CSV (employee_no,name,org_code,phone,roles: role keys separated by
    spaces or semicolons) with a row-by-row error report; privileged roles wait for a second
    system administrator as when added one by one (S2)."""
    require(actor, Permission.STAFF_MANAGE)

    async def prepare(rows: list[CsvRow]) -> RowWriter:
        codes = {row.values.get("org_code", "") for row in rows}
        org_ids = {org.code: org.id for org in await Org.filter(code__in=codes)}

        async def write_row(row: CsvRow) -> None:
            code = cell(row, "org_code")
            if code not in org_ids:
                raise DomainError(N_("No organisation has the code %(code)s."), code=code)
            await create_staff(actor, StaffForm(
                cell(row, "employee_no"), cell(row, "name"), org_ids[code], _roles(row),
                row.values.get("phone", "")))

        return write_row

    return await import_csv(text, STAFF_COLUMNS, STAFF_COLUMNS[:1], prepare,
                            all_or_nothing=all_or_nothing, progress=progress)


def _roles(row: CsvRow) -> frozenset[Role]:
    """The roles of a row by their keys; an unknown key refuses the row."""
    known = {role.value: role for role in Role}
    keys = [key for key in ROLE_SEPARATORS.split(cell(row, "roles").lower()) if key]
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise DomainError(N_("Unknown role %(role)s; the roles are %(roles)s."),
                          role=unknown[0], roles=" ".join(known))
    return frozenset(known[key] for key in keys)
