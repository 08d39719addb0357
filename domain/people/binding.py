"""One-time bind codes and the chat binding of a staff member (Q6)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.models import BindCode, ChatBinding, ConfidentialityPledge, Role, Staff
from domain.people.staff import get_staff
from domain.platform import audit, outbox
from domain.platform.access import Permission, in_scope, require
from domain.platform.actors import Actor, person_label, system_actor
from domain.platform.clock import utcnow
from domain.platform.errors import N_, DomainError

BIND_CODE_TTL = timedelta(minutes=10)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
# The pledge's text version: a changed text gets the next number and is confirmed again.
PLEDGE_VERSION = "1"
PLEDGE = N_("Confidentiality pledge (version %(version)s)\n"
            "• I keep customers' data confidential while I pass it on and afterwards.\n"
            "• I do not photograph, copy or keep customer papers beyond what a case needs.\n"
            "• The ID numbers, mobile numbers and photos I send here are deleted from this "
            "chat once the case is submitted or the draft cancelled.\n"
            "• I report at once any customer data that is lost or leaked.\n"
            "Confirm the pledge before you capture cases.")
SECOND_ACCOUNT = N_("You already have another account bound on this channel, and a person "
                    "has one account per channel. Ask your administrator to unbind it first.")
STALE_PLEDGE = N_("The confidentiality pledge has changed. Read the new text and confirm it.")
ANOTHER_PERSON = N_("This chat account is already bound to another staff member. "
                    "Ask your administrator to unbind it first.")
CODE_USED = N_("This bind code has already been used. Ask for a new one.")
BOUND_MEANWHILE = N_("This chat account or staff member was bound by another message at the "
                     "same moment. Send /whoami to see the binding.")


def code_digest(code: str) -> str:
    """The stored form of a bind code (codes are random, short-lived and single-use)."""
    return hashlib.sha256(code.strip().upper().encode("ascii", "ignore")).hexdigest()


async def issue_bind_code(actor: Actor, staff_id: int) -> tuple[str, BindCode]:
    """Issue a one-time code for a staff member, revoking any earlier unused one."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    now = utcnow()
    async with in_transaction():
        staff = await get_staff(actor, staff_id, Permission.BIND_CODE_ISSUE)
        if not staff.active:
            raise DomainError(N_("A deactivated staff member cannot get a bind code."))
        await BindCode.filter(staff=staff, used_at=None, revoked_at=None).update(revoked_at=now)
        bind_code = await BindCode.create(
            staff=staff, code_hash=code_digest(code), created_by_id=actor.staff_id,
            created_at=now, expires_at=now + BIND_CODE_TTL,
        )
        await audit.record(actor, "bind_code.issue", "staff", staff.id, org_id=staff.org.id,
                           detail={"bind_code_id": bind_code.id,
                                   "expires_at": bind_code.expires_at.isoformat()})
    return code, bind_code


async def bind_chat(channel: str, external_user_id: str, chat_id: str, code: str) -> Staff:
    """Bind a chat account to the staff member the code was issued for, on any channel; an
    account of another person, or a second account of his on the channel, is refused (Q6).

    The code is used up by a conditional update, so two accounts sending one code at the same
    moment bind once (the other is told it was used); a binding made meanwhile by another
    update is answered like a changed mapping, never with a database error."""
    try:
        return await _bind_chat(channel, external_user_id, chat_id, code)
    except IntegrityError:  # an account or person bound meanwhile: its savepoint is undone
        raise DomainError(BOUND_MEANWHILE) from None


