"""Keyset paging of long lists: a page seeks past the sort key and id of the row next to it,
so a list of any length is read page by page, each row once, however deep the page.

A cursor is an opaque text the edges put in the address; one that does not decode into the
list's sort key is refused with a translated message, never read as something else.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from domain.platform.errors import N_, DomainError

DEFAULT_SIZE = 50
MAX_SIZE = 200
MAX_INT = 2**63 - 1
MAX_CURSOR = 1000  # characters: a few sort values never take more
BAD_CURSOR = N_("This page link is damaged or out of date. Go back to the first page of the "
                "list and page on from there.")
M = TypeVar("M", bound=Model)
T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: next to the row whose sort values are `key`; after it, or before
    it when `backward`; `first` is the position of the page's first row, for the hint only."""

    key: tuple[Any, ...]
    backward: bool = False
    first: int = 1


@dataclass(frozen=True)
class PageRequest:
    """Which page of a list to read: its size and its cursor text (None: the first page)."""

    size: int = DEFAULT_SIZE
    cursor: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", max(1, min(self.size, MAX_SIZE)))


PAGE_ONE = PageRequest()  # the first page at the default size


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows, how many rows the whole list holds, and the cursors of the pages
    before (`previous`) and after (`following`) it, None at either end."""

    rows: list[T]
    first: int
    total: int
    previous: str | None
    following: str | None

    @property
    def last(self) -> int:
        """The position of the page's last row (first - 1 when the page is empty)."""
        return self.first + len(self.rows) - 1

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each row converted (for example a model row into a view row)."""
        return Page([convert(row) for row in self.rows], self.first, self.total,
                    self.previous, self.following)


def _order(order: tuple[str, ...]) -> list[tuple[str, bool]]:
    """(field, descending) pairs of an order_by spec, which must end with the unique id."""
    assert order and order[-1].lstrip("-") == "id", "keyset order must end with the id"
    return [(name.lstrip("-"), name.startswith("-")) for name in order]


def _seek(order: list[tuple[str, bool]], key: tuple[Any, ...], backward: bool) -> Q:
    """Rows past `key` in the list's order (before it when `backward`), lexicographically."""
    clauses = []
    for index, (name, descending) in enumerate(order):
        equal = {prior: value for (prior, _), value in zip(order[:index], key, strict=False)}
        step = "lt" if descending != backward else "gt"
        clauses.append(Q(**equal, **{f"{name}__{step}": key[index]}))
    return Q(*clauses, join_type="OR")


def _flipped(order: tuple[str, ...]) -> tuple[str, ...]:
    """The order spec read the other way round."""
    return tuple(name[1:] if name.startswith("-") else f"-{name}" for name in order)


def _key(row: Model, order: list[tuple[str, bool]]) -> tuple[Any, ...]:
    """The sort values of a row."""
    return tuple(getattr(row, name) for name, _ in order)


async def keyset_page(query: QuerySet[M], order: tuple[str, ...], request: PageRequest,
                      prepare: Callable[[QuerySet[M]], QuerySet[M]] = lambda q: q
                      ) -> Page[M]:
    """One page of `query` in `order` (order_by fields ending with the id) at the request's
    cursor; `prepare` adds what the rows need (prefetches) to the row query only."""
    pairs = _order(order)
    cursor = decode_cursor(request.cursor, query.model, order) if request.cursor else None
    total = await query.count()
    rows_query = prepare(query)
    if cursor is None:
        rows = list(await rows_query.order_by(*order).limit(request.size + 1))
        return _forward_page(rows, pairs, request.size, 1, total, previous=False)
    seek = _seek(pairs, cursor.key, cursor.backward)
    if not cursor.backward:
        rows = list(await rows_query.filter(seek).order_by(*order).limit(request.size + 1))
        first = max(1, min(cursor.first, total))
        return _forward_page(rows, pairs, request.size, first, total, previous=True)
    rows = list(await rows_query.filter(seek).order_by(*_flipped(order)).limit(
        request.size + 1))
    if len(rows) <= request.size:  # reached the start: show a full first page
        return await keyset_page(query, order, replace(request, cursor=None), prepare)
    rows = rows[:request.size][::-1]
    first = max(2, min(cursor.first, total))
    return Page(rows, first, total,
                encode_cursor(Cursor(_key(rows[0], pairs), True, max(1, first - len(rows)))),
                encode_cursor(Cursor(_key(rows[-1], pairs), False, first + len(rows))))


