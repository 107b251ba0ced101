"""Customer-service actions through the HTTP API on the real engine: partial cancel, cancel,
modify; refusals that change nothing."""

from __future__ import annotations

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from core.settings import Settings
from tests.support.catalogue import active_reservations, make_sku, stock_of, warehouses
from tests.support.histories import keep
from tests.support.money import amounts
from tests.support.orders import (
    order_request,
    post_event,
    ship_and_deliver,
    wait_for_event,
    wait_for_status,
)

AGENT = {"agent": "cs-anna", "reason": "customer called"}


async def _update_events(client: Client, order_id: str) -> int:
    history = await client.get_workflow_handle(f"order-{order_id}").fetch_history()
    return sum(
        1
        for e in history.events
        if e.event_type
        in (
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
        )
    )


async def _split_order(api: httpx.AsyncClient, settings: Settings) -> tuple[dict, str, str]:
    """An order whose two lines can only come from two different warehouses."""
    wh = warehouses(settings.database_url)
    sku_a = make_sku(settings.database_url, {wh[0]: 5}, price_cents=1999)
    sku_b = make_sku(settings.database_url, {wh[1]: 5}, price_cents=3450)
    body = order_request(lines=[(sku_a, 1), (sku_b, 2)])
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    assert len(order["shipments"]) == 2
    return order, sku_a, sku_b


