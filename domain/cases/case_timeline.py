"""The case timeline: one entry and one audit row per change of a case, including the steps
of the voucher it holds, which the voucher area reports as `CaseVoucherMoved` (C9, S3); read
back as sentences, each uploaded photo with its thumbnail (issue 16)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.cases.case_words import Lexicon, case_sentence
from domain.models import Case, CaseEvent, CaseEventKind
from domain.platform import audit
from domain.platform.actors import Actor
from domain.platform.clock import utcnow
from domain.platform.events import CaseVoucherMoved
from domain.platform.sentences import Sentence


@dataclass(frozen=True)
class TimelineLine:
    """One entry of the case timeline in words; a photo upload names its photo."""

    at: datetime
    sentence: Sentence
    photo_sha256: str = ""
    photo_kind: str = ""


async def record_event(actor: Actor, case: Case, kind: CaseEventKind, detail: dict[str, Any],
                       at: datetime | None = None) -> None:
    """Append the timeline entry and the audit row of one change (C9, S3)."""
    await CaseEvent.create(case=case, at=at or utcnow(), actor_id=actor.staff_id,
                           actor_label=actor.label, kind=kind, detail=detail)
    await audit.record(actor, f"case.{kind.value}", "case", case.id,
                       org_id=case.org_id, detail=detail)  # type: ignore[attr-defined]


async def record_voucher_step(event: CaseVoucherMoved) -> None:
    """The serial a case holds moved: the entry on the case's timeline (C3, C9)."""
    await record_event(event.actor, await Case.get(id=event.case_id), event.kind,
                       {"serial": event.serial, "voucher_type": event.voucher_type_code},
                       at=event.at)


async def timeline(events: Sequence[CaseEvent]) -> list[TimelineLine]:
    """The case's events as sentences, oldest first, names loaded once (C9, issue 16)."""
    words = await Lexicon.load((e.actor_id for e in events), (e.detail for e in events))
    return [TimelineLine(
        at=event.at,
        sentence=case_sentence(event.kind, words.actor(event.actor_id, event.actor_label),
                               event.detail, words),
        photo_sha256=str(event.detail.get("sha256", "")) if event.kind == CaseEventKind.PHOTO_ADDED
        else "",
        photo_kind=str(event.detail.get("kind", ""))) for event in events]
