"""Cases: business types, capture, review, special approvals (C1…)."""
