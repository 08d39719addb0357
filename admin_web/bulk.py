"""Bulk actions of the admin: one domain service applied to each selected item on its own —
its own transaction, checks and audit row, so one refusal undoes nothing of the others — and
a result per item shown on the next page (post/redirect/get, `_bulk.html`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn

from aiohttp import web
from multidict import MultiMapping

from admin_web.i18n import error_text
from admin_web.i18n import gettext as _
from admin_web.pages import note_and_redirect, refuse
from admin_web.params import int_or_none
from domain.platform.errors import N_, DomainError

MOST_ITEMS = 100  # items one submission may name; each is a transaction of its own
NONE_CHOSEN = N_("Tick at least one row first.")
TOO_MANY = N_("At most %(most)s rows at a time.")


def chosen_ids(form: MultiMapping[str], name: str = "ids") -> list[int]:
    """The ids ticked in a bulk form, each once, in the order sent; malformed ones dropped."""
    found = (int_or_none(value) for value in form.getall(name, []))
    return list(dict.fromkeys(item for item in found if item is not None))


async def apply_each(request: web.Request, location: str, ids: list[Any],
                     change: Callable[[Any], Awaitable[object]], labels: Mapping[Any, str],
                     done: str) -> NoReturn:
    """Apply `change` to each id in turn and go back to `location`, whose page lists every
    item (by its label) as done (with the `done` msgid) or refused with the translated reason.

    Each call is the single-item domain service, which checks, writes and audits in its own
    transaction. Permission and not-found refusals of one item are that item's result."""
    if not ids:
        await refuse(request, location, _(NONE_CHOSEN))
    if len(ids) > MOST_ITEMS:
        await refuse(request, location, _(TOO_MANY) % {"most": MOST_ITEMS})
    results = []
    for item in ids:
        try:
            await change(item)
        except DomainError as refusal:
            outcome = {"done": False, "message": error_text(refusal)}
        else:
            outcome = {"done": True, "message": _(done)}
        results.append({"label": labels.get(item, f"#{item}")} | outcome)
    await note_and_redirect(request, location, {"results": results})
