"""The platform every area stands on: clock, errors, audit log, outbox, leases, access checks,
actors, calendar, org chains, chat sessions, customer-data privacy, media and identity rules.

Public modules: access, actors, audit, calendar, chains, chat, clock, codes, deadlines, errors,
events (the domain events and their bus), exports, housekeeping, identity, images, intents,
leases, media, outbox, privacy, sweeps, webchat.
"""
