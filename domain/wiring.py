"""Wiring of the domain events: which area's handler reacts to which event (DESIGN.md §3).

CaseApproved (cases.review.approve)   -> vouchers.case_vouchers: the reserved serial is issued
CaseRejected (cases.review.reject)    -> vouchers.mis_issues: the serial is to be taken back
CaseCancelled (cases.cases.cancel)    -> vouchers.mis_issues: the serial is to be taken back
DeviceLost (ledgers.incidents)        -> vouchers.tail_boxes: the tablet's tail box is frozen
VouchersLost (ledgers.incidents)      -> vouchers.voids: the serials go void-pending
CaseVoucherMoved (vouchers: reserve, issue, release, recovery, take back)
                                      -> cases.case_timeline: the entry on the case timeline
"""

from __future__ import annotations

from domain.cases import case_timeline
from domain.platform import events
from domain.platform.events import (
    CaseApproved,
    CaseCancelled,
    CaseRejected,
    CaseVoucherMoved,
    DeviceLost,
    VouchersLost,
)
from domain.vouchers import case_vouchers, mis_issues, tail_boxes, voids


def wire_events() -> None:
    """Subscribe every area's handlers on the process's bus, once; calling it again changes
    nothing. The composition root and the test harness call it before any use case runs."""
    events.subscribe(CaseApproved, case_vouchers.issue_on_approval)
    events.subscribe(CaseRejected, mis_issues.recover_for_closing_case)
    events.subscribe(CaseCancelled, mis_issues.recover_for_closing_case)
    events.subscribe(DeviceLost, tail_boxes.freeze_box_of_lost_device)
    events.subscribe(VouchersLost, voids.void_lost_serials)
    events.subscribe(CaseVoucherMoved, case_timeline.record_voucher_step)
    events.bus.mark_wired()
