"""Setting a web log-in's password and remembering the ones it had (S3)."""

from __future__ import annotations

from domain.models.orgs import PasswordHistory, WebCredential
from domain.people.passwords import password_matches
from domain.platform.clock import utcnow

# Stands where a hash should be: argon2 refuses it, so no password ever matches.
VOIDED_HASH = "!voided"


async def store_password(credential: WebCredential, password_hash: str, *, one_time: bool,
                         keep: int | None = None) -> None:
    """Make a hash the log-in's password and add it to the history, in the caller's
    transaction; a one-time password must be replaced at the first log-in (S3).

    `keep` trims the history to that many latest passwords; None keeps it whole.
    """
    now = utcnow()
    credential.password_hash = password_hash
    credential.must_change_password = credential.one_time_password = one_time
    credential.password_changed_at = now
    await credential.save()
    await PasswordHistory.create(credential=credential, password_hash=password_hash, set_at=now)
    if keep is not None:
        ids = await PasswordHistory.filter(credential=credential).order_by("-id").values_list(
            "id", flat=True)
        if ids[keep:]:
            await PasswordHistory.filter(id__in=ids[keep:]).delete()


async def used_before(credential: WebCredential, password: str, latest: int) -> bool:
    """True when the password is one of the log-in's latest passwords before the current
    one, which the caller checks itself; `latest` counts the current one (S3)."""
    hashes = await PasswordHistory.filter(credential=credential).order_by("-id").limit(
        latest).values_list("password_hash", flat=True)
    for password_hash in hashes:
        if password_hash != credential.password_hash and await password_matches(
                password_hash, password):
            return True
    return False


async def void_password(staff_id: int) -> bool:
    """Make a staff member's web password stop working, whoever set it or knows it, until the
    server issues a new one (`fieldops reset-password`); True when he had a log-in (S2, S3)."""
    return bool(await WebCredential.filter(staff_id=staff_id).update(
        password_hash=VOIDED_HASH, must_change_password=True))
