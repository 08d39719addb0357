"""Walking the admin's pages: every GET page of the router, the filtered views of a page, a
few detail pages of each kind it links to, and the links of its menu."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlencode

from aiohttp.test_utils import TestClient
from yarl import URL

# Pages that are not lists a person reads: actions, feeds, files.
NOT_PAGES = frozenset({"/logout", "/language", "/healthz", "/metrics", "/chat/messages"})
LINKS_PER_ROUTE = 3
SELECT = re.compile(r'<select name="([a-z_]+)"[^>]*>(.*?)</select>', re.S)
OPTION = re.compile(r'<option value="([^"]*)"')
LINK = re.compile(r'href="(/[^"#]*)"')
MENU = re.compile(r'<nav class="nav" id="main-menu">(.*?)</nav>', re.S)


def list_pages(client: TestClient) -> list[str]:
    """Every GET page of the router without a path parameter: new pages are covered too."""
    app = client.server.app
    assert app is not None
    pages = {route.resource.canonical for route in app.router.routes()
             if route.method == "GET" and route.resource is not None
             and "{" not in route.resource.canonical}
    return sorted(pages - NOT_PAGES - {"/static"})


def filtered(page: str, html: str) -> list[str]:
    """The page under each value of each of its filter selects (every state and kind)."""
    return [f"{page}?{urlencode({name: value})}" for name, options in SELECT.findall(html)
            for value in OPTION.findall(options)]


def detail_links(html: str, seen: Counter[str]) -> list[str]:
    """Links of a page to pages with an id, a few per route."""
    found = []
    for link in dict.fromkeys(LINK.findall(html)):
        shape = re.sub(r"\d+", "N", URL(link).path)
        if shape != URL(link).path and seen[shape] < LINKS_PER_ROUTE:
            seen[shape] += 1
            found.append(link)
    return found


def menu_links(html: str) -> list[str]:
    """The links of a page's menu."""
    match = MENU.search(html)
    return LINK.findall(match.group(1)) if match else []
