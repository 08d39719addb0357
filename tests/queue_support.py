"""A review desk whose cases are written as rows in one transaction: the queue's views and
paging read cases, so the tests seed hundreds cheaply instead of capturing each one."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from tortoise.transactions import in_transaction

from domain.cases import business_types
from domain.cases.business_types import BusinessTypeForm
from domain.models import Case, CaseStatus, Role
from domain.platform.actors import Actor
from tests.admin_support import admin_site, log_in, web_login
from tests.case_support import KINDS
from tests.factories import org_tree, person

SHOWING = "Showing %(first)s–%(last)s of %(total)s"  # the pager's count
NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next">')
PREVIOUS_LINK = re.compile(r'<a href="([^"]+)" rel="prev">')


@dataclass
class QueueDesk:
    """Reviewer R001 at branch_a, R002 at the province, agent F001 at outlet_a, two types."""

    ids: dict[str, int]
    agent: Actor
    reviewer: Actor
    second: Actor
    plain_type_id: int
    four_eyes_type_id: int


async def queue_desk() -> QueueDesk:
    """The people and business types of the queue tests."""
    ids = await org_tree()
    _, ops = await person(ids["province"], Role.OPS_ADMIN, no="O001")
    plain, four = [await business_types.create_business_type(ops, code, BusinessTypeForm(
        name, f"{name} (en)", frozenset(KINDS), four_eyes=four_eyes))
        for code, name, four_eyes in (("DEBIT_CARD", "借记卡开户", False),
                                      ("MOBILE_TRANSFER", "手机银行转账签约", True))]
    return QueueDesk(
        ids, (await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001"))[1],
        (await person(ids["branch_a"], Role.REVIEWER, no="R001", name="审核甲"))[1],
        (await person(ids["province"], Role.REVIEWER, no="R002", name="审核乙"))[1],
        plain.id, four.id)


async def seed_cases(desk: QueueDesk, prefix: str, submitted: list[datetime],
                     **values: Any) -> list[Case]:
    """Cases numbered prefix-0000… submitted at the given moments, due 20 minutes later,
    written in one transaction; `values` set any other column (status, claimed_by_id…)."""
    values = {"business_type_id": desk.plain_type_id, "status": CaseStatus.SUBMITTED} | values
    rows = [Case(case_no=f"{prefix}-{index:04d}", agent_id=desk.agent.staff_id,
                 org_id=desk.ids["outlet_a"], submitted_at=moment,
                 review_due_at=moment + timedelta(minutes=20), **values)
            for index, moment in enumerate(submitted)]
    async with in_transaction():
        await Case.bulk_create(rows)
    return await Case.filter(case_no__startswith=f"{prefix}-").order_by("case_no")


@asynccontextmanager
async def signed_in(no: str) -> AsyncIterator[TestClient]:
    """A browser logged in as one staff member (given a web log-in)."""
    username = await web_login(no)
    async with admin_site() as client:
        assert (await log_in(client, username)).url.path == "/"
        yield client
