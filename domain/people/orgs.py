"""The org tree: 省分行 → 二级分行 → 支行 → 网点, every read bounded by the actor's subtree."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from domain.models import Org, OrgLevel
from domain.platform import audit
from domain.platform.access import Permission, require, require_scope, scope_prefix
from domain.platform.actors import Actor
from domain.platform.errors import N_, DomainError, NotFound

LEVEL_LABELS: dict[OrgLevel, str] = {
    OrgLevel.PROVINCE: N_("Provincial branch"),
    OrgLevel.BRANCH: N_("Branch"),
    OrgLevel.SUBBRANCH: N_("Sub-branch"),
    OrgLevel.OUTLET: N_("Outlet"),
}

CHILD_LEVEL = {
    None: OrgLevel.PROVINCE,
    OrgLevel.PROVINCE: OrgLevel.BRANCH,
    OrgLevel.BRANCH: OrgLevel.SUBBRANCH,
    OrgLevel.SUBBRANCH: OrgLevel.OUTLET,
}


async def list_orgs(actor: Actor) -> list[Org]:
    """Orgs in the actor's subtree, in tree order."""
    require(actor, Permission.ORG_VIEW)
    return await Org.filter(path__startswith=scope_prefix(actor)).order_by("path")


async def count_orgs(actor: Actor) -> int:
    """Number of orgs in the actor's subtree."""
    require(actor, Permission.ORG_VIEW)
    return await Org.filter(path__startswith=scope_prefix(actor)).count()


async def get_org(actor: Actor, org_id: int) -> Org:
    """One org the actor may see."""
    require(actor, Permission.ORG_VIEW)
    org = await Org.get_or_none(id=org_id)
    missing = N_("No such organisation.")
    if org is None:
        raise NotFound(missing)
    require_scope(actor, org, missing)
    return org


async def create_org(
    actor: Actor, *, code: str, name: str, name_en: str = "", parent_id: int | None
) -> Org:
    """Add an org one level below its parent (or a province at the root)."""
    require(actor, Permission.ORG_MANAGE)
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise DomainError(N_("Code and name are required."))
    async with in_transaction():
        parent = await get_org(actor, parent_id) if parent_id else None
        level = CHILD_LEVEL.get(parent.level if parent else None)
        if level is None:
            raise DomainError(N_("An outlet cannot have child organisations."))
        if await Org.exists(code=code):
            raise DomainError(N_("Organisation code %(code)s is already used."), code=code)
        org = await Org.create(
            code=code, name=name, name_en=name_en.strip(), level=level, parent=parent
        )
        org.path = f"{parent.path if parent else '/'}{org.id}/"
        await org.save(update_fields=["path"])
        await audit.record(
            actor, "org.create", "org", org.id, org_id=org.id,
            detail={"code": code, "name": name, "parent_id": parent_id},
        )
    return org


async def rename_org(actor: Actor, org_id: int, *, name: str, name_en: str) -> Org:
    """Change the display names of an org."""
    require(actor, Permission.ORG_MANAGE)
    if not name.strip():
        raise DomainError(N_("Code and name are required."))
    async with in_transaction():
        org = await get_org(actor, org_id)
        before = {"name": org.name, "name_en": org.name_en}
        org.name, org.name_en = name.strip(), name_en.strip()
        await org.save(update_fields=["name", "name_en"])
        await audit.record(
            actor, "org.update", "org", org.id, org_id=org.id,
            detail={"before": before, "after": {"name": org.name, "name_en": org.name_en}},
        )
    return org
