"""Housekeeping sweeps of platform tables."""

from __future__ import annotations

from datetime import timedelta

from domain.models import ProcessedUpdate
from domain.platform.clock import utcnow

PROCESSED_UPDATE_RETENTION = timedelta(days=7)


async def prune_processed_updates(retention: timedelta = PROCESSED_UPDATE_RETENTION) -> int:
    """Forget processed-update marks older than any chat platform redelivers (a week)."""
    return await ProcessedUpdate.filter(processed_at__lt=utcnow() - retention).delete()
