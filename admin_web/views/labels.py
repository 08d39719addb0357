"""Printable QR labels of tablets and tail boxes, and the scan of one (D1, V1).

A label page is an A4 sheet of labels, each with its QR code as inline SVG, the asset tag or
box name and the org; the QR carries this site's `/scan/<code>` address, which opens the
item's page for whoever may see it after log-in (a phone's QR app, a barcode scanner).
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

import segno
from aiohttp import web
from markupsafe import Markup

from admin_web.i18n import gettext as _
from admin_web.pages import actor_of, redirect, render
from admin_web.params import int_or_none
from domain.platform.access import Permission, can
from domain.platform.actors import Actor
from domain.vouchers import scan_codes
from domain.vouchers.scan_codes import Label

Labels = Callable[[Actor, list[int] | None, int | None], Awaitable[list[Label]]]


@dataclass(frozen=True)
class Printed:
    """A label as printed: its facts and its QR code."""

    label: Label
    url: str
    qr: Markup


def scan_url(request: web.Request, code: str) -> str:
    """The address a label's QR carries: this site's scan page of the code."""
    return f"{request.url.origin()}/scan/{quote(code, safe='')}"


def qr_svg(content: str) -> Markup:
    """A QR code of the content as inline SVG (medium error correction, survives a scuff)."""
    buffer = io.BytesIO()
    segno.make(content, error="m").save(buffer, kind="svg", unit="mm", border=2, xmldecl=False,
                                        svgclass="qr", lineclass=None, title=content)
    return Markup(buffer.getvalue().decode())  # segno's own SVG; it escapes the title


async def _sheet(request: web.Request, load: Labels, title: str, back: str) -> web.Response:
    """The label sheet of the chosen items (`ids`), or of all of an org (`org_id`)."""
    ids = [n for n in map(int_or_none, request.query.getall("ids", [])) if n is not None]
    rows = await load(actor_of(request), ids or None, int_or_none(request.query.get("org_id")))
    printed = [Printed(label, url := scan_url(request, label.code), qr_svg(url))
               for label in rows]
    return await render(request, "labels/sheet.html",
                        {"labels": printed, "title": title, "back": back})


async def tablet_labels(request: web.Request) -> web.Response:
    """QR labels of one tablet, a selection or all tablets of an org (D1)."""
    return await _sheet(request, scan_codes.tablet_labels, _("Tablet labels"), "/devices")


async def box_labels(request: web.Request) -> web.Response:
    """QR labels of one tail box, a selection or all boxes of an org (V1)."""
    return await _sheet(request, scan_codes.box_labels, _("Tail box labels"), "/vouchers")


async def scan(request: web.Request) -> web.Response:
    """A scanned label: the item's page for whoever may see it; an unknown code, or one out
    of the user's scope, is answered as unknown (S3)."""
    actor = actor_of(request)
    found = await scan_codes.find_scanned(actor, request.match_info["code"])
    if found.box is not None and can(actor, Permission.VOUCHER_VIEW):
        redirect(f"/vouchers/boxes/{found.box.id}")
    tablet = found.tablet or found.box.device  # type: ignore[union-attr]
    if can(actor, Permission.DEVICE_VIEW):
        redirect(f"/devices/{tablet.id}")
    redirect("/chat")
