"""Use cases: each checks permission and rules, writes in one transaction, audits."""
