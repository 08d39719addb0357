"""Major incidents and retraining: the configured counts, and the flag for retraining and
closer monitoring with the withdrawal proposal to operations management (Q4, K2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from domain.ledgers.qualifications import WITHDRAWABLE
from domain.models import Incident, Role, Staff
from domain.platform import audit, chains, outbox
from domain.platform.access import Permission, require, scope_prefix
from domain.platform.actors import Actor, person_label, system_actor
from domain.platform.errors import N_
from domain.platform.intents import Intent
from domain.platform.sweeps import SweepReport

DEFAULT_MAJOR_INCIDENT_THRESHOLD = 2
DEFAULT_MASS_LOSS_THRESHOLD = 10
RETRAINING_TO_STAFF = N_("You have had %(count)s major incidents. You are flagged for "
                         "retraining, and operations management will review your "
                         "qualification.")
PROPOSAL_TO_OPERATIONS = N_("%(staff)s has had %(count)s major incidents and is flagged for "
                            "retraining. Review the withdrawal of the qualification.")


@dataclass(frozen=True)
class IncidentRules:
    """The configured counts of Q4 and K2, built from the settings in `fieldops.bootstrap`:
    major incidents of one person that flag retraining and propose withdrawal
    (FIELDOPS_MAJOR_INCIDENT_THRESHOLD), and vouchers lost in one report beyond which the
    loss is a mass loss, a major incident (FIELDOPS_MASS_LOSS_THRESHOLD)."""

    major_incident_threshold: int = DEFAULT_MAJOR_INCIDENT_THRESHOLD
    mass_loss_threshold: int = DEFAULT_MASS_LOSS_THRESHOLD


DEFAULT_INCIDENT_RULES = IncidentRules()


@dataclass(frozen=True)
class RetrainingCause:
    """What counts toward retraining (K2): the source (major incidents, off-site audits), the
    count and threshold, and what the person and operations management read."""

    source: str
    count: int
    threshold: int
    to_staff: str
    to_operations: str


async def flag_retraining(staff_id: int, now: datetime, cause: RetrainingCause) -> bool:
    """Flag retraining and closer monitoring once the cause reaches its threshold, audited,
    and tell the person and operations management of his org chain (K2)."""
    if cause.count < cause.threshold:
        return False
    async with in_transaction():
        if not await Staff.filter(id=staff_id, retraining_flagged_at=None).update(
                retraining_flagged_at=now):
            return False
        staff = await Staff.get(id=staff_id)
        await audit.record(system_actor(cause.source), "staff.retraining_flagged", "staff",
                           staff.id, org_id=staff.org_id,  # type: ignore[attr-defined]
                           detail={cause.source: cause.count, "threshold": cause.threshold})
        key = f"staff:{staff.id}:retraining:{now.isoformat()}"
        await outbox.enqueue(staff.id, cause.to_staff, {"count": cause.count},
                             intent=Intent.of("staff.retraining_flagged", staff.id),
                             idempotency_key=key)
        for admin in await chains.staff_in_chain(await staff.org, Role.OPS_ADMIN):
            await outbox.enqueue(admin.id, cause.to_operations,
                                 {"staff": person_label(staff), "count": cause.count},
                                 intent=Intent.of("staff.retraining_proposed", staff.id),
                                 idempotency_key=f"{key}:proposal:{admin.id}")
    return True


async def _flag_retraining(staff_id: int, now: datetime, threshold: int) -> bool:
    """Flag retraining once at the threshold of major incidents and tell those concerned."""
    count = await Incident.filter(staff_id=staff_id, major=True).count()
    return await flag_retraining(staff_id, now, RetrainingCause(
        "major_incidents", count, threshold, RETRAINING_TO_STAFF, PROPOSAL_TO_OPERATIONS))


async def major_incident_recorded(staff_id: int, now: datetime, rules: IncidentRules) -> None:
    """Count a major incident (Q4); at the configured count propose withdrawal to ops_admin
    on the dashboard and flag retraining (K2). Called inside the incident's transaction."""
    await _flag_retraining(staff_id, now, rules.major_incident_threshold)


async def sweep_major_incidents(now: datetime, threshold: int) -> SweepReport:
    """Flag retraining for every staff member at the configured count of major incidents
    not flagged yet, e.g. after the threshold setting was lowered (Q4, K2)."""
    staff_ids = await Incident.filter(
        major=True, staff_id__isnull=False, staff__retraining_flagged_at__isnull=True,
    ).values_list("staff_id", flat=True)
    flagged = [await _flag_retraining(staff_id, now, threshold)
               for staff_id in sorted(set(staff_ids))]
    return SweepReport(warned=0, changed=sum(flagged))


async def retraining_flagged(actor: Actor) -> list[Staff]:
    """Everyone in scope flagged for retraining and closer monitoring, by major incidents or
    by off-site audit errors, whatever his roles (K2)."""
    require(actor, Permission.QUALIFICATION_VIEW)
    return await Staff.filter(
        retraining_flagged_at__isnull=False, org__path__startswith=scope_prefix(actor),
    ).prefetch_related("org").order_by("retraining_flagged_at", "id")


async def withdrawal_proposals(actor: Actor) -> list[Staff]:
    """Staff in scope flagged after repeated major incidents who still hold an active or
    suspended qualification: withdrawal proposals for the dashboard (Q3, K2)."""
    require(actor, Permission.QUALIFICATION_VIEW)
    return await Staff.filter(
        retraining_flagged_at__isnull=False, org__path__startswith=scope_prefix(actor),
        qualifications__status__in=list(WITHDRAWABLE),
    ).distinct().prefetch_related("org").order_by("retraining_flagged_at", "id")
