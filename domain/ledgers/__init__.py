"""Ledgers of who may work and with what: qualifications (Q1…) and devices (D1…).

Public modules: qualifications, qualification_basis, idle_accounts, major_incidents,
ledger_csv, devices, device_imports, incidents (loss reports); `_staff_records` and `_fields`
are shared inside the area.
"""
