"""Orders: the event log and read model, risk facts, pricing, routing input and output."""
