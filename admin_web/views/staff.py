"""Staff: list with filters, create, edit, (de)activate, web log-in, chat unbinding, the role
grants a second system administrator decides, the table of duties, WeCom accounts mapped by
a system administrator and the channel notifications go to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from multidict import MultiDict

from admin_web.forms import Field, Form, Kind
from admin_web.i18n import gettext as _
from admin_web.pages import (
    ACTIVE_FILTER,
    actor_of,
    attempt,
    attempt_or_back,
    flash_and_redirect,
    form_of,
    render,
    uploaded_text,
)
from admin_web.paging import page_request, pager
from admin_web.params import int_or_none, max_length, path_id, text
from admin_web.state import CONFIG_KEY
from domain.ledgers.ledger_csv import read_csv
from domain.models import ChatBinding, Role, WebCredential
from domain.people import binding, channel_choice, duties, orgs, role_grants, staff
from domain.people.staff import StaffForm
from domain.platform.access import Permission, require
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError

WECOM = "wecom"  # the channel whose accounts a system administrator maps (issue 15)
MAPPING_COLUMNS = ("employee_no", f"{WECOM}_userid")
Mapper = Callable[[Actor, str, list[binding.AccountRow]], Awaitable[list[binding.AccountMapping]]]
STAFF = Form(StaffForm, (
    Field("employee_no"), Field("name"), Field("org_id", Kind.ID), Field("phone"),
    Field("roles", Kind.CHOICES, options=Role),
))


async def staff_list(request: web.Request) -> web.Response:
    """List staff of the actor's subtree, filtered by org, name or number, and state."""
    actor = actor_of(request)
    filters = {"org_id": int_or_none(request.query.get("org_id")),
               "q": request.query.get("q", "").strip(), "active": request.query.get("active", "")}
    page = await staff.staff_page(actor, page_request(request.query), org_id=filters["org_id"],
                                  query=filters["q"], active=ACTIVE_FILTER.get(filters["active"]))
    context = {"rows": page.rows, "paging": pager(request, page), "filters": filters,
               "orgs": await orgs.list_orgs(actor)}
    return await render(request, "staff/list.html", context)


async def new_form(request: web.Request) -> web.Response:
    """Show the form for a new staff member, to those who may add one."""
    require(actor_of(request), Permission.STAFF_MANAGE)
    return await _new_page(request, {"roles": []})


async def _new_page(request: web.Request, values: dict[str, Any]) -> web.Response:
    context = {"form": values, "orgs": await orgs.list_orgs(actor_of(request))}
    return await render(request, "staff/new.html", context)


async def create(request: web.Request) -> web.Response:
    """Add a staff member."""
    form = await form_of(request)
    member = await attempt_or_back(request, staff.create_staff(
        actor_of(request), STAFF.parse(form)), "/staff/new", STAFF.as_sent(form))
    message = _("Staff member %(name)s added.") % {"name": member.name}
    await flash_and_redirect(request, f"/staff/{member.id}", message)


async def staff_page(request: web.Request) -> web.Response:
    """Show one staff member with the edit and account forms."""
    return await _detail_page(request)


async def _detail_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    profile = await staff.get_profile(actor, path_id(request, "staff_id"))
    filled = STAFF.filled(profile.staff, roles=sorted(profile.roles))
    context = {"profile": profile, "member": profile.staff,
               "form": filled, "orgs": await orgs.list_orgs(actor),
               "wecom_account": await binding.account_of(profile.staff.id, WECOM),
               "channels": await channel_choice.channel_choice(profile.staff.id)}
    return await render(request, "staff/detail.html", context)


async def update(request: web.Request) -> web.Response:
    """Save the edited fields and roles of a staff member."""
    form = await form_of(request)
    staff_id = path_id(request, "staff_id")
    await attempt_or_back(request, staff.update_staff(actor_of(request), staff_id,
                                                      STAFF.parse(form)),
                          f"/staff/{staff_id}", STAFF.as_sent(form))
    await flash_and_redirect(request, f"/staff/{staff_id}", _("Changes saved."))


async def set_active(request: web.Request) -> web.Response:
    """Deactivate or reactivate a staff member."""
    form = await form_of(request)
    staff_id = path_id(request, "staff_id")
    active = form.get("active") == "1"
    _member, error = await attempt(staff.set_active(actor_of(request), staff_id, active))
    done = _("Staff member reactivated.") if active else _("Staff member deactivated.")
    await flash_and_redirect(request, f"/staff/{staff_id}", error or done)


async def _grant(request: web.Request, staff_id: int, form: MultiDict[str]
                 ) -> staff.IssuedLogin:
    username = text(form.get("username"), N_("User name"), max_length(WebCredential, "username"))
    return await staff.issue_web_login(actor_of(request), staff_id, username,
                                       request.app[CONFIG_KEY].login.passwords)


async def _unbind(actor: Actor, staff_id: int, form: MultiDict[str]) -> None:
    channel = text(form.get("channel"), N_("Channel"), max_length(ChatBinding, "channel"))
    await binding.unbind_chat(actor, staff_id, channel)


