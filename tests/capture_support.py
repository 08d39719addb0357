"""Capture-wizard test helpers: a capture driven to its summary."""

from __future__ import annotations

from datetime import time

from domain.cases.capture_gate import WorkingHours
from domain.models import (
    PhotoKind,
)
from tests.case_support import noisy_jpeg
from tests.chat_driver import Chat, Said

ALWAYS = WorkingHours(weekdays=frozenset(range(7)), start=time(0, 0), end=time(23, 59, 59))
KINDS = frozenset({PhotoKind.ID_FRONT, PhotoKind.ID_BACK, PhotoKind.ONSITE_WITH_AGENT})
TYPE = "Debit card opening"
ID_NUMBER = "11010519491231002X"
MOBILE = "13812345678"
NAME_PROMPT = "Enter the customer's full name as printed on the ID card."
ID_PROMPT = "Enter the customer's 18-character resident ID number."
MOBILE_PROMPT = "Enter the customer's own mobile number."
LOCATION_PROMPT = "Share the location of the visit"
FRONT_PROMPT = "Send a photo of the ID card portrait side"
BACK_PROMPT = "Send a photo of the ID card national emblem side."
ONSITE_PROMPT = "Send an on-site photo of you together with the customer."
RISK_BUTTON = "I gave the risk hints"


async def start_case(chat: Chat) -> Said:
    """/new and choose the business type: the name is asked."""
    types = await chat.say("/new")
    said = await chat.press(types.buttons[TYPE])
    assert NAME_PROMPT in said.text
    return said


async def enter_customer(chat: Chat) -> Said:
    """Name, ID number and mobile typed in turn."""
    assert ID_PROMPT in (await chat.say("张三")).text
    assert MOBILE_PROMPT in (await chat.say(ID_NUMBER)).text
    return await chat.say(MOBILE)


async def capture_to_summary(chat: Chat, seed: int = 0) -> Said:
    """A whole case up to its summary; the emblem side is sent as a file."""
    await start_case(chat)
    assert LOCATION_PROMPT in (await enter_customer(chat)).text
    assert FRONT_PROMPT in (await chat.location(31.2304, 121.4737)).text
    assert BACK_PROMPT in (await chat.photo(noisy_jpeg(seed))).text
    said = await chat.file(noisy_jpeg(seed + 1), "back.jpg", "image/jpeg")
    assert ONSITE_PROMPT in said.text
    risk = await chat.photo(noisy_jpeg(seed + 2))
    assert "e-banking" in risk.text
    return await chat.press(risk.buttons[RISK_BUTTON])
