"""WeCom's messages built from a flow's text and buttons (issue 15): text messages, and the
button_interaction template card (按钮交互型) for every row of buttons.

WeCom has no rows of buttons under a text: a card carries the text as its title (the first
line) and sub-title (the rest) — or, a first line too long for a title, as its sub-title
alone — and at most six buttons. A text too long for a card goes
first as text messages (each within WeCom's 2,048 bytes) and the card follows with a short
title; more than six buttons make several cards, and rows set apart (`messages.APART`, the
wizard's Submit) go on a card of their own. Each button gets a short key ("k0".."k5")
kept with its label and data in `domain.platform.chat_cards`; a link (admin path or URL)
becomes a URL button, absolute with the public address and dropped without one.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unicodedata import east_asian_width

from bot.flows.messages import Buttons, absolute_links, groups, is_url
from domain.platform.chat_cards import Keys

CARD_TYPE = "button_interaction"
# WeCom's limits of a button_interaction card, in its 字 (a Chinese character; a Latin letter
# or digit counts half, as wide), and of a text message.
TITLE_MAX = 26  # main_title.title
SUB_TITLE_MAX = 112  # sub_title_text
BUTTONS_MAX = 6
BUTTON_TEXT_MAX = 10
TEXT_MAX_BYTES = 2048
URL_BUTTON = 1
MORE = "…"

Json = dict[str, Any]


@dataclass(frozen=True)
class Card:
    """One card to send: its task id, its JSON and its buttons' keys → (label, data)."""

    task_id: str
    body: Json
    keys: Keys


@dataclass(frozen=True)
class Layout:
    """What one message of the flows becomes in WeCom: text messages, then cards."""

    texts: tuple[str, ...]
    cards: tuple[Card, ...]

    @property
    def pieces(self) -> tuple[str | Card, ...]:
        """The messages in the order they are sent: the texts, then the cards."""
        return (*self.texts, *self.cards)

    def rest(self, sent: int) -> tuple[str, Buttons]:
        """What is left after the first `sent` pieces as a text with buttons, to queue
        without what the member was shown already: the unsent texts with every card's
        buttons, or the first unsent card's title with its and the later cards' buttons."""
        pairs = tuple((label, data) for card in self.cards[max(sent - len(self.texts), 0):]
                      for label, data in card.keys.values())
        buttons: Buttons = (pairs,) if pairs else ()
        if sent < len(self.texts):
            return "\n".join(self.texts[sent:]), buttons
        body = self.cards[sent - len(self.texts)].body
        title = body.get("main_title", {}).get("title", "")
        return "\n".join(part for part in (title, body.get("sub_title_text", "")) if part), \
            buttons


def new_task_id() -> str:
    """A card id unique per app: letters and digits within WeCom's 128 bytes."""
    return f"fo{secrets.token_hex(12)}"


def layout(text: str, buttons: Buttons, public_url: str) -> Layout:
    """A text with rows of buttons as WeCom messages (see the module doc)."""
    batches = card_batches(buttons, public_url)
    if not batches:
        return Layout(tuple(split_text(text)), ())
    titles = card_titles(text)
    texts: tuple[str, ...] = ()
    if titles is None:
        texts, titles = tuple(split_text(text)), (short(first_line(text), TITLE_MAX), "")
    title, sub_title = titles
    following = title or short(first_line(text), TITLE_MAX)  # the next cards' title
    cards = (card(new_task_id(), title, sub_title, batches[0]),
             *(card(new_task_id(), following, "", batch) for batch in batches[1:]))
    return Layout(texts, cards)


def card_batches(buttons: Buttons, public_url: str) -> list[list[tuple[str, str]]]:
    """The buttons of each card: at most six, and a group of rows set `APART` (a final
    Submit) on cards of its own, since a card has no rows to set it apart in."""
    batches = []
    for group in groups(buttons):
        pairs = [pair for row in absolute_links(group, public_url) for pair in row]
        batches += [pairs[start:start + BUTTONS_MAX]
                    for start in range(0, len(pairs), BUTTONS_MAX)]
    return batches


def card(task_id: str, title: str, sub_title: str, pairs: list[tuple[str, str]]) -> Card:
    """A button_interaction card of at most six (label, data) buttons."""
    buttons: list[Json] = []
    keys: Keys = {}
    for index, (label, data) in enumerate(pairs[:BUTTONS_MAX]):
        key = f"k{index}"
        keys[key] = (label, data)
        button: Json = {"text": short(label, BUTTON_TEXT_MAX), "key": key}
        if is_url(data):
            button |= {"type": URL_BUTTON, "url": data}
        buttons.append(button)
    body: Json = {"card_type": CARD_TYPE, "task_id": task_id, "button_list": buttons}
    if title:
        body["main_title"] = {"title": title}
    if sub_title:
        body["sub_title_text"] = sub_title
    return Card(task_id, body, keys)


def card_titles(text: str) -> tuple[str, str] | None:
    """(title, sub-title) of a text that fits a card: its first line and the rest, or no
    title and the whole text when the first line is too long for one; None when neither
    fits."""
    text = text.strip()
    title, _, rest = text.partition("\n")
    if title and width(title) <= TITLE_MAX and width(rest.strip()) <= SUB_TITLE_MAX:
        return title, rest.strip()
    if text and width(text) <= SUB_TITLE_MAX:
        return "", text
    return None


def first_line(text: str) -> str:
    """The text's first line."""
    return text.strip().partition("\n")[0]


def width(text: str) -> float:
    """The text's length in WeCom's 字: a wide (Chinese) character 1, any other a half."""
    return sum(1.0 if east_asian_width(char) in "WF" else 0.5 for char in text)


def short(text: str, limit: int) -> str:
    """The text cut to `limit` 字, an ellipsis marking the cut."""
    if width(text) <= limit:
        return text
    kept, used = [], width(MORE)
    for char in text:
        used += width(char)
        if used > limit:
            break
        kept.append(char)
    return "".join(kept).rstrip() + MORE


def split_text(text: str) -> Iterator[str]:
    """The text in pieces of at most 2,048 bytes, cut at a line end where one is near."""
    rest = text.strip() or MORE
    while len(rest.encode("utf-8")) > TEXT_MAX_BYTES:
        head = rest.encode("utf-8")[:TEXT_MAX_BYTES].decode("utf-8", errors="ignore")
        cut = head.rfind("\n")
        if cut < len(head) // 2:
            cut = len(head)
        yield head[:cut].rstrip()
        rest = rest[cut:].lstrip()
    yield rest
