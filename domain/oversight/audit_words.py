"""The audit log in words (issue 16, S3): each row as a sentence naming the people and objects
it touches, a link to its object, and its details as key/value pairs for the auditor. An
action without a sentence (a legacy code) reads as a generic line, never as raw JSON; the
customer data stays as masked as the row holds it (C10)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.cases.case_words import Lexicon, case_sentence, photo_kind_term
from domain.models import (
    AuditLog,
    Callback,
    Case,
    CaseAudit,
    CaseEventKind,
    Device,
    Inspection,
    Org,
    Qualification,
    Role,
    SpecialApproval,
    TailBox,
)
from domain.oversight.action_words import ACTIONS, GENERIC
from domain.people.channel_choice import CHANNEL_LABELS
from domain.people.duties import ROLE_LABELS
from domain.platform.privacy import REFUSED_SUFFIX
from domain.platform.sentences import Param, Ref, Sentence, Term, linked, named, plain, said

CASE_KINDS = frozenset(kind.value for kind in CaseEventKind)
# Detail keys naming the person a sentence's %(person)s stands for, the first one present.
PERSON_ORDER = ("staff_id", "holder_id", "to_holder_id", "assigned_to")
PLAIN_KEYS = ("count", "attempt", "rows", "purpose", "week", "version", "imported", "read",
              "exam", "score", "period", "serial", "code", "idle_days", "until", "course",
              "max_in_boxes", "term", "hits")


@dataclass(frozen=True)
class AuditLine:
    """One audit row as the log shows it: when, the sentence, its object, its details."""

    row_id: int
    at: datetime
    action: str
    sentence: Sentence
    subject: Term
    details: tuple[tuple[str, str], ...]


def action_labels() -> dict[str, str]:
    """The label msgid of every action the services write, by code (for the filter)."""
    return {code: label for code, (label, _sentence) in ACTIONS.items()}


def _case_term(row: Mapping[str, Any]) -> Term:
    return linked(row["case_no"] or f"#{row['id']}", Ref.CASE, row["id"])


async def _objects(kind: str, ids: list[int]) -> dict[int, Term]:
    """The objects of one type, by id, as the words that name them."""
    loaders: dict[str, Callable[[], Awaitable[dict[int, Term]]]] = {
        "case": lambda: _by_id(Case.filter(id__in=ids).values("id", "case_no"), _case_term),
        "device": lambda: _by_id(Device.filter(id__in=ids).values("id", "asset_tag"),
                                 lambda r: linked(r["asset_tag"], Ref.DEVICE, r["id"])),
        "tail_box": lambda: _by_id(TailBox.filter(id__in=ids).values("id", "device__asset_tag"),
                                   lambda r: linked(r["device__asset_tag"], Ref.BOX, r["id"])),
        "callback": lambda: _by_id(Callback.filter(id__in=ids).values("id", "case__case_no"),
                                   lambda r: linked(r["case__case_no"], Ref.CALLBACK, r["id"])),
        "case_audit": lambda: _by_id(
            CaseAudit.filter(id__in=ids).values("id", "case__case_no"),
            lambda r: linked(r["case__case_no"], Ref.CASE_AUDIT, r["id"])),
        "inspection": lambda: _by_id(
            Inspection.filter(id__in=ids).values("id", "box__device__asset_tag"),
            lambda r: linked(f"#{r['id']} {r['box__device__asset_tag']}", Ref.INSPECTION,
                             r["id"])),
        "org": lambda: _by_id(Org.filter(id__in=ids).values("id", "name", "name_en"),
                              lambda r: named(r["name"], r["name_en"], Ref.ORG, r["id"])),
    }
    loader = loaders.get(kind)
    return await loader() if loader is not None else {}


async def _by_id(rows: Awaitable[list[dict[str, Any]]], term: Callable[[dict[str, Any]], Term]
                 ) -> dict[int, Term]:
    return {row["id"]: term(row) for row in await rows}


# Objects that stand for a person: the staff member a qualification or approval is about.
PERSON_OBJECTS = {"qualification": Qualification, "special_approval": SpecialApproval}


async def _people_behind(rows: Sequence[AuditLog]) -> dict[tuple[str, str], int]:
    """The staff id behind each qualification or special approval the rows speak of."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        if row.object_type in PERSON_OBJECTS and row.object_id.isdigit():
            wanted[row.object_type].add(int(row.object_id))
    found: dict[tuple[str, str], int] = {}
    for kind, ids in wanted.items():
        for item in await PERSON_OBJECTS[kind].filter(id__in=ids).values("id", "staff_id"):
            found[(kind, str(item["id"]))] = item["staff_id"]
    return found


