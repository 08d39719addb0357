"""Oversight: inspections, callbacks, off-site case audits and the dashboard (K1…, S1…)."""
