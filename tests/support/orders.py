"""Helpers to build order requests and wait for orders to reach a state."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx


def new_order_id(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def order_request(
    order_id: str | None = None, lines: list[tuple[str, int]] | None = None, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": order_id or new_order_id(),
        "channel": "web",
        "customer": {
            "id": f"C-{uuid.uuid4().hex[:8]}",
            "email": "erika.mustermann@example.org",
            "name": "Erika Mustermann",
            "locale": "de",
        },
        "delivery_address": {
            "name": "Erika Mustermann",
            "street": "Heidestraße 17",
            "postcode": "51147",
            "city": "Köln",
        },
        "lines": [{"sku": sku, "quantity": qty} for sku, qty in (lines or [("TS-0000", 1)])],
        "shipping_speed": "standard",
        "payment_method": "card",
    }
    body.update(overrides)
    return body


async def wait_for_status(
    api: httpx.AsyncClient, order_id: str, statuses: set[str], timeout: float = 30.0
) -> dict[str, Any]:
    """Poll the read model until the order has one of ``statuses``."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = await api.get(f"/orders/{order_id}")
        if r.status_code == 200:
            last = r.json()
            if last["status"] in statuses:
                return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"order {order_id} never reached {statuses}; last: {last.get('status')}")


async def post_event(api: httpx.AsyncClient, shipment_id: str, event: str, **extra: Any) -> None:
    body = {"shipment_id": shipment_id, "event": event, **extra}
    if event == "shipped":
        body.setdefault("carrier", "DHL")
        body.setdefault("tracking_number", f"TRK{shipment_id}")
    r = await api.post("/webhooks/shipments", json=body)
    assert r.status_code == 202, r.text


async def ship_and_deliver(api: httpx.AsyncClient, shipment_id: str) -> None:
    await post_event(api, shipment_id, "shipped")
    await post_event(api, shipment_id, "delivered")


async def wait_for_event(
    api: httpx.AsyncClient, order_id: str, event_type: str, timeout: float = 30.0
) -> dict[str, Any]:
    """Poll the order's event log until an event of ``event_type`` shows up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = await api.get(f"/orders/{order_id}")
        if r.status_code == 200:
            for event in r.json()["events"]:
                if event["type"] == event_type:
                    return r.json()
        await asyncio.sleep(0.2)
    raise AssertionError(f"order {order_id} never logged {event_type}")
