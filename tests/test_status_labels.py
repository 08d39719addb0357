"""Each state of each record has a label of its own (issue 16, contradictions and mislabels):
no record borrows another's word, no two states of one record read alike, a decided case
waits for nothing."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

import domain.models
from admin_web.app import AdminConfig
from domain.models import BusinessType, Callback, Case, CaseStatus
from domain.oversight import callbacks, dashboard
from domain.oversight.dashboard import FigureKey
from domain.platform.calendar import Calendar
from domain.platform.status_labels import STATUS_LABELS
from locales import translations
from tests.admin_support import admin_site, demo_log_in, log_in, site_config, submit, web_login, zh
from tests.callback_support import approved
from tests.case_support import ZONE
from tests.review_support import Desk, build_desk, submitted_case


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> Desk:
    return await build_desk(tmp_path)


@asynccontextmanager
async def reviewer_site(desk: Desk, no: str) -> AsyncIterator[TestClient]:
    """The admin site with a reviewer of the desk logged in."""
    username = await web_login(no)
    async with admin_site(AdminConfig(secret_key="test-secret", capture=desk.ctx)) as client:
        await log_in(client, username)
        yield client


def state_enums() -> set[type[StrEnum]]:
    """Every enum of the models that names where a record stands: its status or state, and
    the result of an inspection."""
    return {value for name, value in inspect.getmembers(domain.models, inspect.isclass)
            if issubclass(value, StrEnum)
            and (name.endswith(("Status", "State")) or name == "InspectionResult")}


def test_every_state_of_every_record_has_a_label_in_a_context_of_its_own() -> None:
    assert set(STATUS_LABELS) == state_enums()
    contexts: dict[str, type[StrEnum]] = {}
    for enum, labels in STATUS_LABELS.items():
        assert set(labels) == set(enum), enum
        [context] = {context for context, _ in labels.values()}
        assert contexts.setdefault(context, enum) is enum, (context, enum)


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_no_two_states_of_one_record_read_alike(locale: str) -> None:
    catalog = translations(locale)
    for enum, labels in STATUS_LABELS.items():
        shown = [catalog.pgettext(context, message) for context, message in labels.values()]
        assert len(set(shown)) == len(shown), (enum, shown)


def test_a_callback_and_an_inspection_are_scheduled_in_words_of_their_own() -> None:
    catalog = translations("zh_CN")
    callback, inspection = (catalog.pgettext(context, "Scheduled")
                            for context in ("callback status", "inspection status"))
    assert callback != inspection
    assert catalog.pgettext("callback status", "Completed") != catalog.pgettext(
        "inspection status", "Completed")


async def test_the_callback_list_says_scheduled_in_the_callback_word(
        every_kind_media: Path) -> None:
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "callback")
        html = await (await client.get("/callbacks?show=upcoming")).text()
    catalog = translations("zh_CN")
    assert catalog.pgettext("callback status", "Scheduled") in html
    assert catalog.pgettext("inspection status", "Scheduled") not in html


async def test_an_approved_four_eyes_case_awaits_no_second_approval(desk: Desk) -> None:
    case = await submitted_case(desk, four_eyes=True)
    page = f"/cases/{case.id}"
    async with reviewer_site(desk, "R001") as first, reviewer_site(desk, "R002") as second:
        await first.get(page)
        await submit(first, f"{page}/approve", {})
        waiting = await (await second.get(page)).text()
        await submit(second, f"{page}/approve", {})
        approved_page = await (await second.get(page)).text()
        queue = await (await second.get("/cases?status=approved")).text()
    assert (await Case.get(id=case.id)).status == CaseStatus.APPROVED
    assert zh("Awaiting second approval") in waiting
    assert zh("Awaiting second approval") not in approved_page
    assert zh("Awaiting second approval") not in queue


async def test_the_callbacks_the_dashboard_counts_are_the_ones_the_list_shows(
        desk: Desk) -> None:
    """One definition of due today, in business days: at 01:00 in Shanghai (still yesterday
    in UTC) a callback whose slot came but whose deadline is tomorrow is due today."""
    now = datetime(2026, 12, 8, 1, 0, tzinfo=ZONE).astimezone(UTC)
    hour = timedelta(hours=1)
    await BusinessType.all().update(callback_rate=100)
    for _ in range(4):
        await approved(desk)
    assert await callbacks.sample_callbacks(now - 50 * hour, Calendar()) == 4
    slot_came, later_today, overdue, tomorrow = await Callback.all().order_by("id")
    for callback, scheduled_at, due_at in ((slot_came, now - hour, now + 30 * hour),
                                           (later_today, now + 9 * hour, now + 30 * hour),
                                           (overdue, now - 30 * hour, now - hour),
                                           (tomorrow, now + 25 * hour, now + 50 * hour)):
        await Callback.filter(id=callback.id).update(scheduled_at=scheduled_at, due_at=due_at)
    board = await dashboard.overview(desk.supervisor, ZONE, now)
    figures = {figure.key: figure.value for figure in board.figures}

    async def listed(due: callbacks.Due | None) -> set[int]:
        rows = await callbacks.callback_queue(desk.supervisor, now, desk.ctx.cipher,
                                              due=due, zone=ZONE)  # one page: 3 rows
        return {row.callback.id for row in rows.rows}

    assert await listed(callbacks.Due.TODAY) == {slot_came.id, later_today.id}
    assert await listed(callbacks.Due.OVERDUE) == {overdue.id}
    assert await listed(None) == {slot_came.id, later_today.id, overdue.id}
    assert (figures[FigureKey.CALLBACKS_DUE], figures[FigureKey.CALLBACKS_OVERDUE]) == (2, 1)
