"""What the web review desk needs beside the review service: photo copies and filter choices."""

from __future__ import annotations

import asyncio

from tortoise.transactions import in_transaction

from domain.cases import case_file
from domain.cases.capture_gate import CaptureContext
from domain.models import Case, CasePhoto, Role, Staff
from domain.platform import audit
from domain.platform.access import Permission, require, scope_prefix
from domain.platform.actors import Actor
from domain.platform.images import preview_without_exif
from domain.platform.privacy import open_photo


async def photo_preview(actor: Actor, case_id: int, sha256: str, ctx: CaptureContext,
                        max_side: int) -> bytes:
    """A downscaled copy without EXIF of a photo the actor may see, an ID card only to the
    roles whose duty needs it and audited; hash checked (C9, C10, S2)."""
    photo = await case_file.photo_for(actor, case_id, sha256)
    case = await Case.get(id=photo.case_id)  # type: ignore[attr-defined]
    await open_photo(actor, photo, case.agent_id, case.org_id)  # type: ignore[attr-defined]
    data = await ctx.media.aread(photo.sha256)
    return await asyncio.to_thread(preview_without_exif, data, max_side)


async def photo_original(actor: Actor, case_id: int, sha256: str, ctx: CaptureContext
                         ) -> tuple[CasePhoto, bytes]:
    """The original bytes, EXIF included, for reveal holders only and audited (C9, C10)."""
    require(actor, Permission.CUSTOMER_DATA_REVEAL)
    photo = await case_file.photo_for(actor, case_id, sha256)
    data = await ctx.media.aread(photo.sha256)
    case = await Case.get(id=photo.case_id)  # type: ignore[attr-defined]
    async with in_transaction():
        await audit.record(actor, "case.photo_original", "case", case.id,
                           org_id=case.org_id,  # type: ignore[attr-defined]
                           detail={"sha256": photo.sha256, "kind": photo.kind.value,
                                   "revision": photo.revision})
    return photo, data


async def agent_choices(actor: Actor) -> list[Staff]:
    """Field agents of the actor's org subtree, for the review queue's agent filter (C8)."""
    require(actor, Permission.CASE_VIEW)
    rows = Staff.filter(roles__role=Role.FIELD_AGENT, org__path__startswith=scope_prefix(actor))
    return await rows.distinct().order_by("employee_no")
