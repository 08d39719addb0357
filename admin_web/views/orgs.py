"""The org tree of the actor's subtree; system admins add children and rename."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin_web.i18n import gettext as _
from admin_web.pages import actor_of, attempt, flash_and_redirect, form_of, render
from admin_web.params import int_or_none, path_id
from domain.models import OrgLevel
from domain.services import orgs


async def _tree_page(request: web.Request, status: int = 200, **extra: Any) -> web.Response:
    tree = await orgs.list_orgs(actor_of(request))
    top = min((org.path.count("/") for org in tree), default=0)
    rows = [(org, org.path.count("/") - top) for org in tree]
    parents = [org for org in tree if org.level != OrgLevel.OUTLET]
    context = {"rows": rows, "parents": parents, "form": {}} | extra
    return await render(request, "orgs/list.html", context, status=status)


async def org_list(request: web.Request) -> web.Response:
    """Show the org tree."""
    return await _tree_page(request)


async def create(request: web.Request) -> web.Response:
    """Add a child org (system admins)."""
    form = await form_of(request)
    org, error = await attempt(orgs.create_org(
        actor_of(request), code=form.get("code", ""), name=form.get("name", ""),
        name_en=form.get("name_en", ""), parent_id=int_or_none(form.get("parent_id")),
    ))
    if org is None:
        return await _tree_page(request, 400, form=dict(form), error=error)
    message = _("Organisation %(name)s added.") % {"name": org.name}
    await flash_and_redirect(request, "/orgs", message)


async def org_page(request: web.Request) -> web.Response:
    """Show one org with its rename form."""
    org = await orgs.get_org(actor_of(request), path_id(request, "org_id"))
    return await render(request, "orgs/edit.html", {"org": org, "form": {}})


async def rename(request: web.Request) -> web.Response:
    """Change an org's names (system admins)."""
    form = await form_of(request)
    org_id = path_id(request, "org_id")
    org, error = await attempt(orgs.rename_org(
        actor_of(request), org_id, name=form.get("name", ""), name_en=form.get("name_en", "")
    ))
    if org is None:
        current = await orgs.get_org(actor_of(request), org_id)
        context = {"org": current, "form": dict(form), "error": error}
        return await render(request, "orgs/edit.html", context, status=400)
    message = _("Organisation %(name)s saved.") % {"name": org.name}
    await flash_and_redirect(request, "/orgs", message)
