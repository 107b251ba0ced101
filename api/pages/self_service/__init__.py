"""The customer's self-service page, reached by a signed link."""
