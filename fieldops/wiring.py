"""Build the domain's capture context and the flows' context from the settings."""

from __future__ import annotations

from bot.flows.context import FlowContext
from domain.cases.cases import CaptureContext, LocationMode, WorkingHours
from domain.ledgers.qualifications import IncidentRules
from domain.platform.images import MIB, PhotoLimits
from domain.platform.media import MediaStore
from domain.platform.privacy import FieldCipher
from fieldops.settings import Settings


def capture_context(settings: Settings) -> CaptureContext:
    """Cipher (C10), media store (C9), photo limits (C7), hours (C2) and location mode."""
    start, end = settings.opening_hours
    return CaptureContext(
        cipher=FieldCipher(settings.data_key),
        media=MediaStore(settings.media_root),
        photo_limits=PhotoLimits(max_bytes=settings.photo_max_mb * MIB,
                                 min_width=settings.photo_min_width,
                                 min_height=settings.photo_min_height),
        hours=WorkingHours(weekdays=settings.weekdays, start=start, end=end),
        zone=settings.zone,
        location_mode=LocationMode(settings.location_mode),
        mis_issue_recovery_days=settings.mis_issue_recovery_days,
    )


def incident_rules(settings: Settings) -> IncidentRules:
    """The major-incident count that flags retraining (K2) and the mass-loss count (Q4)."""
    return IncidentRules(major_incident_threshold=settings.major_incident_threshold,
                         mass_loss_threshold=settings.mass_loss_threshold)


def flow_context(settings: Settings) -> FlowContext:
    """What the chat flows need: the capture context, the incident thresholds and the
    admin's public address."""
    return FlowContext(capture=capture_context(settings), incidents=incident_rules(settings),
                       public_url=settings.public_url)
