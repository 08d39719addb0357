"""Imports in the web: training records, exam results, tablets and staff from a CSV file.
The preview runs the import and rolls it back, showing row by row what would be added or why
not; the commit sends the same text back (checked by its SHA-256) and imports it all or
nothing, so what is committed is exactly what was previewed, or nothing (Q2, D1)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web

from admin_web.i18n import error_text
from admin_web.i18n import gettext as _
from admin_web.pages import (
    actor_of,
    attempt_or_back,
    business_today,
    flash_and_redirect,
    form_of,
    note_and_redirect,
    refuse,
    render,
    uploaded_text,
)
from admin_web.state import TIMEZONE_KEY
from domain.ledgers import device_imports, qualification_basis, staff_imports
from domain.ledgers.ledger_csv import (
    ImportReport,
    ImportRow,
    preview_import,
    read_csv,
    require_rows_at_most,
)
from domain.platform.access import Permission, require
from domain.platform.errors import N_, DomainError

Importer = Callable[..., Awaitable[ImportReport]]


@dataclass(frozen=True)
class Ledger:
    """What one import offers: its title, columns, the permission its page needs, where its
    rows are listed, and the domain import (given the request's business day and zone)."""

    title: str
    columns: tuple[str, ...]
    permission: Permission
    listed_at: str
    importer: Callable[[web.Request], Importer]


LEDGERS: dict[str, Ledger] = {
    "training": Ledger(N_("Import training records"), qualification_basis.TRAINING_COLUMNS,
                       Permission.QUALIFICATION_MANAGE, "/qualifications",
                       lambda request: partial(qualification_basis.import_training_csv,
                                               today=business_today(request))),
    "exams": Ledger(N_("Import exam results"), qualification_basis.EXAM_COLUMNS,
                    Permission.QUALIFICATION_MANAGE, "/qualifications",
                    lambda request: partial(qualification_basis.import_exams_csv,
                                            today=business_today(request))),
    "devices": Ledger(N_("Import tablets"), device_imports.CSV_COLUMNS,
                      Permission.DEVICE_MANAGE, "/devices",
                      lambda request: partial(device_imports.import_devices_csv,
                                              zone=request.app[TIMEZONE_KEY])),
    "staff": Ledger(N_("Import staff"), staff_imports.STAFF_COLUMNS, Permission.STAFF_MANAGE,
                    "/staff", lambda _request: staff_imports.import_staff_csv),
}
NO_ROWS = N_("The file has no data rows.")
CHANGED = N_("Nothing was imported: %(count)s rows no longer import as previewed (changed "
             "meanwhile). Preview the file again.")


def _ledger(request: web.Request) -> tuple[str, Ledger]:
    """The ledger named in the URL, for an actor who may import into it."""
    name = request.match_info["ledger"]
    if name not in LEDGERS:
        raise web.HTTPNotFound
    ledger = LEDGERS[name]
    require(actor_of(request), ledger.permission)
    return name, ledger


def one_kind_of_line_break(text: str) -> str:
    """The text with LF line breaks only: a browser sends a form's text back with CRLF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def digest(text: str) -> str:
    """The SHA-256 a preview names its text by."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def import_page(request: web.Request) -> web.Response:
    """The upload form of one ledger's import."""
    name, ledger = _ledger(request)
    return await _page(request, name, ledger)


async def _page(request: web.Request, name: str, ledger: Ledger, **preview: Any
                ) -> web.Response:
    context = {"ledger": ledger, "name": name, "columns": ",".join(ledger.columns),
               "preview": None} | preview
    return await render(request, "imports/ledger.html", context)


async def preview(request: web.Request) -> web.Response:
    """Check every row as the import would, write nothing, and show what would be added and
    the refused rows with their reasons."""
    name, ledger = _ledger(request)
    back = f"/imports/{name}"
    text = await attempt_or_back(request, _upload(request), back)
    report = await attempt_or_back(request, preview_import(partial(
        ledger.importer(request), actor_of(request), text, all_or_nothing=True)), back)
    errors = {row.line: _row_error(row) for row in report.errors}
    if not report.read:
        await refuse(request, back, next(iter(errors.values()), _(NO_ROWS)))
    rows = read_csv(text, ledger.columns)
    return await _page(request, name, ledger, preview={
        "rows": [(row.line, [row.values.get(c, "") for c in ledger.columns],
                  errors.get(row.line)) for row in rows],
        "refused": len(report.errors), "text": text, "digest": digest(text)})


async def _upload(request: web.Request) -> str:
    """The uploaded CSV with LF line breaks; an empty one, or one over the rows a web import
    takes, is refused."""
    return _importable(one_kind_of_line_break(await uploaded_text(request)))


def _importable(text: str) -> str:
    """The text, refused when empty or longer than a web import takes (it holds the database's
    write lock through all its rows, for the preview and again for the commit)."""
    if not text.strip():
        raise DomainError(NO_ROWS)
    require_rows_at_most(text)
    return text


async def commit(request: web.Request) -> web.Response:
    """Import the previewed text all or nothing; if any row no longer imports, nothing is
    written and the rows are listed with their reasons."""
    name, ledger = _ledger(request)
    form = await form_of(request)
    text = one_kind_of_line_break(form.get("csv_text", ""))
    if not text or form.get("digest") != digest(text):
        await refuse(request, f"/imports/{name}",
                     _("The file differs from its preview. Preview it again."))
    try:
        _importable(text)
    except DomainError as refused:
        await refuse(request, f"/imports/{name}", error_text(refused))
    actor = actor_of(request)
    report = await ledger.importer(request)(actor, text, all_or_nothing=True)
    if report.errors:
        await note_and_redirect(request, f"/imports/{name}", {
            "error": _(CHANGED) % {"count": len(report.errors)},
            "results": [{"label": _("Line %(line)s") % {"line": row.line}, "done": False,
                         "message": _row_error(row)}
                        for row in report.errors]})
    await flash_and_redirect(request, ledger.listed_at,
                             _("%(count)s rows imported.") % {"count": report.imported})


def _row_error(row: ImportRow) -> str:
    """The translated reason a row is refused."""
    return error_text(DomainError(row.error, **row.params))

