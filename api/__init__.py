"""The HTTP API (FastAPI): shop, webhooks, order look-ups, health. OpenAPI docs at /docs."""
