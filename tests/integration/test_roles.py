"""Every JSON endpoint states its audience; the matrix of roles proves it holds: allowed
roles get past the door, every other caller gets 401 or 403, and nothing changes."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlmodel import func, select
from temporalio.client import Client

from api.app import create_app
from api.http.auth_keys import issue_key, verify_key
from api.http.security import Allow, Role, Signed, Source
from core.db.engine import session_scope
from core.db.schema import (
    ApiKey,
    OrderEvent,
    OrderRecord,
    PaymentTransaction,
    Reservation,
    ShipmentRecord,
    StockHold,
    StockMovement,
)
from core.settings import Settings
from core.signing import sign

OWN_AUTH = (
    "/portal",
    "/console",
    "/dashboard",
    "/my/",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/health",
)
KEYS = {
    Role.SHOP: "roles-shop",
    Role.CUSTOMER_SERVICE: "roles-cs",
    Role.OPERATIONS: "roles-ops",
    Role.LOCATION: "roles-store",
    Role.AGENT: "roles-agent",  # an AI agent's key: the MCP server only, 403 on every route here
}
TABLES = (
    OrderRecord,
    OrderEvent,
    Reservation,
    ShipmentRecord,
    PaymentTransaction,
    StockMovement,
    StockHold,
    ApiKey,
)


def _all_routes(routes: list, prefix: str = "") -> list[tuple[str, APIRoute]]:  # type: ignore[type-arg]
    """(full path, route) of API routes, also inside routers FastAPI includes lazily."""
    out: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):
            out += _all_routes(route.original_router.routes, prefix + route.include_context.prefix)
    return out


def _json_routes(settings: Settings, client: Client) -> list[tuple[str, str, object]]:
    """(method, path, guard) of every JSON endpoint; guard None = nobody declared one."""
    app = create_app(settings, client)
    found = []
    for path, route in _all_routes(app.routes):
        if path.startswith(OWN_AUTH) or not route.include_in_schema:
            continue
        guards = [
            d.dependency for d in route.dependencies if isinstance(d.dependency, Allow | Signed)
        ]
        found.append((sorted(route.methods)[0], path, guards[0] if len(guards) == 1 else None))
    return found


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X-1", path)


def _counts(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        return {t.__name__: s.exec(select(func.count()).select_from(t)).one() for t in TABLES}


@pytest.fixture
def role_keys(settings: Settings) -> dict[Role, str]:
    with session_scope(settings.database_url) as s:
        for role, key in KEYS.items():
            if verify_key(s, key) is None:
                issue_key(
                    s,
                    role=role.value,
                    key=key,
                    label=f"matrix {role.value}",
                    location_id="ST-BERLIN" if role == Role.LOCATION else None,
                )
    return dict(KEYS)


def test_every_json_endpoint_states_who_may_call_it(
    settings: Settings, temporal_client: Client
) -> None:
    routes = _json_routes(settings, temporal_client)
    assert len(routes) > 25
    unguarded = [f"{method} {path}" for method, path, guard in routes if guard is None]
    assert unguarded == []


async def test_role_matrix(
    settings: Settings, temporal_client: Client, role_keys: dict[Role, str]
) -> None:
    app = create_app(settings, temporal_client)
    before = _counts(settings.database_url)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://oms.test"
    ) as http:
        for method, path, guard in _json_routes(settings, temporal_client):
            if not isinstance(guard, Allow):
                continue
            r = await http.request(method, _url(path), json={})
            assert r.status_code == 401, (path, r.status_code)
            for role, key in role_keys.items():
                r = await http.request(method, _url(path), json={}, headers={"X-API-Key": key})
                if role in guard.roles:
                    assert r.status_code not in (401, 403), (path, role, r.text)
                else:
                    assert r.status_code == 403, (path, role, r.status_code)
    assert _counts(settings.database_url) == before


async def test_webhooks_need_the_right_signature(
    settings: Settings, temporal_client: Client
) -> None:
    app = create_app(settings, temporal_client)
    before = _counts(settings.database_url)
    body = json.dumps({"shipment_id": "NOPE-S1", "event": "accepted"}).encode()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://oms.test"
    ) as http:
        for _method, route_path, guard in _json_routes(settings, temporal_client):
            if not isinstance(guard, Signed):
                continue

            def post(headers: dict[str, str], path: str = route_path) -> Any:
                return http.post(
                    path, content=body, headers={"content-type": "application/json", **headers}
                )

            assert (await post({})).status_code == 401
            assert (await post({"X-OMS-Signature": "sha256=00"})).status_code == 403
            assert (await post({"X-API-Key": KEYS[Role.OPERATIONS]})).status_code == 401
            for source in Source:
                signed = {"X-OMS-Signature": sign(settings.webhook_secret(source), body)}
                r = await post(signed)
                if source in guard.sources:
                    assert r.status_code not in (401, 403), (route_path, source, r.text)
                else:
                    assert r.status_code == 403, (route_path, source)
    assert _counts(settings.database_url) == before


async def test_a_store_key_hands_over_only_at_its_own_store(
    settings: Settings, temporal_client: Client, role_keys: dict[Role, str]
) -> None:
    app = create_app(settings, temporal_client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://oms.test"
    ) as http:
        r = await http.post(
            "/orders/X-1/pickup",
            headers={"X-API-Key": KEYS[Role.LOCATION]},
            json={"location_id": "ST-HAMBURG", "code": "123456", "staff": "x"},
        )
        assert r.status_code == 403 and "own location" in r.text
        r = await http.post(
            "/orders/X-1/pickup",
            headers={"X-API-Key": KEYS[Role.LOCATION]},
            json={"location_id": "ST-BERLIN", "code": "123456", "staff": "x"},
        )
        assert r.status_code == 404  # its own store: past the door, the order is unknown
