"""Settings of the WeCom channel (issue 15), read from `FIELDOPS_WECOM_*` by `wecom_config`.

The channel is off (None) while none of its settings is set, like Telegram without a token.
A setting that cannot work — one missing while others are set, an agent id that is not a
number, an EncodingAESKey that is not 43 base64 characters (checked by `bot.wecom.crypt`), an
API address that is not http(s) — raises `BadSetting`, one line naming the setting, so
start-up stops with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from bot.wecom.crypt import WeComCrypt, aes_key
from bot.wecom.errors import BadSetting

DEFAULT_API_BASE_URL = "https://qyapi.weixin.qq.com"
DEFAULT_CALLBACK_PATH = "/wecom/callback"
# WeCom's limits: 30 messages a minute to one member (a gap of 2 s), a few thousand API calls
# a minute per app; 20 a second overall leaves room for the token, card updates and recalls.
DEFAULT_PER_SECOND = 20.0
DEFAULT_USER_GAP_SECONDS = 2.0
# A callback whose timestamp is further from now than this is refused as a replay.
DEFAULT_REPLAY_SECONDS = 300
REQUIRED = ("corp_id", "agent_id", "secret", "token", "aes_key")


class WeComSettings(Protocol):
    """The fields of `fieldops.settings.Settings` the WeCom channel reads."""

    wecom_corp_id: str
    wecom_agent_id: str
    wecom_secret: str
    wecom_token: str
    wecom_aes_key: str
    wecom_api_base_url: str
    wecom_callback_path: str
    wecom_per_second: float
    wecom_user_gap_seconds: float
    wecom_replay_seconds: int


@dataclass(frozen=True)
class WeComConfig:
    """A WeCom self-built app: corp id, agent id, app secret, callback token and AES key, the
    API address (a private deployment or the tests set their own), the callback path and
    the replay window of callbacks. `repr` shows no secret."""

    corp_id: str
    agent_id: int
    secret: str = field(repr=False)
    token: str = field(repr=False)
    aes_key: str = field(repr=False)
    api_base_url: str = DEFAULT_API_BASE_URL
    callback_path: str = DEFAULT_CALLBACK_PATH
    per_second: float | None = DEFAULT_PER_SECOND  # None: no overall limit (tests)
    user_gap_seconds: float = DEFAULT_USER_GAP_SECONDS
    replay_seconds: int = DEFAULT_REPLAY_SECONDS

    def crypt(self) -> WeComCrypt:
        """The app's message crypt, refusing callbacks outside the replay window."""
        return WeComCrypt(self.token, self.aes_key, self.corp_id,
                          max_age=timedelta(seconds=self.replay_seconds))


def wecom_config(settings: WeComSettings) -> WeComConfig | None:
    """The WeCom channel's settings, None when the channel is off (issue 15: none set); a
    `BadSetting` naming the first setting that cannot work."""
    values = {name: getattr(settings, f"wecom_{name}").strip() for name in REQUIRED}
    if not any(values.values()):
        return None
    for name, value in values.items():
        if not value:
            raise BadSetting(f"{_env(name)}: must be set when the other FIELDOPS_WECOM_* "
                             "settings are (the WeCom channel needs all of them)")
    if not values["agent_id"].isdecimal():
        raise BadSetting(f"{_env('agent_id')}: must be the AgentId of the WeCom app, a number")
    aes_key(values["aes_key"])
    base = settings.wecom_api_base_url.strip().rstrip("/") or DEFAULT_API_BASE_URL
    if not base.startswith(("https://", "http://")):
        raise BadSetting(f"{_env('api_base_url')}: must be an http(s) URL")
    path = settings.wecom_callback_path.strip() or DEFAULT_CALLBACK_PATH
    if not path.startswith("/"):
        raise BadSetting(f"{_env('callback_path')}: must be a path starting with /")
    return WeComConfig(corp_id=values["corp_id"], agent_id=int(values["agent_id"]),
                       secret=values["secret"], token=values["token"],
                       aes_key=values["aes_key"], api_base_url=base, callback_path=path,
                       per_second=settings.wecom_per_second,
                       user_gap_seconds=settings.wecom_user_gap_seconds,
                       replay_seconds=settings.wecom_replay_seconds)


def _env(name: str) -> str:
    return f"FIELDOPS_WECOM_{name.upper()}"
