"""Customers as the search and the page per customer find them: through the keyed hashes of
the ID number and the mobile (never by decrypting rows) or the name, shown masked, every
look-up audited; the system administrator sees no customer data (C10, S3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from domain.cases.case_summaries import visible_case
from domain.models import Case, CaseStatus, Role
from domain.platform import audit
from domain.platform.access import Permission, can, scope_prefix
from domain.platform.actors import Actor, person_label
from domain.platform.errors import N_, DomainError, PermissionDenied
from domain.platform.identity import (
    MIDDLE_DOT,
    mask_mobile,
    mask_resident_id,
    normalise_resident_id,
    validate_customer_name,
    validate_mobile,
)
from domain.platform.privacy import FieldCipher

_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
CUSTOMER_HIDDEN = N_("Customer data is shown only to the roles whose duty needs it.")
NO_CUSTOMER_DATA = N_("No customer data has been entered for this case yet.")


class CustomerKind(StrEnum):
    """What a searched term is as customer data."""

    ID_NUMBER = "id_number"
    MOBILE = "mobile"
    NAME = "name"


@dataclass(frozen=True)
class CustomerTerm:
    """A searched term read as customer data, normalised the way it was stored (C1, C4)."""

    kind: CustomerKind
    value: str

    @property
    def masked(self) -> str:
        """The term as it may be shown and audited (C10)."""
        if self.kind is CustomerKind.ID_NUMBER:
            return mask_resident_id(self.value)
        if self.kind is CustomerKind.MOBILE:
            return mask_mobile(self.value)
        return mask_name(self.value)


@dataclass(frozen=True)
class CustomerCase:
    """One case as a search result or a line of the customer page, the customer masked (blank
    for a reader who sees no customer data)."""

    case_id: int
    case_no: str | None
    status: CaseStatus
    business_type_zh: str
    business_type_en: str
    customer_masked: str
    agent_label: str
    org_name: str
    created_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None


@dataclass(frozen=True)
class Customer:
    """The page per customer: the customer masked and every case of his in the reader's
    subtree, newest first (C10)."""

    entry_case_id: int
    name_masked: str
    id_number_masked: str
    cases: tuple[CustomerCase, ...]


def sees_customers(actor: Actor) -> bool:
    """True for the case and callback readers, never the system administrator (DESIGN
    "Access and duties", C10)."""
    return (can(actor, Permission.CASE_VIEW) or can(actor, Permission.CALLBACK_VIEW)) \
        and not actor.has(Role.SYSADMIN)


def mask_name(name: str) -> str:
    """A customer's name with all but its first letter starred, spaces and dots kept (C10)."""
    return name[:1] + "".join(c if c in (" ", MIDDLE_DOT) else "*" for c in name[1:])


def customer_term(text: str) -> CustomerTerm | None:
    """The term as an ID number, a mobile or a name, in that order; None when it is none.
    Names on resident ID cards are written in Chinese characters: a term of ASCII only is a
    code (a case number prefix, an asset tag), not searched as a name (C1)."""
    number = normalise_resident_id(text)
    if _ID_SHAPE.fullmatch(number):
        return CustomerTerm(CustomerKind.ID_NUMBER, number)
    try:
        return CustomerTerm(CustomerKind.MOBILE, validate_mobile(text))
    except DomainError:
        pass
    if text.isascii():
        return None
    try:
        return CustomerTerm(CustomerKind.NAME, validate_customer_name(text))
    except DomainError:
        return None


def customer_condition(term: CustomerTerm, cipher: FieldCipher, via: str = "") -> Q:
    """The cases of the customer a term names, `via` the relation to the case: the ID number
    and the mobile through their keyed hashes, the name by its exact value. The one place
    that reads customer columns for a look-up: when the name is encrypted (issue 18), only
    its branch changes to a hash."""
    if term.kind is CustomerKind.ID_NUMBER:
        return Q(**{f"{via}id_number_hash": cipher.lookup_hash(term.value)})
    if term.kind is CustomerKind.MOBILE:
        return Q(**{f"{via}mobile_hash": cipher.lookup_hash(term.value)})
    return Q(**{f"{via}customer_name": term.value})


def scoped_cases(actor: Actor) -> QuerySet[Case]:
    """The cases of the actor's org subtree with what a result line shows."""
    return Case.filter(org__path__startswith=scope_prefix(actor)).prefetch_related(
        "business_type", "agent", "org")


def case_line(case: Case, show_customer: bool) -> CustomerCase:
    """A loaded case as one result line, the name masked or left out."""
    return CustomerCase(
        case_id=case.id, case_no=case.case_no, status=case.status,
        business_type_zh=case.business_type.name_zh, business_type_en=case.business_type.name_en,
        customer_masked=mask_name(case.customer_name) if show_customer else "",
        agent_label=person_label(case.agent), org_name=case.org.name,
        created_at=case.created_at, submitted_at=case.submitted_at, decided_at=case.decided_at)


async def record_search(actor: Actor, term: CustomerTerm, hits: int, more: bool) -> None:
    """Audit a search for customer data: what kind, the term masked, the hits shown and
    whether there were more (C10)."""
    async with in_transaction():
        await audit.record(actor, "customer.search", "customer", org_id=actor.org_id,
                           detail={"kind": term.kind.value, "term": term.masked, "hits": hits,
                                   "more": more})


async def customer_cases(actor: Actor, case_id: int, cipher: FieldCipher) -> Customer:
    """Every case of the customer of one case (the same keyed ID-number hash) in the actor's
    subtree, opened by a case reader other than the system administrator, audited (C10).

    Entry by case id (/customers/by-case/{case_id}), by decision: the address carries no
    ID number, neither clear nor hashed. A hash in an address lands in browser histories and
    server logs and names the customer across every page it appears on; a case id the reader
    may open already reveals nothing more.
    """
    if not (sees_customers(actor) and can(actor, Permission.CASE_VIEW)):
        raise PermissionDenied(CUSTOMER_HIDDEN)
    entry = await visible_case(actor, case_id)
    if entry.id_number_hash is None or entry.id_number_enc is None:
        raise DomainError(NO_CUSTOMER_DATA)
    rows = await scoped_cases(actor).filter(id_number_hash=entry.id_number_hash).order_by(
        "-created_at", "-id")
    async with in_transaction():
        await audit.record(actor, "customer.cases_view", "case", entry.id,
                           org_id=entry.org_id,  # type: ignore[attr-defined]
                           detail={"case_no": entry.case_no, "found": [row.id for row in rows]})
    return Customer(
        entry_case_id=entry.id, name_masked=mask_name(entry.customer_name),
        id_number_masked=mask_resident_id(cipher.decrypt(entry.id_number_enc)),
        cases=tuple(case_line(row, True) for row in rows))
