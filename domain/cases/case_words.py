"""The words of what happened to a case (issue 16): the names its events use, loaded in one
go for a page of events — people, review reasons, business and voucher types, photo kinds —
and one sentence per kind of case event (C7, C9, C10)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.cases.business_types import PHOTO_KIND_LABELS
from domain.cases.review_reasons import RETAKE_ITEM_LABELS
from domain.models import BusinessType, CaseEventKind, ReviewReason, Staff, VoucherType
from domain.platform.errors import N_
from domain.platform.sentences import Param, Ref, Sentence, Term, linked, named, plain, said

SYSTEM = N_("The system")
# Detail keys that hold the id (or ids) of a person.
PERSON_KEYS = ("staff_id", "holder_id", "from_holder_id", "to_holder_id", "assigned_to",
               "asked_by", "supervisor_id", "to", "recipients")

CASE_SENTENCES: dict[CaseEventKind, str] = {
    CaseEventKind.CREATED: N_("%(actor)s started a draft of %(business_type)s"),
    CaseEventKind.CUSTOMER_SET: N_(
        "%(actor)s entered the customer data: ID number %(id_number)s, mobile %(mobile)s"),
    CaseEventKind.LOCATION_SET: N_("%(actor)s shared the location of the visit"),
    CaseEventKind.PHOTO_ADDED: N_("%(actor)s uploaded %(photo_kind)s for revision %(revision)s"),
    CaseEventKind.RISK_HINT_CONFIRMED: N_("%(actor)s confirmed the risk hints were given"),
    CaseEventKind.SUBMITTED: N_("%(actor)s submitted revision %(revision)s for review"),
    CaseEventKind.CANCELLED: N_("%(actor)s cancelled the draft"),
    CaseEventKind.CLAIMED: N_("%(actor)s claimed revision %(revision)s for review"),
    CaseEventKind.RELEASED: N_("%(actor)s released revision %(revision)s to the queue"),
    CaseEventKind.FIRST_APPROVED: N_("%(actor)s gave the first approval of revision "
                                     "%(revision)s"),
    CaseEventKind.APPROVED: N_("%(actor)s approved revision %(revision)s"),
    CaseEventKind.RETURNED: N_("%(actor)s returned revision %(revision)s: %(reasons)s"),
    CaseEventKind.REJECTED: N_("%(actor)s rejected revision %(revision)s: %(reasons)s"),
    CaseEventKind.HELD: N_("%(actor)s put revision %(revision)s on hold"),
    CaseEventKind.SLA_REMINDED: N_("Review of revision %(revision)s is due soon: %(people)s "
                                   "reminded"),
    CaseEventKind.SLA_ESCALATED: N_("Review of revision %(revision)s overdue: escalated to "
                                    "%(people)s (round %(round)s)"),
    CaseEventKind.VOUCHER_RESERVED: N_("%(actor)s reserved %(voucher_type)s %(serial)s"),
    CaseEventKind.VOUCHER_ISSUED: N_("%(voucher_type)s %(serial)s handed over to the customer"),
    CaseEventKind.VOUCHER_RELEASED: N_("%(voucher_type)s %(serial)s released back to the box"),
    CaseEventKind.VOUCHER_TO_RECOVER: N_("%(voucher_type)s %(serial)s to be taken back from "
                                         "the customer"),
    CaseEventKind.VOUCHER_TAKEN_BACK: N_("%(actor)s took %(voucher_type)s %(serial)s back "
                                         "into the box"),
}
RETURNED_WITH_RETAKES = N_("%(actor)s returned revision %(revision)s: %(reasons)s; retake "
                           "%(retakes)s")
CANCELLED_IDLE = N_("%(actor)s cancelled the draft, idle for %(idle_days)s days")


def _ids(value: object) -> list[int]:
    """The person ids a detail value holds: one id or a list of them."""
    values = value if isinstance(value, list) else [value]
    return [item for item in values if isinstance(item, int) and not isinstance(item, bool)]


@dataclass
class Lexicon:
    """The names a page of events speaks of, each loaded once."""

    people: dict[int, Term] = field(default_factory=dict)
    reasons: dict[str, Term] = field(default_factory=dict)
    business_types: dict[str, Term] = field(default_factory=dict)
    voucher_types: dict[str, Term] = field(default_factory=dict)

    @classmethod
    async def load(cls, actor_ids: Iterable[int | None],
                   details: Iterable[Mapping[str, Any]]) -> Lexicon:
        """The names used by events of these actors with these details."""
        details = list(details)
        ids = {i for i in actor_ids if i is not None}
        for detail in details:
            for key in PERSON_KEYS:
                ids.update(_ids(detail.get(key)))
        people = await Staff.filter(id__in=ids).values("id", "name") if ids else []
        return cls(
            people={row["id"]: linked(row["name"], Ref.PERSON, row["id"]) for row in people},
            reasons={row.code: named(row.name_zh, row.name_en)
                     for row in await ReviewReason.all()},
            business_types={key: named(row.name_zh, row.name_en)
                            for row in await BusinessType.all()
                            for key in (row.code, str(row.id))},
            voucher_types={key: named(row.name_zh, row.name_en)
                           for row in await VoucherType.all()
                           for key in (row.code, str(row.id))},
        )

    def actor(self, actor_id: int | None, label: str) -> Term:
        """The one who acted: his name leading to his page, or the system."""
        if actor_id in self.people:
            return self.people[actor_id]
        return said(SYSTEM) if actor_id is None and label.startswith("system") else plain(label)

    def persons(self, value: object) -> tuple[Term, ...]:
        """The people a detail value names (an id or a list), by name."""
        return tuple(self.people.get(i, plain(f"#{i}")) for i in _ids(value))

    def known(self, table: Mapping[str, Term], code: object) -> Term:
        """A named record of a table by code or id; the code itself when gone."""
        return table.get(str(code), plain(code)) if code not in (None, "") else plain("—")


def item_term(item: str) -> Term:
    """An item to retake or a photo kind by its translated name (C7)."""
    return said(RETAKE_ITEM_LABELS.get(item, item))


def photo_kind_term(kind: object) -> Term:
    """A photo kind by its translated name; an unknown one as it is."""
    known = {k.value: label for k, label in PHOTO_KIND_LABELS.items()}
    return said(known[kind]) if isinstance(kind, str) and kind in known else plain(kind)


def case_sentence(kind: str, actor: Term, detail: Mapping[str, Any], words: Lexicon) -> Sentence:
    """What one case event says: who did what to which revision, the reasons and items by
    their names, the customer data only masked as stored (C7, C10)."""
    event = CaseEventKind(kind)
    params: dict[str, Param] = {
        "actor": actor, "revision": plain(detail.get("revision", "—")),
        "reasons": tuple(words.known(words.reasons, code)
                         for code in detail.get("reason_codes", [])) or plain("—"),
        "retakes": tuple(item_term(item) for item in detail.get("retake_items", [])),
        "business_type": words.known(words.business_types, detail.get("business_type_id")),
        "voucher_type": words.known(words.voucher_types, detail.get("voucher_type")),
        "photo_kind": photo_kind_term(detail.get("kind")),
        "people": words.persons(detail.get("recipients")) or plain("—"),
    }
    params |= {key: plain(detail[key]) for key in ("id_number", "mobile", "serial", "round",
                                                   "idle_days") if key in detail}
    msgid = CASE_SENTENCES[event]
    if event == CaseEventKind.RETURNED and params["retakes"]:
        msgid = RETURNED_WITH_RETAKES
    elif event == CaseEventKind.CANCELLED and detail.get("purged"):
        msgid = CANCELLED_IDLE
    return Sentence(msgid, params)