async def _bind_chat(channel: str, external_user_id: str, chat_id: str, code: str) -> Staff:
    now = utcnow()
    async with in_transaction():
        bind_code = await BindCode.get_or_none(code_hash=code_digest(code)).prefetch_related(
            "staff", "staff__org"
        )
        refusal = _code_refusal(bind_code, now)
        if refusal:
            raise refusal
        assert bind_code is not None
        staff: Staff = bind_code.staff
        other = await ChatBinding.get_or_none(channel=channel, external_user_id=external_user_id)
        if other is not None and other.staff_id != staff.id:  # type: ignore[attr-defined]
            raise DomainError(ANOTHER_PERSON)
        previous = await ChatBinding.get_or_none(staff=staff, channel=channel)
        if previous is not None and previous.external_user_id != external_user_id:
            raise DomainError(SECOND_ACCOUNT)
        if previous is not None:
            await previous.delete()
        await ChatBinding.create(staff=staff, channel=channel, external_user_id=external_user_id,
                                 chat_id=chat_id, bound_at=now)
        if not await BindCode.filter(id=bind_code.id, used_at=None).update(used_at=now):
            raise DomainError(CODE_USED)  # another account used it meanwhile
        await audit.record(system_actor(f"chat:{channel}"), "chat.bind", "staff", staff.id,
                           org_id=staff.org.id,
                           detail={"channel": channel, "external_user_id": external_user_id})
        await outbox.release_for_binding(staff.id, channel)
    return staff


def _code_refusal(bind_code: BindCode | None, now: object) -> DomainError | None:
    if bind_code is None:
        return DomainError(N_("This bind code is not valid. Check it or ask for a new one."))
    if not bind_code.staff.active:
        return DomainError(N_("Your staff account is deactivated. Contact your administrator."))
    if bind_code.used_at is not None:
        return DomainError(CODE_USED)
    if bind_code.revoked_at is not None:
        return DomainError(N_("This bind code was replaced by a newer one. Use the newest code."))
    if bind_code.expires_at <= now:  # type: ignore[operator]
        return DomainError(N_("This bind code has expired. Ask your administrator for a new one."))
    return None


async def note_language_code(channel: str, external_user_id: str,
                             language_code: str | None) -> None:
    """Keep the language the chat client last reported, for the notifications' language."""
    if language_code:
        code = language_code[:16]
        await ChatBinding.filter(Q(language_code=None) | ~Q(language_code=code),
                                 channel=channel, external_user_id=external_user_id,
                                 ).update(language_code=code)


async def bound_staff(channel: str, external_user_id: str) -> Staff | None:
    """The staff member bound to a chat account, with org, or None."""
    binding = await ChatBinding.get_or_none(
        channel=channel, external_user_id=external_user_id
    ).prefetch_related("staff", "staff__org")
    return binding.staff if binding else None


async def account_of(staff_id: int, channel: str) -> str | None:
    """The user id of the staff member's chat account on a channel, or None (Q6)."""
    found = await ChatBinding.filter(staff_id=staff_id, channel=channel).values_list(
        "external_user_id", flat=True)
    return found[0] if found else None


async def unbind_chat(actor: Actor, staff_id: int, channel: str) -> None:
    """Remove the chat binding of a staff member (lost phone, new account)."""
    async with in_transaction():
        staff = await get_staff(actor, staff_id, Permission.STAFF_MANAGE)
        removed = await ChatBinding.filter(staff=staff, channel=channel).delete()
        if not removed:
            raise DomainError(N_("This staff member has no chat binding on this channel."))
        await audit.record(actor, "chat.unbind", "staff", staff.id, org_id=staff.org.id,
                           detail={"channel": channel})


@dataclass(frozen=True)
class ChatIdentity:
    """Who a chat account speaks for: the bound staff member, his org and roles."""

    staff_id: int
    name: str
    employee_no: str
    org_name: str
    org_name_en: str
    roles: tuple[Role, ...]


async def chat_identity(channel: str, external_user_id: str) -> ChatIdentity:
    """The active staff member behind a chat account; refused when unbound or deactivated (Q6)."""
    staff = active_bound(await bound_staff(channel, external_user_id))
    return identity_of(staff, await staff.roles.all().values_list("role", flat=True))


def active_bound(staff: Staff | None) -> Staff:
    """The staff member bound to a chat account, refused when there is none or when he is
    deactivated (Q6)."""
    if staff is None:
        raise DomainError(N_("This chat account is not bound yet. Ask your administrator for a "
                             "bind code, then send /bind followed by the code."))
    if not staff.active:
        raise DomainError(N_("Your staff account is deactivated. Contact your administrator."))
    return staff


def identity_of(staff: Staff, roles: Iterable[str]) -> ChatIdentity:
    """The identity of a bound, active staff member whose org is loaded (Q6)."""
    return ChatIdentity(
        staff_id=staff.id, name=staff.name, employee_no=staff.employee_no,
        org_name=staff.org.name, org_name_en=staff.org.name_en,
        roles=tuple(sorted(Role(r) for r in roles)),
    )


