"""/scan: what a printed QR label names, in any chat channel (D1, V1).

`/scan CODE` answers a tablet's state and holder, or a tail box's holder and balance per
voucher type (hidden from the holder while his count waits, V3), for whoever may see the
item (`domain.vouchers.scan_codes`). A label's QR carries the site's `/scan/CODE` address,
so a keyboard-wedge scanner or a phone's QR app types or pastes that address: sent while no
step waits for text, it is read as `/scan CODE`. A bare code is not: typed by mistake where
a step is not waiting, any text (a customer's number, say) would become a look-up.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from bot.flows.common import chat_actor
from bot.flows.turn import Outcome, Step, Turn, answer
from domain.models import DeviceState
from domain.platform.errors import N_
from domain.platform.status_labels import status_label
from domain.vouchers import scan_codes
from locales import translations

# the address a label's QR carries, as a scanner types it or a phone pastes it
LABEL_ADDRESS = re.compile(r"https?://[^\s/]+(?:/[^\s/]+)*/scan/(?P<code>[^\s/?#]+)/?",
                           re.ASCII)
SEND_CODE = N_("Send /scan followed by the code on the label (the asset tag of a tablet, "
               "BOX- and the asset tag for a tail box), or scan the label's QR code.")
TABLET = N_("Tablet %(asset_tag)s (%(model)s), %(org)s: %(state)s. Holder: %(holder)s.")
BOX = N_("Tail box of tablet %(asset_tag)s, %(org)s. Holder: %(holder)s.")
FROZEN = N_("The box is frozen.")
BLIND = N_("The figures are hidden until you have given your count.")
EMPTY = N_("The box holds no voucher.")
NOBODY = N_("nobody")


def label_code(text: str) -> str | None:
    """The code in a label's address (`https://…/scan/CODE`), None for any other text."""
    found = LABEL_ADDRESS.fullmatch(text.strip())
    return unquote(found["code"]) if found else None


async def scan_command(turn: Turn) -> Outcome:
    """/scan CODE (or /scan and a label's address): the item's short status."""
    typed = " ".join(turn.inbound.args)
    if not typed:
        return answer(Step.IDLE, turn._(SEND_CODE))
    return await status(turn, label_code(typed) or typed)


async def scanned_address(turn: Turn) -> Outcome:
    """A label's address sent while no step waits for text: read as /scan CODE."""
    return await status(turn, label_code(turn.inbound.text) or "")


async def status(turn: Turn, code: str) -> Outcome:
    """The status of the tablet or tail box the code names, within the sender's scope."""
    actor = await chat_actor(turn)
    found = await scan_codes.find_scanned(actor, code)
    holder = turn._(NOBODY)
    if found.tablet is not None:
        tablet = found.tablet
        state = translations(turn.locale).pgettext(*status_label(DeviceState, tablet.state))
        if tablet.holder is not None:
            holder = f"{tablet.holder.employee_no} {tablet.holder.name}"
        return answer(Step.IDLE, turn._(TABLET, asset_tag=tablet.asset_tag, model=tablet.model,
                                        org=tablet.org.name, state=state, holder=holder))
    box = await scan_codes.box_balance(actor, found.box)  # type: ignore[arg-type]
    lines = [turn._(BOX, asset_tag=box.label, org=found.org.name,
                    holder=box.holder or holder)]
    if box.frozen:
        lines.append(turn._(FROZEN))
    if box.blind:
        lines.append(turn._(BLIND))
    else:
        lines += [f"{kind.name_in(turn.locale)}: {n}" for kind, n in box.balance] or [
            turn._(EMPTY)]
    return answer(Step.IDLE, "\n".join(lines))


COMMANDS = {"scan": scan_command}