async def grant_web_login(request: web.Request) -> web.Response:
    """Create or reset a web log-in: the one-time password goes to the person's own chat, or
    is shown once when he has none; a system administrator's is refused (S3)."""
    form = await form_of(request)
    staff_id = path_id(request, "staff_id")
    issued, error = await attempt(_grant(request, staff_id, form))
    if issued is None:
        await flash_and_redirect(request, f"/staff/{staff_id}", error or "")
    if issued.password is None:
        sent = _("The one-time password for %(username)s was sent to his own chat "
                 "(%(channel)s); it is not shown here. If he cannot read that chat, unbind it "
                 "and reset the log-in again.")
        await flash_and_redirect(request, f"/staff/{staff_id}", sent % {
            "username": issued.username, "channel": issued.channel})
    context = {"username": issued.username, "password": issued.password, "staff_id": staff_id}
    response = await render(request, "staff/password_issued.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


async def unbind(request: web.Request) -> web.Response:
    """Remove a staff member's chat binding on one channel."""
    form = await form_of(request)
    staff_id = path_id(request, "staff_id")
    _done, error = await attempt(_unbind(actor_of(request), staff_id, form))
    await flash_and_redirect(request, f"/staff/{staff_id}", error or _("Chat account unbound."))


async def duties_page(request: web.Request) -> web.Response:
    """The roles one person may not hold together and why, and the roles whose grant takes
    a second system administrator (S2)."""
    require(actor_of(request), Permission.STAFF_VIEW)
    context = {"incompatible": duties.INCOMPATIBLE, "privileged": sorted(duties.PRIVILEGED)}
    return await render(request, "staff/duties.html", context)


async def approve_grant(request: web.Request) -> web.Response:
    """A second system administrator gives a role another asked for."""
    form = await form_of(request)
    staff_id = path_id(request, "staff_id")
    grant_id = int_or_none(form.get("grant_id")) or 0
    _grant, error = await attempt(role_grants.approve(actor_of(request), staff_id, grant_id))
    await flash_and_redirect(request, f"/staff/{staff_id}", error or _("Role given."))


async def refuse_grant(request: web.Request) -> web.Response:
    """A second system administrator refuses a role another asked for."""
    form = await form_of(request)
    staff_id = path_id(request, "staff_id")
    grant_id = int_or_none(form.get("grant_id")) or 0
    _grant, error = await attempt(role_grants.refuse(actor_of(request), staff_id, grant_id,
                                                     form.get("note", "")))
    await flash_and_redirect(request, f"/staff/{staff_id}", error or _("Role refused."))


# Chat accounts mapped by a system administrator, and the channel notifications go to (issue 15)


async def map_wecom_account(request: web.Request) -> web.Response:
    """Bind a staff member to the WeCom UserID typed on his page, by a system administrator,
    by the rules of a mapping: no account of another person, no second account (Q6)."""
    form = await form_of(request)
    staff_id = path_id(request, "staff_id")
    _line, error = await attempt(_map_account(actor_of(request), staff_id, form))
    await flash_and_redirect(request, f"/staff/{staff_id}", error or _("WeCom UserID saved."))


async def _map_account(actor: Actor, staff_id: int, form: MultiDict[str]
                       ) -> binding.AccountMapping:
    user_id = text(form.get("external_user_id"), N_("WeCom UserID"),
                   max_length(ChatBinding, "external_user_id"))
    return await binding.map_account(actor, staff_id, WECOM, user_id)


async def choose_notify_channel(request: web.Request) -> web.Response:
    """Set the channel a staff member's notifications go to, by himself or a system
    administrator; empty means the fallback order (issue 15)."""
    form = await form_of(request)
    staff_id = path_id(request, "staff_id")
    chosen = form.get("channel", "").strip() or None
    _choice, error = await attempt(channel_choice.choose_channel(actor_of(request), staff_id,
                                                                 chosen))
    await flash_and_redirect(request, f"/staff/{staff_id}", error or _("Changes saved."))


async def accounts_page(request: web.Request) -> web.Response:
    """The form to map staff to WeCom UserIDs from a CSV file (Q6)."""
    require(actor_of(request), Permission.STAFF_MANAGE)
    return await _accounts_view(request)


async def _accounts_view(request: web.Request, csv_text: str = "",
                         lines: list[binding.AccountMapping] | None = None,
                         error: str | None = None, applied: bool = False) -> web.Response:
    refused = error is not None or any(line.error for line in lines or ())
    context = {"columns": ",".join(MAPPING_COLUMNS), "csv_text": csv_text, "lines": lines,
               "error": error, "refused": refused, "applied": applied}
    return await render(request, "staff/accounts.html", context, status=400 if refused else 200)


async def preview_accounts(request: web.Request) -> web.Response:
    """Check an uploaded mapping line by line and show what applying it would bind; nothing
    is written (Q6)."""
    return await _mapping(request, binding.preview_accounts)


async def apply_accounts(request: web.Request) -> web.Response:
    """Apply a previewed mapping, all or nothing: with any refused line nothing is bound and
    the lines are shown again with their refusals (Q6)."""
    return await _mapping(request, binding.map_accounts, apply=True)


async def _mapping(request: web.Request, run: Mapper, *, apply: bool = False
                   ) -> web.Response:
    actor = actor_of(request)
    require(actor, Permission.STAFF_MANAGE)  # before the file is read
    csv_text, error = await attempt(uploaded_text(request))
    if csv_text is None:
        return await _accounts_view(request, error=error)
    lines, error = await attempt(_checked(actor, csv_text, run))
    if lines is None:
        return await _accounts_view(request, csv_text, error=error)
    return await _accounts_view(request, csv_text, lines,
                                applied=apply and not any(line.error for line in lines))


async def _checked(actor: Actor, csv_text: str, run: Mapper) -> list[binding.AccountMapping]:
    """The CSV read by the ledgers' reader (header check, line numbers), then checked or
    applied by the domain."""
    rows = [binding.AccountRow(row.line, row.values.get(MAPPING_COLUMNS[0], ""),
                               row.values.get(MAPPING_COLUMNS[1], ""), row.surplus)
            for row in read_csv(csv_text, MAPPING_COLUMNS)]
    if not rows:
        raise DomainError(N_("The file has no data rows."))
    return await run(actor, WECOM, rows)
