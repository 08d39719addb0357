"""The names people read for vouchers and tail boxes (issue 16, names not codes).

A voucher type is shown by its name (借记卡), never by its code (DEBIT_CARD); a tail box by
its tablet and holder (PAD-NJ0101-01 · E0101 陈展业), never by its row id: the same label on
every page, in every chat text and every export, so a box is recognised wherever it shows.
"""

from __future__ import annotations

from collections.abc import Iterable

from domain.models import Staff, TailBox, VoucherType
from domain.platform.actors import person_label


def box_label(asset_tag: str, holder: Staff | None) -> str:
    """A tail box as people name it: its tablet's asset tag and its holder, if any (V1)."""
    return f"{asset_tag} · {person_label(holder)}" if holder is not None else asset_tag


def label_of(box: TailBox) -> str:
    """The label of a box whose device and holder are loaded."""
    return box_label(box.device.asset_tag, box.holder)


async def box_labels(box_ids: Iterable[int]) -> dict[int, str]:
    """The labels of several boxes by id, in one query."""
    boxes = await TailBox.filter(id__in=set(box_ids)).prefetch_related("device", "holder")
    return {box.id: label_of(box) for box in boxes}


async def type_names(locale: str) -> dict[str, str]:
    """Every voucher type's name in a locale, by its code."""
    return {row.code: row.name_in(locale) for row in await VoucherType.all()}
