"""The customer-service console."""
