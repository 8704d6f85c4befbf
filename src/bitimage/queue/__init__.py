"""Analysis jobs: the outbox table written with each confirmation, and the queues that feed workers."""
