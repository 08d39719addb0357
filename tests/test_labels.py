"""Printed QR labels of tablets and tail boxes and their scan (issue 16, D1, V1): the QR
carries the site's /scan address, which opens the item by the user's permissions; in chat,
/scan (or the label's address a scanner types) answers the item's status within scope."""

from __future__ import annotations

import re
from pathlib import Path

import segno
from aiohttp.test_utils import TestClient

from domain.models import Device, DeviceState, Org, Staff, TailBox
from domain.vouchers.scan_codes import UNKNOWN_CODE, box_code
from tests.admin_support import admin_site, demo_log_in, site_config, zh
from tests.chat_support import RouterChat, bind, chat_router

LINE = re.compile(r"([Mmh])(-?[0-9.]+)(?: (-?[0-9.]+))?")
BORDER = 2


def dark_modules(path: str) -> set[tuple[int, int]]:
    """The dark modules (row, column) a segno SVG path draws: each `h` a run on one row."""
    x = y = 0.0
    dark = set()
    for command, first, second in LINE.findall(path):
        if command == "M":
            x, y = float(first), float(second)
        elif command == "m":
            x, y = x + float(first), y + float(second)
        else:
            run = int(float(first))
            dark |= {(int(y - 0.5) - BORDER, int(x) - BORDER + n) for n in range(run)}
            x += run
    return dark


def encoded(content: str) -> set[tuple[int, int]]:
    """The dark modules of the QR code that encodes the content."""
    matrix = segno.make(content, error="m").matrix
    return {(r, c) for r, row in enumerate(matrix) for c, bit in enumerate(row) if bit}


async def scanned(client: TestClient, code: str) -> tuple[int, str]:
    """The status and Location (or page text) of opening a label's address."""
    response = await client.get(f"/scan/{code}", allow_redirects=False)
    return response.status, response.headers.get("Location") or await response.text()


async def nanjing_issued_tablet() -> Device:
    """An issued tablet of a Nanjing branch, with its box, holder and org."""
    nanjing = await Org.get(code="NJ0100")
    return await Device.filter(state=DeviceState.ISSUED, org__path__startswith=nanjing.path,
                               tail_box__id__not_isnull=True).prefetch_related(
        "holder", "org", "tail_box").order_by("asset_tag").first()  # type: ignore[return-value]


async def test_a_labels_qr_code_carries_the_items_scan_address(every_kind_media: Path) -> None:
    tablet = await nanjing_issued_tablet()
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "it")
        page = await (await client.get(f"/labels/tablets?ids={tablet.id}")).text()
        origin = str(client.make_url("/")).rstrip("/")
        await demo_log_in(client, "supervisor")
        boxes = await (await client.get("/labels/boxes")).text()
    figures = re.findall(r'<figure class="label" data-code="([^"]+)">.*?<path[^>]* d="([^"]+)"',
                         page, re.S)
    assert [code for code, _path in figures] == [tablet.asset_tag]
    assert dark_modules(figures[0][1]) == encoded(f"{origin}/scan/{tablet.asset_tag}")
    assert dark_modules(figures[0][1]) != encoded(f"{origin}/scan/{tablet.asset_tag}X")
    assert tablet.asset_tag in page and tablet.org.name in page
    assert f'data-code="{box_code(tablet.asset_tag)}"' in boxes
    assert "SZ" not in "".join(re.findall(r'data-code="([^"]+)"', boxes))


async def test_a_scan_opens_the_item_by_the_users_permissions(every_kind_media: Path) -> None:
    tablet = await nanjing_issued_tablet()
    box = await TailBox.get(device_id=tablet.id)
    async with admin_site(site_config(every_kind_media)) as client:
        anonymous = await scanned(client, tablet.asset_tag)
        await demo_log_in(client, "it")
        it_tablet, it_box = (await scanned(client, tablet.asset_tag),
                             await scanned(client, box_code(tablet.asset_tag)))
        unknown = await scanned(client, "NO-SUCH-TAG")
        too_long = await scanned(client, "BOX-" + "X" * 300)
    async with admin_site(site_config(every_kind_media)) as client:
        await demo_log_in(client, "supervisor")
        supervisor_box = await scanned(client, box_code(tablet.asset_tag))
        await demo_log_in(client, "supervisor_sz")
        outsider = await scanned(client, tablet.asset_tag)
    assert anonymous[0] in (302, 303) and anonymous[1].startswith("/login?next=")
    assert it_tablet == it_box == (303, f"/devices/{tablet.id}")
    assert supervisor_box == (303, f"/vouchers/boxes/{box.id}")
    assert outsider[0] == 404 and zh(UNKNOWN_CODE, code=tablet.asset_tag) in outsider[1]
    assert unknown[0] == 404 and zh(UNKNOWN_CODE, code="NO-SUCH-TAG") in unknown[1]
    assert too_long[0] == 404


async def test_chat_scan_answers_the_status_within_scope(every_kind_media: Path,
                                                         tmp_path: Path) -> None:
    tablet = await nanjing_issued_tablet()
    other = await Device.exclude(id=tablet.id).exclude(holder_id=None).first()
    assert other is not None and tablet.holder is not None
    supervisor = await Staff.get(employee_no="E0008")
    router = chat_router(tmp_path)
    agent, boss = RouterChat(router, "scan-agent"), RouterChat(router, "scan-boss")
    await bind(tablet.holder, agent.user)
    await bind(supervisor, boss.user)
    own = (await agent.say(f"/scan {tablet.asset_tag}"))[-1].text
    not_his = (await agent.say(f"/scan {other.asset_tag}"))[-1].text
    by_address = (await agent.say(f"https://fieldops.example/scan/{box_code(tablet.asset_tag)}"
                                  ))[-1].text
    bare = (await agent.say(tablet.asset_tag))[-1].text
    seen = (await boss.say(f"/scan {box_code(tablet.asset_tag)}"))[-1].text
    suzhou = await Device.filter(org__code__startswith="SZ").first()
    assert suzhou is not None
    outside = (await boss.say(f"/scan {suzhou.asset_tag}"))[-1].text
    assert tablet.asset_tag in own and tablet.holder.name in own
    assert not_his == zh(UNKNOWN_CODE, code=other.asset_tag)
    assert zh("Tail box of tablet %(asset_tag)s, %(org)s. Holder: %(holder)s.",
              asset_tag=tablet.asset_tag, org=tablet.org.name,
              holder=f"{tablet.holder.employee_no} {tablet.holder.name}") in by_address
    assert tablet.asset_tag not in bare  # a bare code is no look-up
    assert by_address.count("\n") >= 1 and ":" in seen.splitlines()[-1]
    assert outside == zh(UNKNOWN_CODE, code=suzhou.asset_tag)
