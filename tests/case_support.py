"""Case test helpers: a valid customer, photos, bound agents, fixed moments."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from domain.cases import cases
from domain.cases.capture_gate import CaptureContext
from domain.models import (
    Case,
    ChatBinding,
    PhotoKind,
    Role,
)
from domain.platform.actors import Actor
from domain.platform.errors import DomainError
from tests.factories import operational, person

ZONE = ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=ZONE).astimezone(UTC)
MONDAY_8PM = datetime(2026, 11, 23, 20, 0, tzinfo=ZONE).astimezone(UTC)
ID_NUMBER = "11010519491231002X"
MOBILE = "13812345678"
KINDS = (PhotoKind.ID_FRONT, PhotoKind.ID_BACK, PhotoKind.ONSITE_WITH_AGENT)


@dataclass
class World:
    """An org tree with an agent, reviewers, a business type and a capture context."""

    ids: dict[str, int]
    agent: Actor
    business_type_id: int
    ctx: CaptureContext


def noisy_jpeg(seed: int) -> bytes:
    """A sharp, mid-grey 1200×900 JPEG of random noise, different per seed."""
    rng = random.Random(seed)
    pixels = bytes(rng.randrange(40, 216) for _ in range(1200 * 900))
    out = io.BytesIO()
    Image.frombytes("L", (1200, 900), pixels).convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()


async def bound_agent(org_id: int, no: str) -> Actor:
    """A field agent with a Telegram binding (Q6), qualified and holding a tablet (Q1, D2)."""
    row, actor = await person(org_id, Role.FIELD_AGENT, no=no)
    await ChatBinding.create(staff=row, channel="telegram", external_user_id=f"tg{no}",
                             chat_id=f"tg{no}", bound_at=MONDAY_10AM)
    await operational(row)
    return actor


async def refusal(call, *args, **kwargs) -> DomainError:  # type: ignore[no-untyped-def]
    """The DomainError a service call raises."""
    with pytest.raises(DomainError) as refused:
        await call(*args, **kwargs)
    return refused.value


async def ready_draft(w: World, agent: Actor | None = None, seed: int = 0) -> Case:
    """A draft with customer data, every required photo and the risk hints confirmed."""
    agent = agent or w.agent
    case = await cases.start_draft(agent, w.business_type_id, w.ctx, MONDAY_10AM)
    await cases.set_customer(agent, case.id, "张三", ID_NUMBER, MOBILE, w.ctx)
    for index, kind in enumerate(KINDS):
        await cases.add_photo(agent, case.id, kind, noisy_jpeg(seed * 10 + index),
                              f"{kind}.jpg", "image/jpeg", w.ctx)
    await cases.confirm_risk_hint(agent, case.id)
    return case
