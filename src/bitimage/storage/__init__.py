"""Object storage: a port, a local signed store, and (later) S3."""