def _forward_page(rows: list[M], pairs: list[tuple[str, bool]], size: int, first: int,
                  total: int, *, previous: bool) -> Page[M]:
    """A page of up to `size` rows read forward; one row more means more follow."""
    shown = rows[:size]
    following = (encode_cursor(Cursor(_key(shown[-1], pairs), False, first + len(shown)))
                 if len(rows) > size else None)
    back = (encode_cursor(Cursor(_key(shown[0], pairs), True, max(1, first - size)))
            if previous and shown else None)
    return Page(shown, first, total, back, following)


def encode_cursor(cursor: Cursor) -> str:
    """The cursor as an address-safe text."""
    values = [value.isoformat() if isinstance(value, datetime) else value
              for value in cursor.key]
    text = json.dumps([int(cursor.backward), cursor.first, *values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def offset_page(query: QuerySet[M], order: tuple[str, ...], request: PageRequest,
                      prepare: Callable[[QuerySet[M]], QuerySet[M]] = lambda q: q
                      ) -> Page[M]:
    """One page of `query` in `order` counted from the start, for lists sorted by the fields
    of related rows, which a cursor cannot seek; the cursor holds the first row's position."""
    first = _position(request.cursor) if request.cursor else 1
    total = await query.count()
    rows = list(await prepare(query).order_by(*order).offset(first - 1).limit(
        request.size + 1))
    shown = rows[:request.size]
    following = (encode_cursor(Cursor((), False, first + len(shown)))
                 if len(rows) > request.size else None)
    previous = (encode_cursor(Cursor((), True, max(1, first - request.size)))
                if first > 1 else None)
    return Page(shown, first, total, previous, following)


def _raw(text: str) -> Any:
    """The decoded contents of a cursor text, refused (BAD_CURSOR) when not one."""
    if len(text) > MAX_CURSOR:
        raise DomainError(BAD_CURSOR)
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise DomainError(BAD_CURSOR) from None


def _position(text: str) -> int:
    """The first row's position an offset cursor holds."""
    raw = _raw(text)
    if not isinstance(raw, list) or len(raw) != 2 or raw[0] not in (0, 1):
        raise DomainError(BAD_CURSOR)
    return _whole(raw[1])


def decode_cursor(text: str, model: type[Model], order: tuple[str, ...]) -> Cursor:
    """The cursor of a list of `model` in `order`; refused (BAD_CURSOR) unless it holds one
    value of the right type per sort field."""
    raw = _raw(text)
    pairs = _order(order)
    if not isinstance(raw, list) or len(raw) != len(pairs) + 2 or raw[0] not in (0, 1):
        raise DomainError(BAD_CURSOR)
    first = _whole(raw[1])
    key = tuple(_value(model._meta.fields_map[name], value)
                for (name, _), value in zip(pairs, raw[2:], strict=True))
    return Cursor(key, bool(raw[0]), first)


def _whole(value: Any) -> int:
    """A positive whole number of a cursor."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
        raise DomainError(BAD_CURSOR)
    return value


def _value(field: fields.Field, value: Any) -> Any:
    """A sort value of a cursor checked against its field's type."""
    if isinstance(field, fields.DatetimeField):
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise DomainError(BAD_CURSOR)
        return moment
    if isinstance(field, fields.IntField | fields.BigIntField | fields.SmallIntField):
        return _whole(value)
    if isinstance(field, fields.CharField | fields.TextField) and isinstance(value, str):
        return value
    raise DomainError(BAD_CURSOR)
