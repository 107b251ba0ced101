"""Helpers for the store and vendor portal tests: keys, stocked SKUs, orders, form tokens."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from api.http.auth_keys import LOCATION, issue_key
from core.db.engine import session_scope
from core.db.schema import ShipmentRecord, Sku, Stock
from tests.support.orders import order_request, wait_for_status


def portal_key(url: str, location_id: str, label: str = "") -> str:
    with session_scope(url) as s:
        return issue_key(s, LOCATION, location_id, label or f"test {location_id}")[1]


def stocked_sku(
    url: str, stock: dict[str, int], name: str = "Testartikel", price_cents: int = 2500
) -> str:
    """A new SKU stocked only where ``stock`` says (so routing must pick that location)."""
    sku = f"PRT-{uuid.uuid4().hex[:8].upper()}"
    with session_scope(url) as s:
        s.add(Sku(sku=sku, name=name, price_cents=price_cents, weight_kg=0.8))
        s.flush()
        for location_id, qty in stock.items():
            s.add(Stock(location_id=location_id, sku=sku, on_hand=qty))
    return sku


def add_stock(url: str, location_id: str, sku: str, qty: int) -> None:
    with session_scope(url) as s:
        s.add(Stock(location_id=location_id, sku=sku, on_hand=qty))


async def place_released(
    api: httpx.AsyncClient, lines: list[tuple[str, int]], **overrides: Any
) -> dict[str, Any]:
    """An order placed through the API, once its shipments are released to the locations."""
    body = order_request(lines=lines, **overrides)
    r = await api.post("/orders", json=body)
    assert r.status_code == 202, r.text
    return await wait_for_status(api, body["order_id"], {"in_fulfilment"})


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no form token on the page"
    return found.group(1)


def shipment_status(url: str, shipment_id: str) -> tuple[str, str]:
    """(status, tracking number) in the read model."""
    with session_scope(url) as s:
        rec = s.get(ShipmentRecord, shipment_id)
        assert rec is not None
        return rec.status, rec.tracking_number


async def signals_received(client: Client, order_id: str) -> int:
    """How many signals the order's workflow has received: proof that nothing was sent."""
    n = 0
    async for event in client.get_workflow_handle(f"order-{order_id}").fetch_history_events():
        n += event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    return n
