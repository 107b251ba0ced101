"""News of a parcel the order did not expect to move is refused, never dropped: a carrier's
"shipped" for a cancelled order, or for a shipment not released yet (a prepayment order
waiting for its money), answers 409 and opens a case for operations."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.orders import order_request, post_event, wait_for_status

CANCEL = {"agent": "cs-anna", "reason": "customer asked"}


def _shipped(shipment_id: str) -> dict[str, str]:
    return {
        "shipment_id": shipment_id,
        "event": "shipped",
        "carrier": "DHL",
        "tracking_number": f"TRK-{shipment_id}",
    }


async def _cases(api: httpx.AsyncClient, order_id: str) -> list[dict[str, object]]:
    r = await api.get("/ops/cases", params={"order_id": order_id, "status": "all"})
    assert r.status_code == 200, r.text
    return r.json()["cases"]


async def test_shipped_after_cancel_is_409_and_an_ops_case(api: httpx.AsyncClient) -> None:
    body = order_request(lines=[("TS-0000", 1)])
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    shipment = order["shipments"][0]["shipment_id"]
    assert (await api.post(f"/orders/{body['order_id']}/cancel", json=CANCEL)).status_code == 200

    r = await api.post("/webhooks/shipments", json=_shipped(shipment))
    assert r.status_code == 409, r.text
    again = await api.post("/webhooks/shipments", json=_shipped(shipment))  # the partner retries
    assert again.status_code == 409
    cases = await _cases(api, body["order_id"])
    assert len(cases) == 1, cases  # one case, however often it is reported
    case = cases[0]
    assert case["kind"] == "parcel_moved_unexpectedly" and case["shipment_id"] == shipment
    assert case["status"] == "open" and case["detail"]["event"] == "shipped"

    resolved = await api.post(
        f"/ops/cases/{case['id']}/resolve", json={"note": "parcel recalled", "by": "ops-jan"}
    )
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert await _cases(api, body["order_id"]) == [resolved.json()]


async def test_cancel_racing_shipped_never_drops_the_parcel(api: httpx.AsyncClient) -> None:
    """Ten races of a cancel against the carrier's shipped: each ends either shipped (the
    cancel refused) or cancelled with the parcel's news refused or recorded as a case."""
    orders = []
    for _ in range(10):
        body = order_request(lines=[("TS-0000", 1)])
        assert (await api.post("/orders", json=body)).status_code == 202
        orders.append(body["order_id"])
    for order_id in orders:
        order = await wait_for_status(api, order_id, {"in_fulfilment"})
        shipment = order["shipments"][0]["shipment_id"]
        cancel, shipped = await asyncio.gather(
            api.post(f"/orders/{order_id}/cancel", json=CANCEL),
            api.post("/webhooks/shipments", json=_shipped(shipment)),
        )
        assert cancel.status_code in (200, 409), cancel.text
        assert shipped.status_code in (202, 409), shipped.text
        if cancel.status_code == 409:  # the parcel was first: the order goes on, shipped
            assert shipped.status_code == 202 and "already shipped" in cancel.json()["detail"]
            await wait_for_status(api, order_id, {"shipped"})
            continue
        await wait_for_status(api, order_id, {"cancelled"})
        for _ in range(50):  # a 202 that lost the race to the cancel becomes a case
            if cases := await _cases(api, order_id):
                break
            await asyncio.sleep(0.1)
        assert [c["shipment_id"] for c in cases] == [shipment], (order_id, shipped.status_code)


async def test_shipped_before_release_is_refused_and_the_order_carries_on(
    api: httpx.AsyncClient,
) -> None:
    body = order_request(lines=[("TS-0000", 1)], payment_method="prepayment")
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"awaiting_payment"})
    shipment = order["shipments"][0]["shipment_id"]
    assert order["shipments"][0]["status"] == "reserved"

    r = await api.post("/webhooks/shipments", json=_shipped(shipment))
    assert r.status_code == 409 and "not released" in r.json()["detail"], r.text
    assert [c["shipment_id"] for c in await _cases(api, body["order_id"])] == [shipment]
    after = (await api.get(f"/orders/{body['order_id']}")).json()
    assert after["status"] == "awaiting_payment"
    assert after["shipments"][0]["status"] == "reserved"

    paid = await api.post(
        "/webhooks/payments",
        json={
            "order_id": body["order_id"],
            "payment_id": f"BANK-{body['order_id']}",
            "amount_cents": after["total_cents"],
        },
    )
    assert paid.status_code == 202, paid.text
    await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    await post_event(api, shipment, "shipped")  # released now: the same news is taken
    await wait_for_status(api, body["order_id"], {"shipped"})
