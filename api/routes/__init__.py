"""JSON routes, one module per context."""
