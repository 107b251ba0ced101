"""The OMS's one vocabulary, by concept: orders, shipments, payments, commands, events,
returns. Pure pydantic models and state, no I/O."""
