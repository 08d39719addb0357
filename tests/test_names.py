"""Names, not codes (issue 16): voucher types by name, a tail box by its tablet and holder
on every page and in the chat, issued serials linked to their case, orgs in the reader's
language."""

from __future__ import annotations

import re
from pathlib import Path

from domain.models import Org, Staff, TailBox, Voucher, VoucherMovement
from domain.platform.actors import actor_for
from domain.vouchers import voucher_counts
from domain.vouchers.voucher_names import box_labels
from tests.admin_support import admin_site, demo_log_in, site_config, submit

TAGS = re.compile(r"<[^>]+>")
TABLE = re.compile(r'<table class="list[^"]*">(.*?)</table>', re.S)


def table_text(html: str) -> str:
    """The text people read in a page's tables, without the markup."""
    return " ".join(TAGS.sub(" ", table) for table in TABLE.findall(html))


async def test_a_box_has_one_name_on_every_page_and_in_the_chat(
        every_kind_media: Path) -> None:
    agent = await Staff.get(employee_no="E0101")
    box = await TailBox.get(holder_id=agent.id).prefetch_related("device")
    serial = (await Voucher.filter(box_id=box.id).first()).serial  # type: ignore[union-attr]
    label = (await box_labels([box.id]))[box.id]
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "ops")
        pages = {url: await (await client.get(url)).text()
                 for url in ("/vouchers", f"/vouchers/boxes/{box.id}",
                             f"/vouchers/journal?serial={serial}", f"/inspections/boxes/{box.id}")}
    [chat] = await voucher_counts.my_boxes(await actor_for(agent))
    assert label == f"{box.device.asset_tag} · E0101 {agent.name}"
    assert chat.box_label == label
    assert {url: label in html for url, html in pages.items()} == dict.fromkeys(pages, True)


async def test_voucher_types_show_by_name_not_by_code(every_kind_media: Path) -> None:
    card = await Voucher.filter(voucher_type__code="DEBIT_CARD", box_id__isnull=False).first()
    assert card is not None
    box = await TailBox.get(id=card.box_id)  # type: ignore[attr-defined]
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "ops")
        texts = {url: table_text(await (await client.get(url)).text())
                 for url in ("/vouchers", f"/vouchers/boxes/{box.id}", "/vouchers/types",
                             "/vouchers/mis-issues")}
    assert {url: "借记卡" in text for url, text in texts.items()} == dict.fromkeys(texts, True)
    assert {url: text for url, text in texts.items() if "DEBIT_CARD" in text
            and url != "/vouchers/types"} == {}


async def test_an_issued_serial_links_to_its_case(every_kind_media: Path) -> None:
    issued = await VoucherMovement.filter(case_id__isnull=False).prefetch_related(
        "voucher").order_by("-id").first()
    assert issued is not None
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "ops")
        html = await (await client.get(
            f"/vouchers/journal?serial={issued.voucher.serial}")).text()
    assert f'<a href="/cases/{issued.case_id}">{issued.voucher.serial}</a>' in html


async def test_orgs_are_named_in_the_readers_language(every_kind_media: Path) -> None:
    org = await Org.get(code="NJ0101")
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "ops")
        chinese = table_text(await (await client.get("/staff")).text())
        await submit(client, "/language", {"locale": "en", "next": "/staff"})
        english = table_text(await (await client.get("/staff")).text())
    assert org.name in chinese and org.name_en not in chinese
    assert org.name_en in english and org.name not in english
