"""Roles see what they use (issue 16, DESIGN.md §1; the table is admin_web.menu's): each
demo role's menu and dashboard areas, and every menu entry opens for that role."""

from __future__ import annotations

import re
from pathlib import Path

from tests.admin_support import admin_site, demo_log_in, site_config, zh
from tests.page_walk_support import menu_links

OVERSIGHT_MENU = ["/", "/staff", "/cases", "/special-approvals", "/qualifications", "/devices",
                  "/vouchers", "/incidents", "/inspections", "/callbacks"]
MENUS = {
    "reviewer": ["/", "/chat", "/cases"],
    "callback": ["/", "/callbacks"],
    "bizhead": ["/", "/vouchers"],
    "it": ["/", "/staff", "/devices", "/incidents"],
    "supervisor": ["/", "/chat", *OVERSIGHT_MENU[1:]],
    "ops": ["/", "/orgs", *OVERSIGHT_MENU[1:], "/case-audits", "/business-types",
            "/review-reasons"],
    "auditor": ["/", "/orgs", *OVERSIGHT_MENU[1:], "/case-audits", "/audit"],
    "admin": ["/", "/orgs", "/staff", "/audit", "/outbox"],
}
OVERSIGHT_AREAS = ["Cases today", "Vouchers", "Inspections and callbacks", "Ledgers"]
AREAS = {
    "reviewer": ["Cases today"],
    "callback": ["Inspections and callbacks"],
    "bizhead": ["Vouchers"],
    "it": ["Ledgers"],
    "supervisor": OVERSIGHT_AREAS,
    "ops": OVERSIGHT_AREAS,
    "auditor": OVERSIGHT_AREAS,
    "admin": ["Administration"],
}
AREA = re.compile(r'<section class="area"[^>]*>\s*<h2>([^<]*)</h2>')
CAPTION = re.compile(r'<span class="caption">([^<]*)</span>')


async def test_each_role_sees_its_own_menu_and_dashboard(every_kind_media: Path) -> None:
    menus, areas, captions, refused = {}, {}, {}, {}
    for username in MENUS:
        async with admin_site(site_config(every_kind_media)) as client:
            await demo_log_in(client, username)
            home = await (await client.get("/")).text()
            menus[username] = menu_links(home)
            areas[username] = AREA.findall(home)
            captions[username] = set(CAPTION.findall(home))
            refused[username] = [link for link in menus[username]
                                 if (await client.get(link)).status != 200]
    assert menus == MENUS
    assert areas == {user: [zh(area) for area in shown] for user, shown in AREAS.items()}
    assert {user: links for user, links in refused.items() if links} == {}
    assert zh("Organisations in scope") not in captions["reviewer"]
    assert captions["callback"] == {zh("Callbacks due today"), zh("Overdue callbacks")}
