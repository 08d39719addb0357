"""Oversight: inspections, callbacks, off-site case audits and the dashboard (K1…, S1…).

Public modules: inspections, inspection_deadlines, inspection_reports, callbacks,
callback_calendar, callback_deadlines, callback_reports, case_audits, dashboard,
search (one search over every area's records).
"""
