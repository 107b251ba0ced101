"""API clients for tests: a key with the roles the tests act in, webhooks signed."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from api.http.auth_keys import issue_key, verify_key
from core.db.engine import session_scope
from core.settings import Settings
from devstack.client import OmsAuth

ALL_ROLES_KEY = "test-key-shop-cs-ops"


def ensure_keys(settings: Settings) -> None:
    """The tests' key: shop, customer service and operations at once."""
    with session_scope(settings.database_url) as s:
        if verify_key(s, ALL_ROLES_KEY) is None:
            issue_key(s, role="shop,customer_service,operations", label="tests", key=ALL_ROLES_KEY)


def client_for(app: FastAPI, settings: Settings, key: str = ALL_ROLES_KEY) -> httpx.AsyncClient:
    ensure_keys(settings)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://oms.test",
        auth=OmsAuth(key, settings),
    )