async def pledge_confirmed(staff_id: int) -> bool:
    """Whether the staff member has confirmed the current confidentiality pledge (C10)."""
    return await ConfidentialityPledge.exists(staff_id=staff_id, version=PLEDGE_VERSION)


async def confirm_pledge(staff_id: int, channel: str, version: str) -> bool:
    """Record, dated and audited, that the staff member confirmed the pledge text he was
    shown; a confirmation of an older text is refused. False when he had already (C10)."""
    if version != PLEDGE_VERSION:
        raise DomainError(STALE_PLEDGE)
    async with in_transaction():
        staff = await Staff.get(id=staff_id).prefetch_related("org")
        if await ConfidentialityPledge.exists(staff_id=staff_id, version=version):
            return False
        await ConfidentialityPledge.create(staff=staff, version=version, channel=channel,
                                           confirmed_at=utcnow())
        await audit.record(system_actor(f"chat:{channel}"), "chat.pledge_confirmed", "staff",
                           staff.id, org_id=staff.org.id, detail={"version": version})
    return True


# --- Accounts mapped by a system administrator (issue 15) ---------------------------------

# A chat account id a system administrator may map: 1–64 letters, digits and _ - @ .
ACCOUNT_ID = re.compile(r"[A-Za-z0-9_\-@.]{1,64}")
# The one channel whose accounts a system administrator may map: the bank vouches for WeCom
# UserIDs; any other account proves itself with a one-time code or a log-in (Q6).
MAPPED_CHANNEL = "wecom"
CHANGED_MEANWHILE = N_("The chat accounts changed while the mapping was applied; nothing was "
                       "bound. Preview the mapping again.")


@dataclass(frozen=True)
class AccountRow:
    """One line of a mapping as read from the file or the staff page: its line number, the
    employee number, the account's user id, and whether the line had cells past the header."""

    line: int
    employee_no: str
    external_user_id: str
    surplus: bool = False


@dataclass(frozen=True)
class AccountMapping:
    """A checked line of a mapping: the staff member it names (None when unknown), whether it
    is already in place, and the refusal (empty when the line may be applied)."""

    row: AccountRow
    staff: Staff | None = None
    unchanged: bool = False
    error: str = ""
    params: dict[str, object] = field(default_factory=dict)


async def preview_accounts(actor: Actor, channel: str, rows: list[AccountRow]
                           ) -> list[AccountMapping]:
    """Check a mapping of staff to chat accounts line by line without writing anything:
    unknown or out-of-scope employee, bad user id, account of another person, a second
    account of the person, a line repeating another (Q6)."""
    _require_mapping(actor, channel)
    numbers = {row.employee_no for row in rows}
    staff_by_no = {member.employee_no: member for member in
                   await Staff.filter(employee_no__in=numbers).prefetch_related("org")}
    accounts = {row.external_user_id for row in rows}
    holders = {b.external_user_id: b for b in await ChatBinding.filter(
        channel=channel, external_user_id__in=accounts).prefetch_related("staff", "staff__org")}
    own = {b.staff_id: b.external_user_id for b in await ChatBinding.filter(  # type: ignore[attr-defined]
        channel=channel, staff_id__in=[m.id for m in staff_by_no.values()])}
    seen_staff: dict[str, int] = {}
    seen_account: dict[str, int] = {}
    checked = []
    for row in rows:
        member = staff_by_no.get(row.employee_no)
        try:
            _check_line(actor, row, member, seen_staff, seen_account)
            assert member is not None
            checked.append(_against_bindings(actor, row, member, holders, own))
        except DomainError as refused:
            checked.append(AccountMapping(row, member, error=refused.key, params=refused.params))
    return checked


async def map_accounts(actor: Actor, channel: str, rows: list[AccountRow]
                       ) -> list[AccountMapping]:
    """Bind staff to chat accounts by a system administrator's mapping, all or nothing in one
    transaction: with any refused line nothing is bound and the checked lines are returned;
    each new binding is audited as made by him and releases what waited for it; a binding
    made meanwhile refuses the whole mapping (Q6)."""
    try:
        async with in_transaction():
            checked = await preview_accounts(actor, channel, rows)
            if not any(line.error for line in checked):
                await _bind_mapped(actor, channel, checked)
    except IntegrityError:  # an account or person bound since the check: rolled back whole
        raise DomainError(CHANGED_MEANWHILE) from None
    return checked


