"""Callback reports: callbacks due, done, unreachable and overdue, reach rate, average
satisfaction, denials and complaints per organisation, field agent, callback agent or
business type over a date range, and their CSV/XLSX export with a purpose (K1, S4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from domain.models import Callback, CallbackOutcome, CallbackStatus
from domain.oversight.callbacks import OPEN
from domain.platform import audit, exports
from domain.platform.access import Permission, require, scope_prefix
from domain.platform.actors import Actor
from domain.platform.calendar import DEFAULT_ZONE
from domain.platform.clock import day_bounds, utcnow
from domain.platform.errors import N_, DomainError
from locales import DEFAULT_LOCALE, translate

GROUPINGS: dict[str, str] = {
    "org": N_("Organisation"),
    "field_agent": N_("Field agent"),
    "callback_agent": N_("Callback agent"),
    "business_type": N_("Business type"),
}
COLUMNS: tuple[tuple[str, str], ...] = (
    ("due", N_("Callbacks due")),
    ("done", N_("Customer reached")),
    ("unreachable", N_("Unreachable")),
    ("overdue", N_("Overdue")),
    ("reach_rate", N_("Reach rate (per cent)")),
    ("satisfaction", N_("Average satisfaction")),
    ("denied", N_("Denials")),
    ("complaints", N_("Complaints")),
)
FIELDS = ("status", "outcome", "satisfaction", "due_at", "org__name", "business_type__name_zh",
          "business_type__name_en", "field_agent__employee_no", "field_agent__name",
          "assigned_to__employee_no", "assigned_to__name")
MAX_DAYS = 366


@dataclass
class ReportRow:
    """The figures of one group of callbacks due in the range (K1)."""

    label: str
    due: int = 0
    done: int = 0
    unreachable: int = 0
    overdue: int = 0
    denied: int = 0
    complaints: int = 0
    rated: int = 0
    rating_sum: int = 0

    @property
    def reach_rate(self) -> float | None:
        """Reached customers in percent of the finished callbacks; None before any."""
        finished = self.done + self.unreachable
        return round(100 * self.done / finished, 1) if finished else None

    @property
    def satisfaction(self) -> float | None:
        """The average satisfaction rating; None without ratings."""
        return round(self.rating_sum / self.rated, 2) if self.rated else None

    def add(self, row: dict[str, Any], now: datetime) -> None:
        """Count one callback."""
        status, outcome = CallbackStatus(row["status"]), row["outcome"]
        self.due += 1
        self.done += status == CallbackStatus.COMPLETED
        self.unreachable += status == CallbackStatus.UNREACHABLE
        self.overdue += status in OPEN and row["due_at"] <= now
        self.denied += outcome == CallbackOutcome.DENIED
        self.complaints += outcome == CallbackOutcome.COMPLAINT
        if row["satisfaction"] is not None:
            self.rated += 1
            self.rating_sum += row["satisfaction"]


def _bounds(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC start of the first business day and of the day after the last."""
    if end < start:
        raise DomainError(N_("The end date is before the start date."))
    if (end - start).days >= MAX_DAYS:
        raise DomainError(N_("Choose a range of at most %(n)s days."), n=MAX_DAYS)
    return day_bounds(start, zone)[0], day_bounds(end, zone)[1]


def _label(row: dict[str, Any], by: str, locale: str) -> str:
    """The group a callback belongs to, as the reader names it."""
    if by == "org":
        return row["org__name"]
    if by == "business_type":
        return row["business_type__name_zh" if locale.startswith("zh")
                   else "business_type__name_en"]
    prefix = "field_agent" if by == "field_agent" else "assigned_to"
    if row[f"{prefix}__employee_no"] is None:
        return translate(locale, N_("Unassigned"))
    return f"{row[f'{prefix}__employee_no']} {row[f'{prefix}__name']}"


async def callback_report(actor: Actor, start: date, end: date, by: str, *,
                          now: datetime | None = None, zone: ZoneInfo = DEFAULT_ZONE,
                          locale: str = DEFAULT_LOCALE) -> list[ReportRow]:
    """The callbacks of the actor's subtree due from `start` to `end` (business days),
    grouped, with the total as the last row (K1)."""
    require(actor, Permission.CALLBACK_VIEW)
    if by not in GROUPINGS:
        raise DomainError(N_("Choose how to group the report."))
    first, after = _bounds(start, end, zone)
    rows = await Callback.filter(
        org__path__startswith=scope_prefix(actor), due_at__gte=first, due_at__lt=after,
    ).exclude(status=CallbackStatus.CANCELLED).values(*FIELDS)
    moment = now or utcnow()
    groups: dict[str, ReportRow] = {}
    total = ReportRow(translate(locale, N_("Total")))
    for row in rows:
        label = _label(row, by, locale)
        groups.setdefault(label, ReportRow(label)).add(row, moment)
        total.add(row, moment)
    return [*(groups[label] for label in sorted(groups)), total]


def _table(rows: list[ReportRow], by: str, locale: str) -> list[list[object]]:
    """The header (in the reader's language) and one line per report row."""
    header: list[object] = [translate(locale, GROUPINGS[by]),
                            *(translate(locale, label) for _key, label in COLUMNS)]
    return [header, *([row.label, *(getattr(row, key) for key, _label in COLUMNS)]
                      for row in rows)]


async def export_callback_report(actor: Actor, start: date, end: date, by: str, purpose: str,
                                 fmt: str, *, now: datetime | None = None,
                                 zone: ZoneInfo = DEFAULT_ZONE, locale: str = DEFAULT_LOCALE
                                 ) -> tuple[str, bytes]:
    """The callback report as CSV or XLSX; refused without a purpose, audited with the
    person responsible and the purpose (S4)."""
    require(actor, Permission.REPORT_EXPORT)
    purpose = exports.export_purpose(purpose, fmt)
    rows = await callback_report(actor, start, end, by, now=now, zone=zone, locale=locale)
    label = f"{start.isoformat()}_{end.isoformat()}"
    mark = exports.stamp(actor, purpose, (N_("From"), start.isoformat()),
                         (N_("To"), end.isoformat()),
                         (N_("Group by"), translate(locale, GROUPINGS[by])))
    data = exports.export_bytes(_table(rows, by, locale), fmt, by, mark, locale=locale,
                                zone=zone, heading=translate(locale, N_("Callback report")))
    async with in_transaction():
        await audit.record(actor, "callback.report.export", "callback_report", label,
                           org_id=actor.org_id, detail={
                               "purpose": purpose, "format": fmt, "by": by,
                               "start": start.isoformat(), "end": end.isoformat(),
                               "rows": len(rows) - 1, "responsible": actor.label})
    return f"callback-report-{label}.{fmt}", data
