"""The org tree of the actor's subtree; system admins add children and rename."""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDict

from admin_web.i18n import gettext as _
from admin_web.pages import actor_of, attempt_or_back, flash_and_redirect, form_of, render, sent
from admin_web.params import int_or_none, max_length, path_id, text
from domain.models import Org, OrgLevel
from domain.people import orgs
from domain.platform.actors import Actor
from domain.platform.errors import N_


async def _tree_page(request: web.Request) -> web.Response:
    tree = await orgs.list_orgs(actor_of(request))
    top = min((org.path.count("/") for org in tree), default=0)
    rows = [(org, org.path.count("/") - top) for org in tree]
    parents = [org for org in tree if org.level != OrgLevel.OUTLET]
    context = {"rows": rows, "parents": parents, "form": {}}
    return await render(request, "orgs/list.html", context)


async def org_list(request: web.Request) -> web.Response:
    """Show the org tree."""
    return await _tree_page(request)


def _names(form: MultiDict[str]) -> dict[str, str]:
    """The typed names of an org, no longer than their columns."""
    return {"name": text(form.get("name"), N_("Name"), max_length(Org, "name")),
            "name_en": text(form.get("name_en"), N_("English name"), max_length(Org, "name_en"))}


async def _create(actor: Actor, form: MultiDict[str]) -> Org:
    code = text(form.get("code"), N_("Code"), max_length(Org, "code"))
    return await orgs.create_org(actor, code=code, **_names(form),
                                 parent_id=int_or_none(form.get("parent_id")))


async def _rename(actor: Actor, org_id: int, form: MultiDict[str]) -> Org:
    return await orgs.rename_org(actor, org_id, **_names(form))


async def create(request: web.Request) -> web.Response:
    """Add a child org (system admins)."""
    form = await form_of(request)
    org = await attempt_or_back(request, _create(actor_of(request), form), "/orgs", sent(form))
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
    org = await attempt_or_back(request, _rename(actor_of(request), org_id, form),
                                f"/orgs/{org_id}", sent(form))
    message = _("Organisation %(name)s saved.") % {"name": org.name}
    await flash_and_redirect(request, "/orgs", message)