async def _bind_mapped(actor: Actor, channel: str, checked: list[AccountMapping]) -> None:
    """Create the bindings of a checked mapping's new lines, each audited and releasing what
    waited for it."""
    now = utcnow()
    for line in checked:
        if line.unchanged or line.staff is None:
            continue
        account = line.row.external_user_id
        await ChatBinding.create(staff=line.staff, channel=channel, external_user_id=account,
                                 chat_id=account, bound_at=now)
        await audit.record(actor, "chat.bind", "staff", line.staff.id, org_id=line.staff.org.id,
                           detail={"channel": channel, "external_user_id": account,
                                   "mapped": True, "line": line.row.line})
        await outbox.release_for_binding(line.staff.id, channel)


async def map_account(actor: Actor, staff_id: int, channel: str, external_user_id: str
                      ) -> AccountMapping:
    """Bind one staff member to a chat account from his staff page, by the rules of a mapping
    (Q6); a refusal raises its DomainError."""
    member = await get_staff(actor, staff_id, Permission.STAFF_MANAGE)
    row = AccountRow(1, member.employee_no, external_user_id.strip())
    (line,) = await map_accounts(actor, channel, [row])
    if line.error:
        raise DomainError(line.error, **line.params)
    return line


def _require_mapping(actor: Actor, channel: str) -> None:
    """Only a system administrator maps accounts, and only WeCom's (Q6)."""
    require(actor, Permission.STAFF_MANAGE)
    if channel != MAPPED_CHANNEL:
        raise DomainError(N_("Only WeCom UserIDs can be mapped; other chat accounts are bound "
                             "with a one-time code."))


def _check_line(actor: Actor, row: AccountRow, member: Staff | None,
                seen_staff: dict[str, int], seen_account: dict[str, int]) -> None:
    """Refuse a line on its own and against the lines before it in the same file."""
    if row.surplus:
        raise DomainError(N_("This row has more cells than the header has columns."))
    if not ACCOUNT_ID.fullmatch(row.external_user_id):
        raise DomainError(N_("%(account)s is not a valid user id: 1 to 64 letters, digits, "
                             "_ - @ or ."), account=row.external_user_id)
    if member is None:
        raise DomainError(N_("Unknown employee number %(employee_no)s."),
                          employee_no=row.employee_no)
    if not in_scope(actor, member.org):
        raise DomainError(N_("Employee %(employee_no)s belongs to an organisation outside "
                             "your scope."), employee_no=row.employee_no)
    if not member.active:
        raise DomainError(N_("A deactivated staff member cannot be bound to a chat account."))
    for key, seen in ((row.employee_no, seen_staff), (row.external_user_id, seen_account)):
        if key in seen:
            raise DomainError(N_("This row repeats line %(line)s."), line=seen[key])
        seen[key] = row.line


def _against_bindings(actor: Actor, row: AccountRow, member: Staff,
                      holders: dict[str, ChatBinding], own: dict[int, str]) -> AccountMapping:
    """A line checked against the bindings in place: the account bound to another person,
    or the person bound to another account, is refused, never replaced; the other person is
    named only when he is in the actor's scope (Q6)."""
    holder = holders.get(row.external_user_id)
    if holder is not None and holder.staff_id != member.id:  # type: ignore[attr-defined]
        if not in_scope(actor, holder.staff.org):
            raise DomainError(N_("The account %(account)s is already bound to another person."),
                              account=row.external_user_id)
        raise DomainError(N_("The account %(account)s is already bound to %(staff)s."),
                          account=row.external_user_id, staff=person_label(holder.staff))
    current = own.get(member.id)
    if current is not None and current != row.external_user_id:
        raise DomainError(N_("%(staff)s is already bound to the account %(account)s on this "
                             "channel; unbind it first."),
                          staff=person_label(member), account=current)
    return AccountMapping(row, member, unchanged=current is not None)
