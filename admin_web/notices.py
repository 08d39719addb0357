"""Notifications as the admin words them (issue 16): the kind in words, the message in the
reader's language, the link to its subject."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from admin_web.i18n import current_locale
from admin_web.i18n import gettext as _
from admin_web.links import subject_link
from domain.models import WebNotice
from domain.platform import web_notices
from domain.platform.actors import Actor
from locales import translate


@dataclass(frozen=True)
class NoticeView:
    """A notice as the list shows it: what happened in words, the message, its link."""

    id: int
    kind: str
    text: str
    link: str | None
    created_at: datetime
    unread: bool


def kind_words(kind: str) -> str:
    """A kind of notification in the reader's words; a kind this version no longer knows
    keeps its code."""
    label = web_notices.KIND_LABELS.get(kind)
    return _(label) if label else kind


def notice_view(actor: Actor, notice: WebNotice) -> NoticeView:
    """A notice translated into the reader's language, linked to its subject's page."""
    try:
        text = translate(current_locale(), notice.template, **notice.params)
        link = subject_link(actor, web_notices.intent_of(notice).subject)
    except (KeyError, TypeError, ValueError):  # a notice of an older version: its words only
        text, link = "", None
    return NoticeView(notice.id, kind_words(notice.kind), text, link, notice.created_at,
                      notice.read_at is None)
