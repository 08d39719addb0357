"""Cases: business types, capture, review, special approvals (C1…).

Public modules: business_types, capture_gate, cases (capture), case_summaries, case_timeline,
case_numbers, case_file, customers, review, review_queue, review_sla, review_desk, review_reasons,
special; `_case_rows` is shared inside the area.
"""
