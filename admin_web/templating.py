"""The Jinja2 environment: autoescape, gettext of the request's locale, display filters."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from admin_web.i18n import current_locale, gettext, ngettext, pgettext
from admin_web.menu import menu_for
from admin_web.words import word_filter, words_filter
from domain.cases.business_types import PHOTO_KIND_LABELS
from domain.models import BusinessType, Org, OrgLevel, PhotoKind, Role
from domain.oversight.person_history import reads_people
from domain.people.channel_choice import CHANNEL_LABELS
from domain.people.duties import ROLE_LABELS
from domain.people.orgs import LEVEL_LABELS
from domain.platform.actors import person_label
from domain.platform.clock import business_time
from domain.vouchers.voucher_names import box_label, label_of

TEMPLATE_DIR = Path(__file__).parent / "templates"


def role_label(role: str) -> str:
    """The translated display name of a role key."""
    return gettext(ROLE_LABELS[Role(role)])


def channel_label(channel: str) -> str:
    """The translated name of a chat channel; a channel without a label keeps its key."""
    label = CHANNEL_LABELS.get(channel)
    return gettext(label) if label else channel


def level_label(level: str) -> str:
    """The translated name of an org level."""
    return gettext(LEVEL_LABELS[OrgLevel(level)])


def photo_kind_label(kind: str) -> str:
    """The translated name of a photo kind."""
    return gettext(PHOTO_KIND_LABELS[PhotoKind(kind)])


def org_name(org: Org) -> str:
    """An org's name in the request's locale (its Chinese name when it has no English one)."""
    return org.name_in(current_locale())


def local_name(business_type: BusinessType) -> str:
    """A business type's name in the request's locale."""
    return business_type.name_in(current_locale())


def detail_text(detail: dict[str, Any]) -> str:
    """An audit detail as compact JSON, Chinese kept readable."""
    return json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else ""


@jinja2.pass_context
def csrf_field(context: jinja2.runtime.Context) -> Markup:
    """The hidden CSRF input every POST form carries."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(
        context["csrf_token"]
    )


def local_time_filter(zone: ZoneInfo) -> Any:
    """A filter showing UTC times in the business time zone."""
    def local_time(value: datetime | None) -> str:
        return business_time(value, zone, current_locale()) if value else ""
    return local_time


def setup_templates(app: web.Application, zone: ZoneInfo) -> None:
    """Install the template environment on the app."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        default_helpers=False,
        filters={"role_label": role_label, "level_label": level_label,
                 "channel_label": channel_label,
                 "local_time": local_time_filter(zone), "detail_text": detail_text,
                 "photo_kind_label": photo_kind_label, "local_name": local_name,
                 "box_label": label_of, "org_name": org_name,
                 "person_label": person_label, "words": words_filter,
                 "word": word_filter},
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True,  # type: ignore[attr-defined]
                                  pgettext=pgettext)
    env.globals.update(csrf_field=csrf_field, menu_for=menu_for, box_label=box_label,
                       role_choices=list(ROLE_LABELS), reads_people=reads_people,
                       photo_kind_choices=list(PHOTO_KIND_LABELS))
