"""Drafts left idle are purged with their photos: customer data captured for a case that was
never submitted does not stay anywhere (C10, issue 13)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from domain.cases.capture_gate import CaptureContext
from domain.cases.case_timeline import record_event
from domain.models import Case, CaseEventKind, CasePhoto, CaseStatus, WebChatMessage
from domain.platform import chat_privacy, events
from domain.platform.actors import system_actor
from domain.platform.events import CaseCancelled

log = logging.getLogger(__name__)
BATCH = 100
PURGER = system_actor("draft-purge")


async def purge_idle_drafts(now: datetime, idle_days: int, ctx: CaptureContext) -> int:
    """Cancel each draft untouched for `idle_days`, wiping its customer data and photos;
    a photo file goes from the media store unless another record still refers to it (C10).
    Each purge is one transaction with its timeline entry and audit row."""
    cutoff = now - timedelta(days=idle_days)
    drafts = await Case.filter(status=CaseStatus.DRAFT, updated_at__lt=cutoff).order_by(
        "id").limit(BATCH)
    for case in drafts:
        hashes = await _purge(case, now, idle_days, ctx)
        for sha256 in hashes:
            if not await _still_referred(sha256):
                await ctx.media.adelete(sha256)
        log.info("draft %s of staff %s idle since %s purged with %d photos", case.id,
                 case.agent_id, case.updated_at, len(hashes))  # type: ignore[attr-defined]
    return len(drafts)


async def _purge(case: Case, now: datetime, idle_days: int, ctx: CaptureContext) -> set[str]:
    """Cancel one draft and wipe what it holds; the photo hashes it held."""
    async with in_transaction():
        photos = await CasePhoto.filter(case_id=case.id).values_list("sha256", flat=True)
        await chat_privacy.release_case_messages(case.id, case.agent_id,  # type: ignore[attr-defined]
                                                 now)
        await CasePhoto.filter(case_id=case.id).delete()
        await Case.filter(id=case.id).update(
            status=CaseStatus.CANCELLED, customer_name="", id_number_enc=None,
            id_number_hash=None, mobile_enc=None, mobile_hash=None, latitude=None,
            longitude=None, customer_answers={})
        await record_event(PURGER, case, CaseEventKind.CANCELLED,
                           {"purged": True, "idle_days": idle_days, "photos": len(photos)}, now)
        await events.publish(CaseCancelled(PURGER, case.id, now, ctx.mis_issue_recovery_days,
                                           ctx.zone))
    return set(photos)


async def _still_referred(sha256: str) -> bool:
    """Whether a case photo or a browser chat line still refers to a stored file."""
    return (await CasePhoto.exists(sha256=sha256)
            or await WebChatMessage.exists(photo_sha256=sha256))
