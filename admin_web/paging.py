"""The paging control of every long list: the page asked for in the address (`size`, `cursor`)
and the links to the pages around it, which keep the list's filters."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from multidict import MultiMapping

from admin_web.params import whole
from domain.platform.paging import DEFAULT_SIZE, Page, PageRequest


@dataclass(frozen=True)
class Pager:
    """What the pager macro shows: the rows on this page, the total and the links."""

    first: int
    last: int
    total: int
    start: str | None
    previous: str | None
    following: str | None


def page_request(query: MultiMapping[str]) -> PageRequest:
    """The page of the address: `size` rows (default 50; the domain caps it at 200) at
    `cursor`."""
    return PageRequest(whole(query.get("size"), 1) or DEFAULT_SIZE, query.get("cursor") or None)


def pager(request: web.Request, page: Page[object]) -> Pager:
    """The links around a page, each the current address with another cursor."""
    url = request.rel_url

    def at(cursor: str | None) -> str | None:
        return None if cursor is None else str(url.update_query(cursor=cursor))

    start = str(url.without_query_params("cursor")) if "cursor" in url.query else None
    return Pager(page.first, page.last, page.total, start, at(page.previous),
                 at(page.following))
