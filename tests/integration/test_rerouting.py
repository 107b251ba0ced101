"""Re-routing on the real engine: a location goes offline or refuses, the order carries on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlmodel import select
from temporalio.client import Client

from activities.masterdata import audit
from api.app import create_app
from core.db.engine import session_scope
from core.db.schema import Location, PaymentTransaction, Reservation, Sku, Stock
from core.settings import Settings
from tests.support.auth import client_for
from tests.support.histories import keep
from tests.support.orders import order_request, wait_for_status
from tests.support.smtp import Inbox
from worker import build_worker


@pytest.fixture
async def slow_api(settings: Settings, temporal_client: Client) -> AsyncIterator[httpx.AsyncClient]:
    """API and worker on their own task queue with a slow payment provider: an order sits
    routed and reserved, but not yet released, for a few seconds."""
    slow = settings.model_copy(
        update={"task_queue": f"slow-{uuid.uuid4().hex[:8]}", "payment_sim_latency_ms": 4000}
    )
    with ThreadPoolExecutor(max_workers=20) as executor:
        async with (
            build_worker(temporal_client, slow, executor),
            client_for(create_app(slow, temporal_client), slow) as c,
        ):
            yield c


async def _ship_all(api: httpx.AsyncClient, order: dict) -> None:
    for s in order["shipments"]:
        if s["status"] == "rerouted":
            continue
        for event in (
            {"event": "shipped", "carrier": "DHL", "tracking_number": "RR1"},
            {"event": "delivered"},
        ):
            r = await api.post(
                "/webhooks/shipments", json={"shipment_id": s["shipment_id"], **event}
            )
            assert r.status_code == 202, r.text


def _reservations(url: str, order_id: str) -> list[Reservation]:
    with session_scope(url) as s:
        return list(s.exec(select(Reservation).where(Reservation.order_id == order_id)).all())


async def test_location_offline_after_routing_reroutes_unreleased_shipment(
    slow_api: httpx.AsyncClient, settings: Settings, inbox: Inbox, temporal_client: Client
) -> None:
    body = order_request(lines=[("TS-0024", 1)])
    order_id = body["order_id"]
    assert (await slow_api.post("/orders", json=body)).status_code == 202
    routed = await wait_for_status(slow_api, order_id, {"confirmed", "payment_authorised"})
    assert routed["status"] == "confirmed", "payment finished before the test could act"
    [first] = routed["shipments"]
    assert first["status"] == "reserved"
    offline = first["location_id"]
    try:
        r = await slow_api.post(f"/ops/locations/{offline}/offline", json={"reason": "flooded"})
        assert r.status_code == 200, r.text
        assert order_id in r.json()["orders_rerouted"]

        order = await wait_for_status(slow_api, order_id, {"in_fulfilment"}, timeout=60)
        by_id = {s["shipment_id"]: s for s in order["shipments"]}
        assert by_id[first["shipment_id"]]["status"] == "rerouted"
        live = [s for s in order["shipments"] if s["status"] != "rerouted"]
        assert live and all(s["location_id"] != offline and s["status"] == "released" for s in live)
        reservations = _reservations(settings.database_url, order_id)
        assert {r.status for r in reservations if r.location_id == offline} == {"released"}
        assert sum(r.quantity for r in reservations if r.status == "active") == 1
        assert any(e["type"] == "reroute_1" for e in order["events"])

        await _ship_all(slow_api, order)
        done = await wait_for_status(slow_api, order_id, {"completed"})
        await keep(temporal_client, f"order-{order_id}", "rerouted_location_offline")
    finally:
        await slow_api.post(f"/ops/locations/{offline}/online")
    with session_scope(settings.database_url) as s:
        flags = [
            (e.actor, e.before and e.before["online"], e.after and e.after["online"])
            for e in audit.entries(s, "location", offline, limit=2)
        ]
    assert flags[1] == ("location outage workflow", True, False)  # audited, oldest second
    assert flags[0][0].startswith("key ") and flags[0][1:] == (False, True)
    with session_scope(settings.database_url) as s:
        captured = sum(
            t.amount_cents
            for t in s.exec(
                select(PaymentTransaction).where(
                    PaymentTransaction.order_id == order_id, PaymentTransaction.kind == "capture"
                )
            ).all()
        )
    assert captured == done["total_cents"]
    moved_later = live[0]["promised_delivery"] > first["promised_delivery"]
    updates = [m for m in inbox.for_order(order_id) if "Neuer Liefertermin" in str(m["Subject"])]
    assert len(updates) == (1 if moved_later else 0)


async def test_location_rejecting_a_released_shipment_gets_it_rerouted(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    body = order_request(lines=[("HO-0023", 1)])
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, order_id, {"in_fulfilment"})
    [first] = order["shipments"]
    r = await api.post(
        "/webhooks/shipments",
        json={
            "shipment_id": first["shipment_id"],
            "event": "rejected",
            "reason": "not found on shelf",
        },
    )
    assert r.status_code == 202

    for _ in range(100):
        order = (await api.get(f"/orders/{order_id}")).json()
        if len(order["shipments"]) == 2 and all(
            s["status"] in ("rerouted", "released") for s in order["shipments"]
        ):
            break
        await asyncio.sleep(0.1)
    old, new = sorted(order["shipments"], key=lambda s: s["shipment_id"])
    assert old["status"] == "rerouted" and new["status"] == "released"
    assert new["location_id"] != first["location_id"]
    await _ship_all(api, order)
    await wait_for_status(api, order_id, {"completed"})


async def test_reroute_without_alternative_cancels_and_compensates(
    api: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    sku = f"ONLY-{uuid.uuid4().hex[:6]}"
    with session_scope(settings.database_url) as s:
        loc = s.exec(select(Location).where(Location.kind == "warehouse")).first()
        assert loc is not None
        s.add(Sku(sku=sku, name="Einzelstück", price_cents=4999))
        s.flush()
        s.add(Stock(location_id=loc.id, sku=sku, on_hand=1))
    body = order_request(lines=[(sku, 1)])
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, order_id, {"in_fulfilment"})
    await api.post(
        "/webhooks/shipments",
        json={"shipment_id": order["shipments"][0]["shipment_id"], "event": "rejected"},
    )
    order = await wait_for_status(api, order_id, {"cancelled"})
    assert "re-route" in order["events"][-1]["detail"]["reason"]
    with session_scope(settings.database_url) as s:
        assert s.get(Stock, (loc.id, sku)).reserved == 0  # type: ignore[union-attr]
        kinds = [
            t.kind
            for t in s.exec(
                select(PaymentTransaction).where(PaymentTransaction.order_id == order_id)
            ).all()
        ]
    assert sorted(kinds) == ["authorise", "void"]
    assert any("storniert" in str(m["Subject"]) for m in inbox.for_order(order_id))
