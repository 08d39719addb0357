"""One search over the records a user may read: cases by number, a customer's cases by ID
number, mobile or name (through the keyed hashes, audited, masked), open callbacks, voucher
serials, tablets and staff — each kind only for the roles that read it, each row within the
reader's org subtree (C10, S3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from domain.cases.customers import (
    CustomerCase,
    CustomerTerm,
    case_line,
    customer_condition,
    customer_term,
    mask_name,
    record_search,
    scoped_cases,
    sees_customers,
)
from domain.models import Device, Staff, Voucher
from domain.oversight.callbacks import open_callbacks
from domain.platform.access import Permission, can, scope_prefix
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError
from domain.platform.identity import normalise_text
from domain.platform.privacy import FieldCipher

MAX_TERM = 64  # the longest value searched: a voucher serial
PER_KIND = 20


class Kind(StrEnum):
    """The kinds of result, in the order the page shows them."""

    CASE = "case"
    CUSTOMER = "customer"
    CALLBACK = "callback"
    VOUCHER = "voucher"
    DEVICE = "device"
    STAFF = "staff"


@dataclass(frozen=True)
class CallbackHit:
    """An open callback found by its case's number or its customer, the customer masked."""

    callback_id: int
    case_no: str | None
    status: str
    customer_masked: str
    due_at: datetime


@dataclass(frozen=True)
class Group:
    """The hits of one kind, at most PER_KIND; `more` when there were more."""

    kind: Kind
    hits: tuple[Any, ...]
    more: bool


@dataclass(frozen=True)
class SearchResults:
    """What one search found, the groups the reader may see in page order; `customer` is
    the term read as customer data when it was searched as such (its masked form only)."""

    term: str
    customer: CustomerTerm | None
    groups: tuple[Group, ...]


def clean_term(text: str) -> str:
    """The typed term, full-width characters read as ASCII, trimmed; refused when blank or
    longer than any value searched."""
    term = " ".join(normalise_text(text).split())
    if not term:
        raise DomainError(N_("Type a case number, an ID number, a mobile number, a name, a "
                             "voucher serial, an asset tag or an employee number."))
    if len(term) > MAX_TERM:
        raise DomainError(N_("A search has at most %(n)d characters."), n=MAX_TERM)
    return term


async def search(actor: Actor, text: str, cipher: FieldCipher | None) -> SearchResults:
    """Every kind the actor may read matched against the term; a search that could find
    customer data is audited with its kind, the term masked and the hits shown (C10, S3)."""
    term = clean_term(text)
    customer = customer_term(term) if cipher is not None and sees_customers(actor) else None
    of_customer = None if customer is None or cipher is None else partial(
        customer_condition, customer, cipher)
    groups: list[Group] = []
    if can(actor, Permission.CASE_VIEW):
        groups.append(_group(Kind.CASE, await _cases_by_number(actor, term)))
        if of_customer is not None:
            groups.append(_group(Kind.CUSTOMER, await _customer_cases(actor, of_customer())))
    if can(actor, Permission.CALLBACK_VIEW):
        groups.append(_group(Kind.CALLBACK, await _callbacks(
            actor, term, of_customer(via="case__") if of_customer is not None else None)))
    if can(actor, Permission.VOUCHER_VIEW):
        groups.append(_group(Kind.VOUCHER, await _vouchers(actor, term)))
    if can(actor, Permission.DEVICE_VIEW):
        groups.append(_group(Kind.DEVICE, await _devices(actor, term)))
    if can(actor, Permission.STAFF_VIEW):
        groups.append(_group(Kind.STAFF, await _staff(actor, term)))
    if customer is not None:
        sensitive = [g for g in groups if g.kind in (Kind.CUSTOMER, Kind.CALLBACK)]
        await record_search(actor, customer, sum(len(g.hits) for g in sensitive),
                            any(g.more for g in sensitive))
    return SearchResults(term, customer, tuple(groups))


def _group(kind: Kind, rows: Sequence[Any]) -> Group:
    """The first PER_KIND rows of a kind, fetched one more to tell whether there are more."""
    return Group(kind, tuple(rows[:PER_KIND]), len(rows) > PER_KIND)


def _first(query: QuerySet[Any]) -> QuerySet[Any]:
    """A result query cut one past what a group shows."""
    return query.limit(PER_KIND + 1)


async def _cases_by_number(actor: Actor, term: str) -> list[CustomerCase]:
    """Cases whose number is the term or starts with it, newest first; the customer masked,
    left out for the system administrator (C10)."""
    number = "".join(term.split()).upper()
    rows = await _first(scoped_cases(actor).filter(case_no__startswith=number).order_by("-id"))
    return [case_line(row, sees_customers(actor)) for row in rows]


async def _customer_cases(actor: Actor, condition: Q) -> list[CustomerCase]:
    """The cases of the customer the term names, newest first (C10)."""
    rows = await _first(scoped_cases(actor).filter(condition).order_by("-id"))
    return [case_line(row, True) for row in rows]


async def _callbacks(actor: Actor, term: str, by_customer: Q | None) -> list[CallbackHit]:
    """Open callbacks the actor may see whose case has the number or, with `by_customer`,
    the customer searched (K1)."""
    condition = Q(case__case_no__startswith="".join(term.split()).upper())
    if by_customer is not None:
        condition |= by_customer
    rows = await _first(open_callbacks(actor).filter(condition).prefetch_related("case")
                        .order_by("due_at", "id"))
    show = sees_customers(actor)
    return [CallbackHit(row.id, row.case.case_no, row.status.value,
                        mask_name(row.case.customer_name) if show else "", row.due_at)
            for row in rows]


async def _vouchers(actor: Actor, term: str) -> list[Voucher]:
    """Voucher serials that are the term or start with it, with their type and box (V1)."""
    return await _first(Voucher.filter(org__path__startswith=scope_prefix(actor),
                                       serial__startswith=term)
                        .prefetch_related("voucher_type", "box__device", "box__holder", "org")
                        .order_by("serial", "voucher_type_id"))


async def _devices(actor: Actor, term: str) -> list[Device]:
    """Tablets whose asset tag, serial or IMEI is the term or starts with it (D1)."""
    return await _first(Device.filter(
        Q(asset_tag__istartswith=term) | Q(serial__istartswith=term) | Q(imei__startswith=term),
        org__path__startswith=scope_prefix(actor)).prefetch_related("org", "holder")
        .order_by("asset_tag"))


async def _staff(actor: Actor, term: str) -> list[Staff]:
    """Staff whose employee number starts with the term or whose name contains it."""
    return await _first(Staff.filter(
        Q(employee_no__istartswith=term) | Q(name__icontains=term),
        org__path__startswith=scope_prefix(actor)).prefetch_related("org")
        .order_by("employee_no"))

