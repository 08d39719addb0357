"""Chat side: channel-neutral flows, channel adapters and the outbox dispatcher."""
