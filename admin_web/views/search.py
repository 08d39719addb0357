"""The header's search box and its results page, and the page per customer (C10)."""

from __future__ import annotations

from aiohttp import web

from admin_web.pages import actor_of, attempt, form_of, render
from admin_web.params import path_id
from admin_web.state import CONFIG_KEY
from admin_web.views import callbacks, cases, devices, vouchers
from domain.cases import customers
from domain.oversight import search
from domain.oversight.person_history import READERS as PERSON_READERS
from domain.oversight.search import Kind
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError
from domain.platform.privacy import FieldCipher

KIND_HEADINGS: dict[Kind, str] = {
    Kind.CASE: N_("Cases by number"),
    Kind.CUSTOMER: N_("Cases of the customer"),
    Kind.CALLBACK: N_("Open callbacks"),
    Kind.VOUCHER: N_("Voucher serials"),
    Kind.DEVICE: N_("Tablets"),
    Kind.STAFF: N_("Staff"),
}
CUSTOMER_KINDS: dict[customers.CustomerKind, str] = {
    customers.CustomerKind.ID_NUMBER: N_("ID number"),
    customers.CustomerKind.MOBILE: N_("Mobile number"),
    customers.CustomerKind.NAME: N_("Customer name"),
}
IN_ADDRESS = N_("Customer data is searched from the search box only, never through a page's "
                "address (it would stay in browser histories and server logs).")


def cipher_of(request: web.Request) -> FieldCipher | None:
    """The customer-data cipher when the site is set up for cases (C10)."""
    capture = request.app[CONFIG_KEY].capture
    return capture.cipher if capture is not None else None


def staff_page(actor: Actor) -> str:
    """Where a found staff member links, his id appended: his history for its readers, his
    staff record for the other staff readers (system and IT administrators)."""
    return "/people/" if actor.has(*PERSON_READERS) else "/staff/"


def labels() -> dict[str, object]:
    """The labels of every kind a results page shows."""
    return (cases.labels() | callbacks.labels() | vouchers.labels()
            | {"device_state_label": devices.labels()["state_label"],
               "kind_headings": KIND_HEADINGS, "customer_kinds": CUSTOMER_KINDS})


async def results_page(request: web.Request) -> web.Response:
    """POST /search (the header box) or GET /search?q=… (codes only): the groups the reader
    may see, or why the term was refused; without a term, what to type (a page, not an
    error)."""
    actor = actor_of(request)
    term = await term_of(request)
    found, error = await attempt(searched(actor, term, request))
    blank = not term.strip()
    return await render(request, "search/results.html", labels() | {
        "search_term": "" if found is None or found.customer else found.term,
        "found": found, "error": None if blank else error, "prompt": error if blank else None,
        "shows_customers": customers.sees_customers(actor), "staff_url": staff_page(actor),
        "path": request.path},  # the language switch returns without the term (C10)
        status=400 if error and not blank else 200)


async def term_of(request: web.Request) -> str:
    """The term posted by the header box, or given in the address."""
    if request.method == "POST":
        return (await form_of(request)).get("q", "")
    return request.query.get("q", "")


async def searched(actor: Actor, term: str, request: web.Request) -> search.SearchResults:
    """The search, refused when customer data came in the page's address (C10)."""
    if request.method != "POST" and term.strip() and customers.customer_term(
            search.clean_term(term)) is not None:
        raise DomainError(IN_ADDRESS)
    return await search.search(actor, term, cipher_of(request))


async def customer_page(request: web.Request) -> web.Response:
    """GET /customers/by-case/{case_id}: every case of that case's customer in scope, the
    opening audited (C10); see customers.customer_cases for why the entry is a case id."""
    case_id = path_id(request, "case_id")
    customer = await customers.customer_cases(
        actor_of(request), case_id, cases.capture_of(request).cipher)
    return await render(request, "search/customer.html", labels() | {"customer": customer})
