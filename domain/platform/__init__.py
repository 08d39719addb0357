"""The platform every area stands on: clock, errors, audit log, outbox, leases, access checks,
actors, calendar, org chains, chat sessions, customer-data privacy, media and identity rules."""
