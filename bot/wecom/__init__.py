"""WeCom (企业微信) channel adapter (issue 15): the chat a Chinese bank's field staff have.

A WeCom self-built app (自建应用) talks to FieldOps through its callback URL: WeCom verifies
the URL with a signed `GET` and posts each message or event as encrypted, signed XML; the app
answers through WeCom's HTTP API (`message/send`, template cards, `media/get`, with an access
token). Like `bot.telegram`, the adapter is a thin edge over the channel-neutral flows.

What exists so far:
- `bot.wecom.crypt` — the message crypt: URL verification, decrypting callbacks, encrypting
  replies, with every refusal typed (`bot.wecom.errors`) and replays refused on the clock;
- `bot.wecom.inbound` — the callback XML read with a hardened parser into `WeComInbound`
  values with their dedupe keys.

To follow (later sessions): the API client (access token shared through the database, send,
template cards and their updates, media, menu), the callback route served by `fieldops run`,
the binding of WeCom user ids, and the fake WeCom API server for the tests.
"""

from bot.wecom.crypt import WeComCrypt, aes_key
from bot.wecom.errors import BadSetting, CallbackRefused
from bot.wecom.inbound import WeComInbound, parse_inbound

__all__ = ["BadSetting", "CallbackRefused", "WeComCrypt", "WeComInbound", "aes_key",
           "parse_inbound"]
