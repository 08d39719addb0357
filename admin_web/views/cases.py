"""Central review in the web: the queue, the case page, decisions and the evidence photos."""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Awaitable, Callable
from datetime import datetime
from itertools import groupby
from typing import Any

from aiohttp import web
from multidict import MultiDict, MultiMapping

from admin_web.bulk import apply_each, chosen_ids
from admin_web.i18n import current_locale, error_text, status_text
from admin_web.i18n import gettext as _
from admin_web.pages import (
    actor_of,
    attempt,
    attempt_or_back,
    configured,
    flash_and_redirect,
    form_of,
    local_path,
    render,
)
from admin_web.paging import page_request, pager
from admin_web.params import choice, int_or_none, parse_date, path_id
from admin_web.state import CONFIG_KEY, TIMEZONE_KEY
from domain.cases import (
    business_types,
    case_file,
    case_summaries,
    case_timeline,
    review,
    review_desk,
    review_duty,
    review_queue,
    review_reasons,
)
from domain.cases.capture_gate import CaptureContext
from domain.cases.case_file import CaseDetail, PhotoView
from domain.cases.case_summaries import CustomerData
from domain.cases.review import DECIDED_STATUSES, OPEN_STATUSES
from domain.cases.review_queue import QueueFilters, QueueView
from domain.cases.review_reasons import RETAKE_ITEM_LABELS
from domain.models import (
    Case,
    CaseStatus,
    DecisionKind,
    PhotoKind,
    ReasonKind,
)
from domain.models.cases import RETAKE_CUSTOMER
from domain.people import orgs
from domain.platform import clock
from domain.platform.errors import N_
from domain.platform.media import MediaCorrupted
from domain.platform.privacy import ID_CARD_KINDS, may_see_id_images

log = logging.getLogger(__name__)

PREVIEW_SIDE = 1600
THUMBNAIL_SIDE = 480
NO_STORE = {"Cache-Control": "private, no-store"}
ORIGINAL_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"})
# The ID portrait side sits next to the on-site photo so the faces can be compared (C6).
PHOTO_ORDER = (PhotoKind.ID_FRONT, PhotoKind.ONSITE_WITH_AGENT, PhotoKind.ID_BACK,
               PhotoKind.SIGNED_FORM, PhotoKind.OTHER)
FACE_PAIR = frozenset({PhotoKind.ID_FRONT.value, PhotoKind.ONSITE_WITH_AGENT.value})
QUEUE_STATUSES = OPEN_STATUSES + DECIDED_STATUSES
VIEW_LABELS: dict[QueueView, str] = {
    QueueView.MINE: N_("Claimed by me"),
    QueueView.SECOND: N_("Waiting for my second approval"),
    QueueView.UNCLAIMED: N_("Unclaimed"),
    QueueView.OVERDUE: N_("Overdue"),
    QueueView.DECIDED_TODAY: N_("Decided today"),
}
DECISION_LABELS: dict[DecisionKind, str] = {
    DecisionKind.FIRST_APPROVAL: N_("First approval"),
    DecisionKind.APPROVE: N_("Approved"),
    DecisionKind.RETURN: N_("Returned for correction"),
    DecisionKind.REJECT: N_("Rejected"),
    DecisionKind.HOLD: N_("Put on hold"),
}


def capture_of(request: web.Request) -> CaptureContext:
    """The cipher, evidence store and business zone the case pages need (C9, C10)."""
    return configured(request.app[CONFIG_KEY].capture,
                      N_("Case review is not configured on this server."))


def status_label(status: str) -> str:
    """The translated name of a case status."""
    return status_text(CaseStatus, status)


def item_label(item: str) -> str:
    """The translated name of an item to retake: a photo kind or the customer data."""
    return _(RETAKE_ITEM_LABELS.get(item, item))


