"""A chat account as one inbound update needs it, read in one statement (issue 14).

Each update of a chat needs its flow session, the staff member bound to the account (with
his org, for the reply language and his scope) and his roles. Read through the ORM that is
five round trips to the database (session, binding, staff, org, roles) and again whenever a
flow asks who is speaking; here it is one joined SELECT, and the flows' identity and actor
come from it without another query. The rules stay where they are: `binding.active_bound`
refuses an unbound or deactivated account (Q6), `binding.identity_of` and
`actors.actor_of` build what `chat_identity` and `actor_for` build. On PostgreSQL the
statement locks the session row (`FOR UPDATE OF s`) until the update's transaction ends, so
the updates of one chat are handled one at a time whichever worker receives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from domain.models import ChatSession, Org, Role, Staff
from domain.people.binding import ChatIdentity, active_bound, identity_of
from domain.platform.actors import Actor, actor_of

ROLE_SEPARATOR = ","


@dataclass(frozen=True)
class ChatAccount:
    """The flow session of a chat account, the staff member bound to it (org loaded) or
    None, his roles, and the language code the account's client last reported."""

    session: ChatSession
    staff: Staff | None
    roles: frozenset[Role]
    language_code: str | None

    def identity(self) -> ChatIdentity:
        """Who the account speaks for; refused when unbound or deactivated (Q6)."""
        return identity_of(active_bound(self.staff), self.roles)

    def actor(self) -> Actor:
        """The acting staff member; refused when unbound or deactivated (Q6)."""
        staff = active_bound(self.staff)
        return actor_of(staff, staff.org, self.roles)


def _columns(alias: str, model: type[Model]) -> list[str]:
    return [f'{alias}."{column}" AS "{alias}__{column}"' for column in model._meta.db_fields]


def _row_of(model: type[Model], alias: str, row: dict[str, Any]) -> Any:
    """A model instance from the aliased columns of a joined row (None for a missing side)."""
    values = {column: row[f"{alias}__{column}"] for column in model._meta.db_fields}
    if values[model._meta.db_pk_column] is None:
        return None
    return model._init_from_db(**values)


@cache
def _statement(dialect: str) -> str:
    """The joined SELECT of one account, in the dialect's aggregate and parameter marks."""
    aggregate = "string_agg" if dialect == "postgres" else "group_concat"
    channel, user = ("$1", "$2") if dialect == "postgres" else ("?", "?")
    columns = [*_columns("s", ChatSession), *_columns("st", Staff), *_columns("o", Org),
               'b."language_code" AS "b__language_code"',
               f'(SELECT {aggregate}(r."role", \'{ROLE_SEPARATOR}\') FROM "staff_role" r '
               'WHERE r."staff_id" = st."id") AS "roles"']
    return (f'SELECT {", ".join(columns)} FROM "chat_session" s '
            'LEFT JOIN "chat_binding" b ON b."channel" = s."channel" '
            'AND b."external_user_id" = s."external_user_id" '
            'LEFT JOIN "staff" st ON st."id" = b."staff_id" '
            'LEFT JOIN "org" o ON o."id" = st."org_id" '
            f'WHERE s."channel" = {channel} AND s."external_user_id" = {user}'
            + (' FOR UPDATE OF s' if dialect == "postgres" else ''))


async def chat_account(channel: str, external_user_id: str, chat_id: str) -> ChatAccount:
    """The chat account with its session (created on first contact), bound staff member,
    org and roles, in one statement (issue 14)."""
    connection = connections.get("default")
    statement = _statement(connection.capabilities.dialect)
    rows = await connection.execute_query_dict(statement, [channel, external_user_id])
    if not rows:
        await _first_contact(channel, external_user_id, chat_id)
        rows = await connection.execute_query_dict(statement, [channel, external_user_id])
    row = rows[0]
    session: ChatSession = _row_of(ChatSession, "s", row)
    staff: Staff | None = _row_of(Staff, "st", row)
    if staff is not None:
        staff.org = _row_of(Org, "o", row)
    roles = frozenset(Role(role) for role in (row["roles"] or "").split(ROLE_SEPARATOR) if role)
    return ChatAccount(session, staff, roles, row["b__language_code"])


async def _first_contact(channel: str, external_user_id: str, chat_id: str) -> None:
    """Create the session of an account writing for the first time (another worker may have
    just done so)."""
    try:
        async with in_transaction():
            await ChatSession.create(channel=channel, external_user_id=external_user_id,
                                     chat_id=chat_id)
    except IntegrityError:
        return
