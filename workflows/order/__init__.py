"""The order workflow: one durable workflow per order."""
