"""What happened, said in words: a msgid with typed parameters that the edge translates and
links (issue 16). The domain never builds text in a language nor a URL; it names the kind
and id of the object a word stands for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Ref(StrEnum):
    """Kinds of object a word of a sentence may lead to."""

    CASE = "case"
    PERSON = "person"
    DEVICE = "device"
    BOX = "box"
    CALLBACK = "callback"
    INSPECTION = "inspection"
    ORG = "org"
    CASE_AUDIT = "case_audit"


@dataclass(frozen=True)
class Term:
    """One word of a sentence: literal text, a msgid (with its own parameters), or a name in
    both languages; it may stand for an object (kind and id)."""

    text: str = ""
    msgid: str = ""
    args: tuple[tuple[str, str], ...] = ()
    names: tuple[str, str] | None = None  # (zh_CN, en)
    ref: Ref | None = None
    ref_id: int | None = None


Param = Term | tuple[Term, ...]


@dataclass(frozen=True)
class Sentence:
    """A msgid with %(name)s placeholders and the words to put in them; a list of words
    is joined with the locale's separator, a missing one reads as a dash."""

    msgid: str
    params: Mapping[str, Param] = field(default_factory=dict)


def plain(text: object) -> Term:
    """A word shown as it is: a name, a number, a serial."""
    return Term(text=str(text))


def said(msgid: str) -> Term:
    """A word translated at the edge."""
    return Term(msgid=msgid)


def named(zh: str, en: str, ref: Ref | None = None, ref_id: int | None = None) -> Term:
    """A record's name in both languages (the edge picks the user's), maybe a link."""
    return Term(names=(zh, en or zh), ref=ref, ref_id=ref_id)


def linked(text: object, ref: Ref, ref_id: int | None) -> Term:
    """A literal word that leads to an object."""
    return Term(text=str(text), ref=ref if ref_id is not None else None, ref_id=ref_id)
