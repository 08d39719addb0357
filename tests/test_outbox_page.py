"""The outbox page (issue 16): messages by state, each with its reason in plain words, and
plainly so when it cannot be sent: recipient bound nowhere, channel switched off, bot blocked."""

from __future__ import annotations

from datetime import timedelta

from domain.models import ChatBinding, OutboxMessage, OutboxStatus, Role, SendLease, Staff
from domain.platform import outbox, outbox_states, send_budget
from domain.platform.clock import utcnow
from domain.platform.intents import Intent
from domain.platform.outbox_states import Reason
from tests.admin_support import admin_site, log_in, zh
from tests.factories import org_tree, person, web_user

NOTICE = "Incident %(no)s reported."


async def _queued(staff: Staff, key: str, **changes: object) -> OutboxMessage:
    """A notice to `staff`, as its sender left it."""
    await outbox.enqueue(staff.id, NOTICE, {"no": key}, intent=Intent.of("incident.reported", 1),
                         idempotency_key=key)
    if changes:
        await OutboxMessage.filter(idempotency_key=key).update(**changes)
    return await OutboxMessage.get(idempotency_key=key).prefetch_related("recipient")


async def _reason(message: OutboxMessage) -> Reason:
    return (await outbox_states.reasons([message]))[message.id]


async def _bound(staff: Staff, channel: str = "telegram") -> None:
    await ChatBinding.create(staff=staff, channel=channel, external_user_id=f"u{staff.id}",
                             chat_id=f"c{staff.id}", bound_at=utcnow())


async def test_each_reason_a_message_cannot_be_sent_is_said_plainly(database_url: str
                                                                    ) -> None:
    ids = await org_tree()
    unbound, _ = await person(ids["branch_a"], Role.SUPERVISOR, no="S001")
    bound, _ = await person(ids["branch_a"], Role.SUPERVISOR, no="S002")
    await _bound(bound)

    waiting = await _queued(unbound, "a", status=OutboxStatus.WAITING)
    assert await _reason(waiting) == Reason(outbox_states.NOT_BOUND,
                                            {"name": "S001 员工S001"}, blocked=True)
    switched_off = await _queued(bound, "b")
    assert (await _reason(switched_off)).text == outbox_states.CHANNEL_OFF
    assert (await _reason(switched_off)).blocked

    await send_budget.lead("telegram", "worker-1", timedelta(seconds=5))
    assert await _reason(switched_off) == Reason(outbox_states.QUEUED)
    paused_until = utcnow() + timedelta(minutes=1)
    await send_budget.pause("telegram", paused_until)
    assert (await _reason(switched_off)).text == outbox_states.PAUSED
    await SendLease.filter(name="telegram").update(paused_until=None)

    blocked = await _queued(bound, "c", status=OutboxStatus.DEAD, attempts=1,
                            last_error="Forbidden: bot was blocked by the user")
    assert (await _reason(blocked)).text == outbox_states.BLOCKED
    settled = await _queued(bound, "d", status=OutboxStatus.EXPIRED,
                            last_error=outbox.SETTLED_NOTE)
    assert await _reason(settled) == Reason(outbox_states.SETTLED)
    retried = await _queued(bound, "e", attempts=2, last_error="timed out")
    assert (await _reason(retried)).text == outbox_states.RETRYING


async def test_the_outbox_page_lists_a_state_with_channel_recipient_kind_and_reason(
        database_url: str) -> None:
    ids = await org_tree()
    _, username = await web_user(ids["province"], Role.SYSADMIN, no="A001")
    unbound, _ = await person(ids["branch_a"], Role.SUPERVISOR, no="S001", name="周主管")
    await _queued(unbound, "a", status=OutboxStatus.WAITING)
    await _queued(unbound, "b", status=OutboxStatus.DEAD, attempts=8, last_error="timeout")
    async with admin_site() as client:
        await log_in(client, username)
        waiting = await (await client.get("/outbox?state=waiting")).text()
        dead = await (await client.get("/outbox?state=dead")).text()
        odd = await client.get("/outbox?state=nonsense")
    assert zh(outbox_states.NOT_BOUND, name="S001 周主管") in waiting
    assert zh("Telegram") in waiting and zh("Incident reported") in waiting
    assert 'href="/incidents"' in waiting
    assert zh(outbox_states.FAILED, attempts=8) in dead and "timeout" in dead
    assert "/outbox/" in dead and "/retry" in dead and "/retry" not in waiting
    assert odd.status == 200  # an unknown state shows the default tab
