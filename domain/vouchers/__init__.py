"""Important blank vouchers: stock, allocation, tail boxes, counts, voids, mis-issues (V1…).

Public modules: voucher_stock (types, caps, receipt, allocation), tail_boxes, case_vouchers,
voids, mis_issues, mis_issue_deadlines, voucher_counts (answers, hand-over), day_end_counts,
voucher_reports, voucher_balances; `_ledger` holds the ledger core they share.

Serial states (DESIGN.md section 4):
    in_vault --allocate--> in_box --reserve(case)--> reserved --issue(approval)--> issued
    reserved --release(the agent corrects the serial of his draft)--> in_box
    reserved --to recover(reject, cancel)--> mis_issued --taken back--> in_box
    in_box --return_to_vault--> in_vault
    in_vault | in_box | reserved --report lost--> void_pending (a VoidRequest of kind lost)
    in_box --mis-issue--> mis_issued --recovered--> void_pending (kind mis_issued)
                                     --unrecoverable--> void_pending (kind lost, major)
    void_pending --two signatures--> voided ; --refused--> the state before the request
Every change of a serial is a conditional UPDATE on its expected state plus one
VoucherMovement row, in the transaction that also writes the audit row; a serial is never
in two places and an issued or voided serial never moves again. Balances are counted
from the voucher rows (state + box / org), which the movements explain.
Managing needs VOUCHER_MANAGE (ops_admin) in the actor's org subtree, reading VOUCHER_VIEW.

Decisions:
- Where a serial is: in_vault has no box; in_box and reserved name their box (reserved also
  its case); issued has left the box and keeps its case; void_pending stays recorded at its
  former place until it is voided (no box) or the request is refused. A serial never
  changes org: the vault a box draws from is the vault of the box's own org.
- A range of a Luhn type (card numbers) is given by its first and last full numbers: the
  body without the check digit is counted up and every serial gets its computed check
  digit. Other types count up the numeric tail after a common prefix.
- The cap of an org bounds the boxes of its whole subtree; an allocation must fit every cap
  on the box org's chain and needs at least one (V2: every org has a cap). Serials in a
  box, reserved, or void-pending out of a box all count, since a refused void brings them
  back. The cap rows are locked (SELECT FOR UPDATE on PostgreSQL; SQLite serialises
  writers) and the tally is recounted inside the transaction.
- A frozen box takes no allocation and no reservation; serials already reserved may still
  be issued or released and ops_admin may take serials back to the vault.
- Each operation writes one audit row naming its movements (ids as runs [first, last]).
- A mis-issue (V6) is a serial handed to a customer although the ledger still shows it in
  the tail box (the agent took the wrong card; the serial the case recorded stays as it
  is). It is recorded as a `MisIssue` with a recovery deadline and a mis-issue incident;
  the serial turns mis_issued, still charged to its box (it counts toward the cap and is
  held in the reconciliation until voided) but not expected at a count. Recovered, it is
  voided under a request of kind mis_issued; unrecoverable, it counts as lost: a request of
  kind lost and the incident marked major (Q4). A refused void sends it back to mis_issued
  and the mis-issue back to recovering. A serial the ledger shows issued was handed over
  as recorded and never moves again. Expired serials are voided from the vault only.
- What the box holds physically is its in_box serials only (`tail_boxes.expected_in_box`, the
  one figure of day-end counts, hand-overs and both inspection counts): a reserved serial was
  handed to the customer at capture; mis-issued and void-pending ones are out of the box.
- A rejected or cancelled case cannot put its serial back in the box: the card is with the
  customer. It turns mis_issued under a `MisIssue` of kind case_closed (no incident yet)
  with the recovery deadline, and the holder is asked in chat to take it back. A card the
  customer never used and handed back intact goes back into the box (movement taken_back,
  an entry on the case timeline), as a bank takes back an unused card of a refused
  application; ops management may record the same. If it cannot be taken back it is
  written off like a mis-issue: a mis-issue incident opens then, marked major (Q4), and
  the serial is voided as lost. Correcting the serial of a draft (the serial named first
  never left the box) still releases it into the box.
- A mis-issue deadline is at most the recovery days ahead (a setting, 7 by default, at most
  30); only operations management chooses one, the holder reporting in chat gets the
  default. Reminders before and escalation after it are swept by `mis_issue_deadlines`.
- A loss reported without an incident opens a voucher-loss incident. A refused void puts
  a reserved serial back on its case only while the case is open and holds no other
  reservation; otherwise it goes back into the box.
"""
