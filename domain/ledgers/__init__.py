"""Ledgers of who may work and with what: qualifications (Q1…) and devices (D1…)."""