async def test_partial_cancel_cancels_only_the_unshipped_part(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    order, sku_a, sku_b = await _split_order(api, settings)
    order_id = order["order_id"]
    ships = {s["lines"][0]["sku"]: s for s in order["shipments"]}
    shipped, unshipped = ships[sku_a], ships[sku_b]
    await post_event(api, shipped["shipment_id"], "shipped")
    await wait_for_status(api, order_id, {"partially_shipped"})

    # Refused, and no trace: the shipped line, or more than is left of the other one.
    for lines in ([{"line_id": "L1", "quantity": 1}], [{"line_id": "L2", "quantity": 3}]):
        before = await _update_events(temporal_client, order_id)
        r = await api.post(f"/orders/{order_id}/cancel-lines", json={**AGENT, "lines": lines})
        assert r.status_code == 409, r.text
        assert "unshipped unit" in r.json()["detail"]
        assert await _update_events(temporal_client, order_id) == before

    r = await api.post(
        f"/orders/{order_id}/cancel-lines",
        json={**AGENT, "lines": [{"line_id": "L2", "quantity": 2}]},
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["voided_cents"] == 2 * 3450 and result["refunded_cents"] == 0
    assert result["total_cents"] == 1999 + 495

    location_b = unshipped["location_id"]
    assert stock_of(settings.database_url, location_b, sku_b) == (5, 0)
    assert stock_of(settings.database_url, shipped["location_id"], sku_a) == (4, 0)
    await post_event(api, shipped["shipment_id"], "delivered")
    done = await wait_for_status(api, order_id, {"completed"})
    assert {s["shipment_id"]: s["status"] for s in done["shipments"]} == {
        shipped["shipment_id"]: "delivered",
        unshipped["shipment_id"]: "cancelled",
    }
    money = amounts(settings.database_url, order_id)
    assert money["authorise"] == 1999 + 2 * 3450 + 495
    assert money["capture"] == 1999 + 495
    assert money["void"] == 2 * 3450
    assert money["capture"] + money["void"] == money["authorise"]
    await keep(temporal_client, f"order-{order_id}", "partial_cancel_after_split")
    event = next(e for e in done["events"] if e["type"] == "lines_cancelled_1")
    assert event["actor"] == "cs-anna"
    assert done["total_cents"] == 1999 + 495


async def test_cancel_after_everything_shipped_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    body = order_request(lines=[("TS-0030", 1)])
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, order_id, {"in_fulfilment"})
    for s in order["shipments"]:
        await post_event(api, s["shipment_id"], "shipped")
    before = await wait_for_status(api, order_id, {"shipped"})
    money = amounts(settings.database_url, order_id)
    updates = await _update_events(temporal_client, order_id)

    r = await api.post(f"/orders/{order_id}/cancel", json=AGENT)
    assert r.status_code == 409
    assert "already shipped" in r.json()["detail"]
    after = (await api.get(f"/orders/{order_id}")).json()
    assert after["status"] == "shipped" and after["events"] == before["events"]
    assert amounts(settings.database_url, order_id) == money
    assert await _update_events(temporal_client, order_id) == updates
    for s in order["shipments"]:
        await post_event(api, s["shipment_id"], "delivered")
    await wait_for_status(api, order_id, {"completed"})


async def test_cancel_before_shipping_releases_stock_and_voids(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    wh = warehouses(settings.database_url)[0]
    sku = make_sku(settings.database_url, {wh: 3}, price_cents=1000)
    body = order_request(lines=[(sku, 2)])
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    await wait_for_status(api, order_id, {"in_fulfilment"})
    r = await api.post(f"/orders/{order_id}/cancel", json=AGENT)
    assert r.status_code == 200, r.text
    assert r.json()["voided_cents"] == 2 * 1000 + 495
    order = await wait_for_status(api, order_id, {"cancelled"})
    assert stock_of(settings.database_url, wh, sku) == (3, 0)
    assert [s["status"] for s in order["shipments"]] == ["cancelled"]
    again = await api.post(f"/orders/{order_id}/cancel", json=AGENT)  # a retry: same answer
    assert again.status_code == 200 and again.json()["voided_cents"] == 0
    assert again.json()["message"] == "order already cancelled"


async def test_address_change_after_release_is_refused(
    api: httpx.AsyncClient, temporal_client: Client
) -> None:
    body = order_request(lines=[("TS-0036", 1)])
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    before = await wait_for_status(api, order_id, {"in_fulfilment"})
    updates = await _update_events(temporal_client, order_id)
    r = await api.post(
        f"/orders/{order_id}/modify",
        json={
            **AGENT,
            "delivery_address": {
                "name": "Erika Mustermann",
                "street": "Neue Straße 5",
                "postcode": "20095",
                "city": "Hamburg",
            },
        },
    )
    assert r.status_code == 409
    assert "already released" in r.json()["detail"]
    after = (await api.get(f"/orders/{order_id}")).json()
    assert after["delivery_address"] == before["delivery_address"]
    assert await _update_events(temporal_client, order_id) == updates


async def test_quantity_change_before_release_reroutes_and_rereserves(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    wh = warehouses(settings.database_url)
    # One unit in the first warehouse, three in the second: 1 fits the first, 3 do not.
    sku = make_sku(settings.database_url, {wh[0]: 1, wh[1]: 3}, price_cents=2000)
    body = order_request(lines=[(sku, 1)], payment_method="prepayment")
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, order_id, {"awaiting_payment"})
    [first] = order["shipments"]

    r = await api.post(
        f"/orders/{order_id}/modify", json={**AGENT, "lines": [{"sku": sku, "quantity": 3}]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["total_cents"] == 3 * 2000 + 495
    order = (await api.get(f"/orders/{order_id}")).json()
    statuses = {s["shipment_id"]: (s["status"], s["location_id"]) for s in order["shipments"]}
    assert statuses[first["shipment_id"]][0] == "cancelled"
    live = [s for s in order["shipments"] if s["status"] == "reserved"]
    assert [s["location_id"] for s in live] == [wh[1]]
    assert [
        (r.location_id, r.quantity) for r in active_reservations(settings.database_url, order_id)
    ] == [(wh[1], 3)]
    assert stock_of(settings.database_url, wh[0], sku) == (1, 0)
    assert order["total_cents"] == 3 * 2000 + 495 and order["lines"][0]["quantity"] == 3

    r = await api.post(
        "/webhooks/payments",
        json={"order_id": order_id, "payment_id": "BANK-1", "amount_cents": 3 * 2000 + 495},
    )
    assert r.status_code == 202
    order = await wait_for_status(api, order_id, {"in_fulfilment"})
    await ship_and_deliver(api, live[0]["shipment_id"])
    await wait_for_status(api, order_id, {"completed"})
    await keep(temporal_client, f"order-{order_id}", "prepayment_modified_then_paid")


async def test_modification_with_unknown_sku_is_422_and_changes_nothing(
    api: httpx.AsyncClient,
) -> None:
    body = order_request(lines=[("TS-0042", 1)], payment_method="prepayment")
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    await wait_for_status(api, order_id, {"awaiting_payment"})
    r = await api.post(
        f"/orders/{order_id}/modify", json={**AGENT, "lines": [{"sku": "NOPE-9", "quantity": 1}]}
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "lines", 0, "sku"]
    r = await api.post(f"/orders/{order_id}/cancel", json=AGENT)  # clean up
    assert r.status_code == 200


async def test_order_placed_on_behalf_records_the_agent(api: httpx.AsyncClient) -> None:
    body = order_request(lines=[("TS-0048", 1)], channel="phone")
    r = await api.post("/cs/orders", json={**body, "agent": "cs-bernd"})
    assert r.status_code == 202, r.text
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    placed = order["events"][0]
    assert placed["type"] == "placed" and placed["actor"] == "cs-bernd"
    assert order["channel"] == "phone"
    web = order_request(lines=[("TS-0048", 1)])
    r = await api.post("/cs/orders", json={**web, "agent": "cs-bernd"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "channel"]


async def test_prepayment_underpaid_waits_overpaid_is_flagged_and_settled(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    wh = warehouses(settings.database_url)[0]
    sku = make_sku(settings.database_url, {wh: 2}, price_cents=5000)
    body = order_request(lines=[(sku, 1)], payment_method="prepayment")
    order_id = body["order_id"]
    total = 5000 + 495
    assert (await api.post("/orders", json=body)).status_code == 202
    await wait_for_status(api, order_id, {"awaiting_payment"})
    for payment_id, amount in (("P1", 3000), ("P1", 3000)):  # a duplicate notice counts once
        r = await api.post(
            "/webhooks/payments",
            json={"order_id": order_id, "payment_id": payment_id, "amount_cents": amount},
        )
        assert r.status_code == 202
    order = await wait_for_event(api, order_id, "payment_received_P1")
    assert order["status"] == "awaiting_payment"
    await api.post(
        "/webhooks/payments",
        json={"order_id": order_id, "payment_id": "P2", "amount_cents": total - 3000 + 700},
    )
    order = await wait_for_status(api, order_id, {"in_fulfilment"})
    assert any(e["type"] == "overpayment_flagged_P2" for e in order["events"])
    await ship_and_deliver(api, order["shipments"][0]["shipment_id"])
    await wait_for_status(api, order_id, {"completed"})
    money = amounts(settings.database_url, order_id)
    assert money["incoming"] == total + 700 and money["refund"] == 700
