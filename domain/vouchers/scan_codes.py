"""The codes on the printed QR labels of tablets and tail boxes, and what a scan of one shows.

A tablet's code is its asset tag; a tail box's code is `BOX-` and the asset tag of its
tablet (a box belongs to one tablet for good, V1). A code names a tablet first: asset tags
are unique and kept by IT, so a box code is read as a box unless a tablet has that very tag.
Who may see what a code names: a viewer of tablets (D1) or of the voucher ledger (V1) within
his org subtree, and a field agent for what he holds; to anyone else a code is unknown, so a
scan cannot tell what exists outside his scope (S3).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.models import Device, DeviceState, Org, TailBox, VoucherType
from domain.platform.access import Permission, can, in_scope, require, scope_prefix
from domain.platform.actors import Actor, person_label
from domain.platform.errors import N_, NotFound
from domain.platform.identity import normalise_text
from domain.vouchers import voucher_counts
from domain.vouchers.tail_boxes import expected_in_box

BOX_PREFIX = "BOX-"
TAG_LENGTH = Device._meta.fields_map["asset_tag"].max_length  # type: ignore[attr-defined]
MAX_CODE = len(BOX_PREFIX) + TAG_LENGTH
UNKNOWN_CODE = N_("No tablet or tail box you may see has the code %(code)s.")


def box_code(asset_tag: str) -> str:
    """The code on a tail box's label: BOX- and its tablet's asset tag."""
    return BOX_PREFIX + asset_tag


@dataclass(frozen=True)
class Scanned:
    """What a code names: a tablet, or a tail box (its tablet loaded); org and holder
    loaded."""

    tablet: Device | None = None
    box: TailBox | None = None

    @property
    def org(self) -> Org:
        """The org the item belongs to."""
        return self.tablet.org if self.tablet else self.box.org  # type: ignore[union-attr]


async def _named(code: str) -> Scanned | None:
    """The tablet or box a code names, None when none does."""
    # a longer or unprintable text is no asset tag (nor sent to the database: PostgreSQL
    # refuses a NUL in text)
    if len(code) <= TAG_LENGTH and code.isprintable():
        tablet = await Device.get_or_none(asset_tag=code).prefetch_related("org", "holder")
        if tablet is not None:
            return Scanned(tablet=tablet)
    if code.startswith(BOX_PREFIX):
        box = await TailBox.filter(device__asset_tag=code.removeprefix(BOX_PREFIX)
                                   ).prefetch_related("org", "holder", "device").first()
        if box is not None:
            return Scanned(box=box)
    return None


def _may_see(actor: Actor, found: Scanned) -> bool:
    """True when the actor holds the item, or views its kind within his subtree (S3)."""
    item = found.tablet or found.box
    if item is not None and item.holder_id == actor.staff_id:  # type: ignore[union-attr]
        return True
    viewing = can(actor, Permission.DEVICE_VIEW) or (
        found.box is not None and can(actor, Permission.VOUCHER_VIEW))
    return viewing and in_scope(actor, found.org)


async def find_scanned(actor: Actor, code: str) -> Scanned:
    """The tablet or tail box a scanned code names, when the actor may see it; else
    NotFound, whether it exists or not (D1, V1, S3)."""
    clean = normalise_text(code).strip()[:MAX_CODE]
    found = await _named(clean) if clean else None
    if found is None or not _may_see(actor, found):
        raise NotFound(UNKNOWN_CODE, code=clean)
    return found


@dataclass(frozen=True)
class BoxBalance:
    """A box's holder and balance per voucher type; no figure (`blind`) while a count or an
    inspection waits for the holder who asks (V3, V5)."""

    label: str
    holder: str
    frozen: bool
    balance: list[tuple[VoucherType, int]]
    blind: bool


async def box_balance(actor: Actor, box: TailBox) -> BoxBalance:
    """The balance of a scanned box as its holder's /box shows it (blind while his count
    waits), or as the ledger holds it for a viewer of the ledger (V3)."""
    label = box.device.asset_tag
    if box.holder_id == actor.staff_id:  # type: ignore[attr-defined]
        mine = [summary for summary in await voucher_counts.my_boxes(actor)
                if summary.box_label == label]
        balance, blind = (mine[0].balance, mine[0].blind) if mine else ([], False)
    else:
        expected = await expected_in_box(box.id)
        balance = [(kind, expected.get(kind.code, 0))
                   for kind in await voucher_counts.types_to_count(expected)]
        blind = False
    return BoxBalance(label, person_label(box.holder), box.frozen, balance, blind)


@dataclass(frozen=True)
class Label:
    """One printed label: the code its QR carries, what it names, the org."""

    code: str
    title: str
    detail: str
    org_name: str


async def tablet_labels(actor: Actor, ids: list[int] | None, org_id: int | None
                        ) -> list[Label]:
    """Labels of the tablets of the actor's subtree: the chosen ones, or all of an org's
    subtree (or of his own), retired ones left out (D1)."""
    require(actor, Permission.DEVICE_VIEW)
    query = Device.filter(org__path__startswith=await _prefix(actor, org_id)).exclude(
        state=DeviceState.RETIRED)
    if ids:
        query = query.filter(id__in=ids)
    rows = await query.prefetch_related("org").order_by("asset_tag")
    return [Label(row.asset_tag, row.asset_tag, row.model, row.org.name) for row in rows]


async def box_labels(actor: Actor, ids: list[int] | None, org_id: int | None) -> list[Label]:
    """Labels of the tail boxes of the actor's subtree: the chosen ones, or all of an org's
    subtree (or of his own) (V1)."""
    require(actor, Permission.VOUCHER_VIEW)
    query = TailBox.filter(org__path__startswith=await _prefix(actor, org_id))
    if ids:
        query = query.filter(id__in=ids)
    rows = await query.prefetch_related("org", "device", "holder").order_by("device__asset_tag")
    return [Label(box_code(row.device.asset_tag), row.device.asset_tag,
                  person_label(row.holder), row.org.name) for row in rows]


async def _prefix(actor: Actor, org_id: int | None) -> str:
    """The path of the chosen org (in the actor's subtree), or of the actor's subtree."""
    if org_id is None:
        return scope_prefix(actor)
    org = await Org.get_or_none(id=org_id)
    if org is None or not in_scope(actor, org):
        raise NotFound(N_("No such organisation."))
    return org.path
