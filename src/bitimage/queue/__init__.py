"""Analysis jobs: the outbox table written at each confirmation, and the queues of workers."""
