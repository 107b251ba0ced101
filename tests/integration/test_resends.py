"""Callers retry when an answer is lost (timeout, restart): a repeated cancel or a carrier's
resent event must read as the success it was, without doing anything twice; news the order
never took (a cancelled order's parcel shipped) is still refused."""

from __future__ import annotations

import httpx
from sqlmodel import select

from core.db.engine import session_scope
from core.db.schema import PaymentTransaction
from core.settings import Settings
from tests.support.orders import order_request, post_event, wait_for_status

CANCEL = {"agent": "cs-anna", "reason": "customer asked"}


async def test_cancelling_twice_answers_200_and_voids_once(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    body = order_request(lines=[("TS-0000", 1)])
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    first = await api.post(f"/orders/{body['order_id']}/cancel", json=CANCEL)
    again = await api.post(f"/orders/{body['order_id']}/cancel", json=CANCEL)
    assert first.status_code == 200 and first.json()["status"] == "cancelled"
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "cancelled" and "already" in again.json()["message"]
    with session_scope(settings.database_url) as s:
        voids = s.exec(
            select(PaymentTransaction).where(
                PaymentTransaction.order_id == body["order_id"], PaymentTransaction.kind == "void"
            )
        ).all()
    assert [v.amount_cents for v in voids] == [order["total_cents"]]

    shipment = order["shipments"][0]["shipment_id"]
    r = await api.post(
        "/webhooks/shipments",
        json={
            "shipment_id": shipment,
            "event": "shipped",
            "carrier": "DHL",
            "tracking_number": "X1",
        },
    )
    assert r.status_code == 409, r.text  # refused news of a parcel: a case for operations
    cases = (await api.get("/ops/cases", params={"order_id": body["order_id"]})).json()["cases"]
    assert [c["shipment_id"] for c in cases] == [shipment]


async def test_a_carriers_resend_after_the_order_completed_is_accepted(
    api: httpx.AsyncClient,
) -> None:
    body = order_request(lines=[("TS-0000", 1)])
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    shipment = order["shipments"][0]["shipment_id"]
    await post_event(api, shipment, "shipped")
    await post_event(api, shipment, "delivered")
    await wait_for_status(api, body["order_id"], {"completed"})
    for event in ("delivered", "shipped", "accepted"):  # resends of steps already taken
        await post_event(api, shipment, event)
    after = (await api.get(f"/orders/{body['order_id']}")).json()
    assert after["status"] == "completed"
    assert after["shipments"][0]["status"] == "delivered"
    r = await api.post(
        "/webhooks/shipments",
        json={"shipment_id": shipment, "event": "exception", "exception": "lost"},
    )
    assert r.status_code == 409  # news after the end: a person must look at it
