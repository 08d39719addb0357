"""Case numbers: YD, the business day of the first submission and a daily counter, e.g.
YD20261122-000123."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from tortoise import connections

CASE_NO_PREFIX = "YD"
CASE_NO_DIGITS = 6
# A case number as it stands in any text, e.g. YD20261122-000123: the one definition of its format.
CASE_NO = re.compile(rf"{CASE_NO_PREFIX}[0-9]{{8}}-[0-9]{{{CASE_NO_DIGITS}}}", re.ASCII)


def case_no_prefix(day: date) -> str:
    """The number prefix of the cases first submitted on a business day, e.g. YD20261122-."""
    return f"{CASE_NO_PREFIX}{day:%Y%m%d}-"


async def next_case_no(moment: datetime, zone: ZoneInfo) -> str:
    """The next case number of the business day, e.g. YD20261122-000123, from an atomic upsert."""
    local_day = moment.astimezone(zone).date()
    day = f"{local_day:%Y%m%d}"
    connection = connections.get("default")
    mark = "$1" if connection.capabilities.dialect == "postgres" else "?"
    rows = await connection.execute_query_dict(
        f'INSERT INTO "case_counter" ("day", "last_no") VALUES ({mark}, 1) '
        'ON CONFLICT ("day") DO UPDATE SET "last_no" = "case_counter"."last_no" + 1 '
        'RETURNING "last_no"', [day],
    )
    return f"{case_no_prefix(local_day)}{rows[0]['last_no']:0{CASE_NO_DIGITS}d}"