def taken_text(seconds: int) -> str:
    """How long a decided case took from submission to decision (C8)."""
    hours, minutes = divmod(max(seconds, 0) // 60, 60)
    if hours:
        return _("took %(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    return _("took %(minutes)s min") % {"minutes": minutes}


def sla_text(seconds_left: int) -> str:
    """Time left on the review SLA, or how long it is overdue, in whole minutes (C8, S1)."""
    if seconds_left >= 0:
        return _("%(minutes)s min left") % {"minutes": seconds_left // 60}
    return _("overdue by %(minutes)s min") % {"minutes": -(seconds_left // 60)}


def seconds_until(moment: datetime | None) -> int | None:
    """Whole seconds from now until a moment, negative once it has passed."""
    return None if moment is None else int((moment - clock.utcnow()).total_seconds())


def labels() -> dict[str, Any]:
    """Label helpers every case template uses."""
    return {"status_label": status_label, "item_label": item_label, "sla_text": sla_text,
            "taken_text": taken_text,
            "decision_label": lambda kind: _(DECISION_LABELS[DecisionKind(kind)])}


def queue_filters(query: MultiMapping[str]) -> QueueFilters:
    """The queue filters of the query string; unknown values mean any."""
    status = query.get("status", "")
    return QueueFilters(
        status=CaseStatus(status) if status in {s.value for s in QUEUE_STATUSES} else None,
        business_type_id=int_or_none(query.get("business_type_id")),
        org_id=int_or_none(query.get("org_id")), agent_id=int_or_none(query.get("agent_id")),
        overdue_only=query.get("overdue") == "1",
        captured_on=parse_date(query.get("captured")),
        decided_on=parse_date(query.get("decided")),
        view=choice(query.get("view"), QueueView),
    )


def view_links(request: web.Request) -> dict[str, str]:
    """The address of each saved view (and of the whole queue, key ""), keeping the filters
    but starting at the first page."""
    url = request.rel_url.without_query_params("cursor", "view")
    return {"": str(url)} | {view.value: str(url.update_query(view=view.value))
                             for view in QueueView}


async def queue(request: web.Request) -> web.Response:
    """The review queue of the actor's org subtree in the chosen view, page by page, with a
    count per view and the results of a bulk claim (C8, S1)."""
    actor, zone = actor_of(request), request.app[TIMEZONE_KEY]
    filters = queue_filters(request.query)
    page = await review_queue.queue_page(actor, filters, page_request(request.query), zone=zone)
    context = {
        "rows": page.rows, "paging": pager(request, page), "filters": filters,
        "statuses": QUEUE_STATUSES, "view_labels": VIEW_LABELS,
        "view_links": view_links(request), "newest_first": review_queue.newest_first(filters),
        "counts": await review_queue.view_counts(actor, filters, zone=zone),
        "business_types": await business_types.list_business_types(actor),
        "orgs": await orgs.list_orgs(actor), "agents": await review_desk.agent_choices(actor),
        "on_duty": await review_duty.on_duty_roster(actor),
    }
    return await render(request, "cases/queue.html", context | labels())


async def bulk_claim(request: web.Request) -> web.Response:
    """Claim the ticked cases, each through the claim service, checked and audited on its
    own, then show the queue with a result per case (C8)."""
    form, actor = await form_of(request), actor_of(request)
    ids = chosen_ids(form)
    await apply_each(request, local_path(form.get("next"), "/cases"), ids,
                     lambda case_id: review.claim(actor, case_id),
                     await review_queue.case_numbers(actor, ids), N_("Claimed"))


async def claim(request: web.Request) -> web.Response:
    """Take a case for review and open it (C8)."""
    case_id = path_id(request, "case_id")
    case, error = await attempt(review.claim(actor_of(request), case_id))
    message = error if case is None else _("You claimed case %(case_no)s.") % {
        "case_no": case.case_no}
    await flash_and_redirect(request, f"/cases/{case_id}", message or "")


async def release(request: web.Request) -> web.Response:
    """Give a claimed case back to the queue (C8)."""
    form, case_id = await form_of(request), path_id(request, "case_id")
    case, error = await attempt(review.release(actor_of(request), case_id))
    if case is None:
        await flash_and_redirect(request, f"/cases/{case_id}", error or "")
    message = _("Case %(case_no)s is back in the queue.") % {"case_no": case.case_no}
    await flash_and_redirect(request, local_path(form.get("next"), "/cases"), message)


def arrange_photos(photos: tuple[PhotoView, ...]
                   ) -> tuple[list[PhotoView], list[tuple[int, list[PhotoView]]]]:
    """The photos to judge (latest of each kind) and the superseded ones by revision (C6, C9)."""
    latest: dict[str, PhotoView] = {}
    for photo in sorted(photos, key=lambda p: (p.revision, p.photo_id)):
        latest[photo.kind] = photo
    order = [kind.value for kind in PHOTO_ORDER]
    current = sorted(latest.values(), key=lambda p: order.index(p.kind))
    shown = {photo.photo_id for photo in current}
    earlier = sorted((p for p in photos if p.photo_id not in shown),
                     key=lambda p: (-p.revision, order.index(p.kind), p.photo_id))
    return current, [(rev, list(group)) for rev, group in groupby(earlier, lambda p: p.revision)]


def approve_label(detail: CaseDetail) -> str:
    """The approve button's text: plain, or which of the two four-eyes approvals it is (S2)."""
    if not detail.four_eyes:
        return _("Approve")
    if detail.first_approved_by_id is None:
        return _("First approval")
    return _("Second approval (four eyes)")


async def _case_view(request: web.Request, case_id: int, *, customer: CustomerData | None = None
                     ) -> web.Response:
    """Render the case page, with the clear customer data only right after a reveal (C10)."""
    detail = await case_file.case_detail(actor_of(request), case_id, capture_of(request))
    current, earlier = arrange_photos(detail.photos)
    summary = detail.summary
    context = {
        "case": detail, "summary": summary, "customer": customer,
        "current_photos": current, "earlier_photos": earlier, "face_pair": FACE_PAIR,
        "open": summary.status in OPEN_STATUSES, "approve_label": approve_label(detail),
        "seconds_left": seconds_until(summary.review_due_at),
        "return_reasons": await review_reasons.active_reasons(ReasonKind.RETURN),
        "reject_reasons": await review_reasons.active_reasons(ReasonKind.REJECT),
        "reason_names": await review_reasons.reason_names(current_locale()),
        "retake_choices": [k.value for k in summary.photo_kinds + summary.missing_photo_kinds]
        + [RETAKE_CUSTOMER],
        "hidden_kinds": set() if may_see_id_images(actor_of(request)) else ID_CARD_KINDS,
        "timeline": await case_timeline.timeline(detail.events),
    }
    response = await render(request, "cases/detail.html", context | labels())
    response.headers.update(NO_STORE)
    return response


async def case_page(request: web.Request) -> web.Response:
    """The case page: customer data masked, photos, timeline, decisions (C6, C10)."""
    return await _case_view(request, path_id(request, "case_id"))


async def reveal(request: web.Request) -> web.Response:
    """Show the customer's ID number and mobile in clear once, audited by the service (C10)."""
    case_id = path_id(request, "case_id")
    customer = await attempt_or_back(request, case_summaries.reveal_customer(
        actor_of(request), case_id, capture_of(request)), f"/cases/{case_id}")
    return await _case_view(request, case_id, customer=customer)


async def _decided(request: web.Request, case_id: int, call: Awaitable[Case],
                   done: Callable[[Case], str]) -> web.Response:
    """Report a decision; a refusal (for example another reviewer decided first) is shown on
    the case page the browser goes back to."""
    case = await attempt_or_back(request, call, f"/cases/{case_id}")
    await flash_and_redirect(request, f"/cases/{case_id}",
                             _(done(case)) % {"case_no": case.case_no})


def _approved(case: Case) -> str:
    """What an approval achieved: the case approved, or the first of two approvals (S2)."""
    if case.status == CaseStatus.APPROVED:
        return N_("Case %(case_no)s approved.")
    return N_("First approval of case %(case_no)s recorded; a second reviewer must confirm it.")


async def approve(request: web.Request) -> web.Response:
    """Approve, or give the first of two approvals on a four-eyes type (C6, S2)."""
    case_id = path_id(request, "case_id")
    call = review.approve(actor_of(request), case_id, capture_of(request))
    return await _decided(request, case_id, call, _approved)


def _retake_items(form: MultiDict[str]) -> list[str] | None:
    """The ticked items to retake, or None to use the reasons' own items (C7)."""
    return form.getall("retake_items", []) or None


async def return_case(request: web.Request) -> web.Response:
    """Return for correction with the ticked reasons and items to retake (C7)."""
    form, case_id = await form_of(request), path_id(request, "case_id")
    call = review.return_case(actor_of(request), case_id, form.getall("reasons", []),
                              form.get("note", ""), capture_of(request), _retake_items(form))
    return await _decided(request, case_id, call,
                          lambda _case: N_("Case %(case_no)s returned to the agent."))


async def reject(request: web.Request) -> web.Response:
    """Reject with a managed reason, for example a failed networked identity check (C6)."""
    form, case_id = await form_of(request), path_id(request, "case_id")
    call = review.reject(actor_of(request), case_id, form.get("reason", ""),
                         form.get("note", ""), capture_of(request))
    return await _decided(request, case_id, call, lambda _case: N_("Case %(case_no)s rejected."))


async def hold(request: web.Request) -> web.Response:
    """Put on hold while the check system is down (C6, C8)."""
    form, case_id = await form_of(request), path_id(request, "case_id")
    call = review.hold(actor_of(request), case_id, form.get("note", ""), capture_of(request))
    return await _decided(request, case_id, call,
                          lambda _case: N_("Case %(case_no)s put on hold."))


async def _evidence_alarm(request: web.Request, err: MediaCorrupted) -> web.Response:
    """A stored photo failed its hash check: log the alarm and refuse with a 500 (C9)."""
    log.error("ALARM evidence hash mismatch: case %s photo %s (C9)",
              request.match_info["case_id"], err.params.get("sha256"))
    context = {"title": _("Evidence check failed"), "message": error_text(err)}
    return await render(request, "errors/error.html", context, status=500)


async def photo(request: web.Request) -> web.StreamResponse:
    """A downscaled JPEG copy without EXIF; `?size=small` for the page (C9, C10)."""
    side = THUMBNAIL_SIDE if request.query.get("size") == "small" else PREVIEW_SIDE
    try:
        data = await review_desk.photo_preview(
            actor_of(request), path_id(request, "case_id"), request.match_info["sha256"],
            capture_of(request), side)
    except MediaCorrupted as err:
        return await _evidence_alarm(request, err)
    return web.Response(body=data, content_type="image/jpeg", headers=NO_STORE)


async def photo_original(request: web.Request) -> web.StreamResponse:
    """The original bytes as uploaded, for reveal holders only, audited (C9, C10)."""
    try:
        row, data = await review_desk.photo_original(
            actor_of(request), path_id(request, "case_id"), request.match_info["sha256"],
            capture_of(request))
    except MediaCorrupted as err:
        return await _evidence_alarm(request, err)
    content_type = row.content_type if row.content_type in ORIGINAL_TYPES else (
        "application/octet-stream")
    name = f"{row.kind.value}-r{row.revision}-{row.sha256[:12]}"
    name += mimetypes.guess_extension(content_type) or ""
    disposition = f'attachment; filename="{name}"'
    return web.Response(body=data, content_type=content_type,
                        headers=NO_STORE | {"Content-Disposition": disposition})
