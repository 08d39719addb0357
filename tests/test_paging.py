"""Paging through long lists: every row once, the filters kept in each link, a damaged page
link refused with a translated 400 (issue 16)."""

from __future__ import annotations

import re
from datetime import timedelta

from aiohttp.test_utils import TestClient
from tortoise.transactions import in_transaction

from domain.models import (
    AuditLog,
    Qualification,
    QualificationBasis,
    QualificationStatus,
    Role,
    Staff,
)
from domain.platform import clock
from domain.platform.paging import BAD_CURSOR, Cursor, encode_cursor
from tests.admin_support import zh
from tests.factories import person
from tests.queue_support import (
    NEXT_LINK,
    PREVIOUS_LINK,
    SHOWING,
    queue_desk,
    seed_cases,
    signed_in,
)

# the paged lists an auditor reads besides the queue
LISTS = ("/audit", "/vouchers/journal", "/incidents", "/staff", "/qualifications", "/devices",
         "/inspections", "/special-approvals", "/case-audits")
EMPLOYEE_NO = re.compile(r">(N\d{4})<")
ROW_ACTION = re.compile(r'(?:data-action="|<code>)(paging\.row\d{4})')


async def walk(client: TestClient, start: str, marker: re.Pattern[str], kept: str
               ) -> tuple[list[str], list[str]]:
    """Follow the "next" links from `start` to the end: the markers of every row seen, in
    order, and the pages visited; each link keeps the filter `kept`."""
    seen: list[str] = []
    pages = [start]
    while True:
        html = await (await client.get(pages[-1])).text()
        seen += marker.findall(html)
        found = NEXT_LINK.search(html)
        if found is None:
            return seen, pages
        pages.append(found.group(1).replace("&amp;", "&"))
        assert kept in pages[-1]


async def test_the_queue_pages_through_600_cases_each_once(database_url: str) -> None:
    desk = await queue_desk()
    start = clock.utcnow() - timedelta(days=2)
    # seven cases share each moment: the id breaks the tie between pages
    moments = [start + timedelta(minutes=index // 7) for index in range(600)]
    cases = await seed_cases(desk, "PG", moments)
    await seed_cases(desk, "OTHER", moments[:5], business_type_id=desk.four_eyes_type_id)
    async with signed_in("R001") as client:
        first = await (await client.get(f"/cases?business_type_id={desk.plain_type_id}"
                                        "&size=100")).text()
        seen, pages = await walk(client, f"/cases?business_type_id={desk.plain_type_id}"
                                 "&size=100", re.compile(r">(PG-\d{4})<"), "business_type_id=")
        last = await (await client.get(pages[-1])).text()
        back = PREVIOUS_LINK.search(last)
        assert back
        before_last = await (await client.get(back.group(1).replace("&amp;", "&"))).text()
    assert seen == [case.case_no for case in cases]
    assert len(pages) == 6 and "OTHER-" not in "".join(seen)
    assert zh(SHOWING, first=1, last=100, total=600) in first
    assert zh(SHOWING, first=501, last=600, total=600) in last
    assert re.findall(r">(PG-\d{4})<", before_last) == seen[400:500]


async def test_the_audit_log_pages_through_888_rows_each_once(database_url: str) -> None:
    desk = await queue_desk()
    await person(desk.ids["province"], Role.AUDITOR, no="A001")
    moment = clock.utcnow()
    rows = [AuditLog(at=moment, actor_label="审核甲", action=f"paging.row{index:04d}",
                     object_type="test" if index % 10 else "other", object_id=str(index),
                     org_id=desk.ids["outlet_a"], prev_hash="0" * 64, row_hash="0" * 64)
            for index in range(987)]
    async with in_transaction():
        await AuditLog.bulk_create(rows)
    expected = [row.action for row in reversed(rows) if row.object_type == "test"]
    assert len(expected) == 888
    async with signed_in("A001") as client:
        seen, pages = await walk(client, "/audit?object_type=test&size=200",
                                 ROW_ACTION, "object_type=test")
    assert seen == expected and len(pages) == 5


async def test_a_damaged_page_link_is_refused_with_400(database_url: str) -> None:
    desk = await queue_desk()
    await person(desk.ids["province"], Role.AUDITOR, no="A001")
    wrong_type = encode_cursor(Cursor(("yesterday", 5)))
    async with signed_in("R001") as client:
        answers = [await client.get(f"/cases?cursor={cursor}")
                   for cursor in ("not-a-cursor", wrong_type, "W10", "x" * 2000)]
        texts = [await answer.text() for answer in answers]
    async with signed_in("A001") as client:
        lists = {path: await client.get(f"{path}?status=&cursor=W10") for path in LISTS}
        listed = {path: await answer.text() for path, answer in lists.items()}
    assert [answer.status for answer in answers] == [400] * 4
    assert all(zh(BAD_CURSOR) in text for text in texts)
    assert {path: answer.status for path, answer in lists.items()} == dict.fromkeys(LISTS, 400)
    assert all(zh(BAD_CURSOR) in text for text in listed.values())


async def test_staff_and_qualifications_page_through_every_row(database_url: str) -> None:
    desk = await queue_desk()
    await person(desk.ids["province"], Role.OPS_ADMIN, Role.SYSADMIN, no="Z001")
    async with in_transaction():
        await Staff.bulk_create([Staff(employee_no=f"N{index:04d}", name=f"员工{index}",
                                       org_id=desk.ids["outlet_a"]) for index in range(130)])
    people = await Staff.filter(employee_no__startswith="N").order_by("employee_no")
    async with in_transaction():
        await Qualification.bulk_create([Qualification(
            staff_id=row.id, business_type_id=desk.plain_type_id,
            status=QualificationStatus.ACTIVE, basis=QualificationBasis.COUNTER,
            granted_at=clock.utcnow()) for row in people])
    async with signed_in("Z001") as client:
        staff_seen, _ = await walk(client, f"/staff?org_id={desk.ids['outlet_a']}&size=50",
                                   EMPLOYEE_NO, "org_id=")
        qualified, pages = await walk(
            client, f"/qualifications?business_type_id={desk.plain_type_id}&size=50",
            EMPLOYEE_NO, "business_type_id=")
    assert staff_seen == [row.employee_no for row in people]
    assert qualified == staff_seen and len(pages) == 3
