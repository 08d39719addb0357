"""Migration 0014: notifications still to be sent when it runs get their intent from the
idempotency key and buttons that 0013 stored; sent history and replies stay as they were."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from types import SimpleNamespace

from tortoise import connections

from domain.models import OutboxMessage, OutboxStatus, Role
from domain.platform import outbox
from domain.platform.intents import Action, Intent
from tests.factories import org_tree, person

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
REVIEWER_BUTTONS = [[["Claim", "rv:claim:7"], ["Approve", "rv:approve:7"]],
                    [["Return", "rv:return:7"], ["Open in web", "/cases/7"]]]
ROWS = (  # idempotency key, kind as 0013 read it, status, buttons
    ("case:7:r2:submitted:3", "case:submitted", "pending", REVIEWER_BUTTONS),
    ("mis_issue:5:holder", "mis_issue:holder", "waiting", [[["I took it back", "vc:back:5"]]]),
    ("inspection:4:r72:9", "inspection", "dead", []),
    ("staff:6:retraining:2026-11-23T02:00:00+00:00:proposal:9", "staff:retraining", "sending",
     []),
    ("case:8:r1:approved:3", "case:approved", "sent", []),
    ("mystery:1", "mystery", "pending", []),
    ("reply:telegram:5:0:1.0", "reply", "pending", [[["Yes", "chat:cancel:yes:name"]]]),
)


async def test_notifications_waiting_at_the_migration_get_their_intent(database_url: str
                                                                       ) -> None:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001")
    await OutboxMessage.bulk_create([  # the columns of 0014 empty, as AddField leaves them
        OutboxMessage(recipient=agent, channel="telegram", kind=kind, template="Hello",
                      buttons=buttons, idempotency_key=key, status=OutboxStatus(status),
                      next_attempt_at=AT, created_at=AT, subject_type=None, actions=None)
        for key, kind, status, buttons in ROWS])
    migration = importlib.import_module("domain.migrations.0014_notification_intents")
    await migration.convert_waiting_notifications(
        None, SimpleNamespace(client=connections.get("default")))
    rows = {row.idempotency_key: row for row in await OutboxMessage.all()}
    intents = {key: outbox.intent_of(row) for key, row in rows.items()}
    assert intents["case:7:r2:submitted:3"] == Intent.of(
        "case.submitted", 7, Action.CLAIM, Action.APPROVE, Action.RETURN, Action.OPEN,
        revision=2)
    assert intents["mis_issue:5:holder"] == Intent.of("mis_issue.to_recover", 5,
                                                      Action.TAKE_BACK)
    assert intents["inspection:4:r72:9"] == Intent.of("inspection.reminder", 4)
    assert intents["staff:6:retraining:2026-11-23T02:00:00+00:00:proposal:9"] == Intent.of(
        "staff.retraining_proposed", 6)
    assert all(rows[key].buttons == [] for key in intents if intents[key] is not None)
    assert (intents["case:8:r1:approved:3"], rows["case:8:r1:approved:3"].kind) == (
        None, "case:approved")
    mystery = rows["mystery:1"]
    assert (mystery.status.value, intents["mystery:1"]) == ("expired", None)
    assert "migration 0014" in mystery.last_error
    reply = rows["reply:telegram:5:0:1.0"]
    assert (reply.kind, reply.buttons) == ("reply", [[["Yes", "chat:cancel:yes:name"]]])