class AuditWords:
    """The names a page of audit rows speaks of, loaded once, and the sentence of each row."""

    def __init__(self, words: Lexicon, objects: dict[tuple[str, str], Term]) -> None:
        self.words = words
        self.objects = objects

    @classmethod
    async def load(cls, rows: Sequence[AuditLog]) -> AuditWords:
        """Load the people, types and objects of these rows."""
        behind = await _people_behind(rows)
        staff_objects = [{"staff_id": int(row.object_id)} for row in rows
                         if row.object_type == "staff" and row.object_id.isdigit()]
        words = await Lexicon.load(
            (row.actor_id for row in rows),
            [*(row.detail for row in rows), *staff_objects,
             *({"staff_id": staff_id} for staff_id in behind.values())])
        objects = {key: words.people.get(staff_id, plain(f"#{staff_id}"))
                   for key, staff_id in behind.items()}
        objects |= {("staff", row.object_id): words.people.get(int(row.object_id), plain(
            row.object_id)) for row in rows if row.object_type == "staff"
            and row.object_id.isdigit()}
        by_type: dict[str, set[int]] = defaultdict(set)
        for row in rows:
            if row.object_id.isdigit():
                by_type[row.object_type].add(int(row.object_id))
        for kind, ids in by_type.items():
            objects |= {(kind, str(i)): term
                        for i, term in (await _objects(kind, sorted(ids))).items()}
        return cls(words, objects)

    def subject(self, row: AuditLog) -> Term:
        """The object of a row by its name, a link where it has a page."""
        found = self.objects.get((row.object_type, row.object_id))
        if found is not None:
            return found
        if row.object_type == "case" and row.detail.get("case_no"):
            return plain(row.detail["case_no"])
        return plain(row.object_id if row.object_type == "voucher" else (
            f"#{row.object_id}" if row.object_id else "—"))

    def sentence(self, row: AuditLog) -> Sentence:
        """What the row says; a generic line for an action without a sentence."""
        actor = self.words.actor(row.actor_id, row.actor_label)
        kind = row.action.removeprefix("case.")
        if row.action.startswith("case.") and kind in CASE_KINDS:
            return case_sentence(kind, actor, row.detail, self.words)
        params = self.params(row, actor)
        if row.action not in ACTIONS:
            return Sentence(GENERIC, params | {"action": plain(row.action)})
        return Sentence(ACTIONS[row.action][1], params)

    def params(self, row: AuditLog, actor: Term) -> dict[str, Param]:
        """The words every action's sentence may use, from the row and its details."""
        detail, words = row.detail, self.words
        person = next((detail[key] for key in PERSON_ORDER if detail.get(key) is not None), None)
        params: dict[str, Param] = {
            "actor": actor, "object": self.subject(row),
            "person": words.persons(person) or plain("—"),
            "giver": words.persons(detail.get("from_holder_id")) or plain("—"),
            "people": words.persons(detail.get("to", detail.get("recipients"))) or plain("—"),
            "business_type": words.known(words.business_types, detail.get("business_type")),
            "voucher_type": words.known(words.voucher_types, detail.get(
                "voucher_type", detail.get("voucher_type_id"))),
            "roles": tuple(_role(role) for role in detail.get("roles", [])),
            "role": _role(detail.get("role")),
            "channel": _channel(detail.get("channel")),
            "photo_kind": photo_kind_term(detail.get("kind")),
            "serials": _serials(row), "list": plain(row.object_type),
        }
        if row.action.endswith(REFUSED_SUFFIX) and detail.get("reason"):
            params["reason"] = Term(msgid=str(detail["reason"]),
                                   args=tuple(sorted(detail.get("params", {}).items())))
        if "found" in detail:
            params["count"] = plain(len(detail["found"]))
        if row.action == "audit.chain_keyed":
            params["count"] = plain(detail.get("legacy_rows", "—"))
        return params | {key: plain(detail[key]) for key in PLAIN_KEYS
                         if isinstance(detail.get(key), str | int) and key not in params}

    def line(self, row: AuditLog) -> AuditLine:
        """The row as the log shows it."""
        return AuditLine(row.id, row.at, row.action, self.sentence(row), self.subject(row),
                         details(row.detail))


def _role(role: object) -> Term:
    return said(ROLE_LABELS[Role(role)]) if role in set(Role) else plain(role or "—")


def _channel(channel: object) -> Term:
    label = CHANNEL_LABELS.get(str(channel))
    return said(label) if label else plain(channel or "—")


def _serials(row: AuditLog) -> Param:
    """The serials a voucher movement names: listed, a first–last run, or the one serial."""
    detail = row.detail
    if detail.get("serials"):
        return tuple(plain(serial) for serial in detail["serials"])
    if detail.get("first"):
        return plain(f"{detail['first']}–{detail['last']}")
    return plain(row.object_id or "—")


def details(detail: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The row's details as key/value text for the auditor, nested values as compact JSON."""
    return tuple((key, value if isinstance(value, str) else json.dumps(
        value, ensure_ascii=False, sort_keys=True)) for key, value in sorted(detail.items()))


async def audit_lines(rows: Iterable[AuditLog]) -> list[AuditLine]:
    """The rows in words, their names loaded once (S3, issue 16)."""
    rows = list(rows)
    words = await AuditWords.load(rows)
    return [words.line(row) for row in rows]
