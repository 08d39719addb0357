"""The admin's one form layer: a form names its fields and how each is read, and from that
parses a post into the service's form, fills the page from a row, or gives back what the user
sent to show it again with the refusal (values are read through admin_web.params)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, StrEnum, auto
from typing import Any, Generic, TypeVar

from multidict import MultiMapping

from admin_web.params import (
    int_or_none,
    optional_date,
    required_date,
    required_decimal,
    whole_number,
)

T = TypeVar("T")


class Kind(Enum):
    """How a posted field is read."""

    TEXT = auto()  # as typed
    STRIPPED = auto()  # without surrounding blanks
    OPTIONAL = auto()  # without surrounding blanks, None when blank
    FLAG = auto()  # a checkbox or hidden field posting "1"
    ID = auto()  # the id of a chosen row, 0 when none or malformed
    NUMBER = auto()  # a whole number, None when blank or malformed (the service refuses it)
    DATE = auto()  # YYYY-MM-DD or blank, refused with its label when malformed
    REQUIRED_DATE = auto()  # YYYY-MM-DD, refused with its label when blank or malformed
    DECIMAL = auto()  # 0 to MAX_DECIMAL, refused with its label otherwise
    CHOICES = auto()  # ticked options of an enum; unknown ones are ignored
    ITEMS = auto()  # ticked texts


MANY = frozenset({Kind.CHOICES, Kind.ITEMS})


@dataclass(frozen=True)
class Field:
    """One posted field: its name, how it is read, the (msgid) label its refusals name, the
    enum of its options, and its name on the service's form and on the row when that differs
    (None: posted, but not part of the service's form)."""

    name: str
    kind: Kind = Kind.TEXT
    label: str = ""
    options: type[StrEnum] | None = None
    to: str | None = ""

    @property
    def attribute(self) -> str:
        """The field's name on the service's form and on the row."""
        return self.to or self.name

    def read(self, posted: MultiMapping[str]) -> Any:
        """The typed value of the field in a post; a DomainError names a malformed one."""
        value = posted.get(self.name, "")
        match self.kind:
            case Kind.TEXT:
                return value
            case Kind.STRIPPED:
                return value.strip()
            case Kind.OPTIONAL:
                return value.strip() or None
            case Kind.FLAG:
                return value == "1"
            case Kind.ID:
                return int_or_none(value) or 0
            case Kind.NUMBER:
                return whole_number(value)
            case Kind.DATE:
                return optional_date(value, self.label)
            case Kind.REQUIRED_DATE:
                return required_date(value, self.label)
            case Kind.DECIMAL:
                return required_decimal(value, self.label)
            case Kind.CHOICES:
                assert self.options is not None, f"{self.name} has no options"
                known = {option.value: option for option in self.options}
                return frozenset(known[v] for v in posted.getall(self.name, []) if v in known)
            case Kind.ITEMS:
                return frozenset(posted.getall(self.name, []))

    def as_sent(self, posted: MultiMapping[str]) -> Any:
        """The field as the user sent it: texts as typed, the id chosen, the boxes ticked."""
        if self.kind in MANY:
            return posted.getall(self.name, [])
        if self.kind is Kind.FLAG:
            return posted.get(self.name) == "1"
        if self.kind is Kind.ID:
            return int_or_none(posted.get(self.name))
        return posted.get(self.name, "")


@dataclass(frozen=True)
class Form(Generic[T]):
    """A form of the admin: the service's form it builds and the fields it reads."""

    build: Callable[..., T]
    fields: tuple[Field, ...]

    def parse(self, posted: MultiMapping[str]) -> T:
        """The service's form of a post; a DomainError names a malformed field."""
        return self.build(**{field.attribute: field.read(posted) for field in self.fields
                             if field.to is not None})

    def as_sent(self, posted: MultiMapping[str]) -> dict[str, Any]:
        """The form as the user sent it, to show it again with the refusal."""
        return {field.name: field.as_sent(posted) for field in self.fields}

    def filled(self, row: object, **given: Any) -> dict[str, Any]:
        """The form filled from a row (or the values given), ticked options as lists."""
        values = {field.name: given[field.name] if field.name in given
                  else getattr(row, field.attribute) for field in self.fields}
        return {name: list(value) if isinstance(value, frozenset | set | tuple) else value
                for name, value in values.items()}
