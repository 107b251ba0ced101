"""The whole happy path through the HTTP API on real Temporal, PostgreSQL and SMTP."""

from __future__ import annotations

import httpx
from sqlmodel import select

from core.db.engine import session_scope
from core.db.schema import PaymentTransaction, Reservation
from core.order_tokens import self_service_url
from core.settings import Settings
from tests.support.orders import order_request, wait_for_status
from tests.support.smtp import Inbox, text_of


async def test_order_completes_with_emails_payment_and_stock(
    api: httpx.AsyncClient, inbox: Inbox, settings: Settings
) -> None:
    body = order_request(lines=[("TS-0000", 2), ("HO-0005", 1)])
    order_id = body["order_id"]

    r = await api.post("/orders", json=body)
    assert r.status_code == 202, r.text
    assert r.json()["status_url"] == f"http://oms.test/orders/{order_id}"
    assert r.headers["location"].endswith(f"/orders/{order_id}")

    order = await wait_for_status(api, order_id, {"in_fulfilment"})
    shipments = order["shipments"]
    assert shipments and all(s["status"] == "released" for s in shipments)
    assert sum(ln["quantity"] for s in shipments for ln in s["lines"]) == 3

    for n, shipment in enumerate(shipments):
        r = await api.post(
            "/webhooks/shipments",
            json={
                "shipment_id": shipment["shipment_id"],
                "event": "shipped",
                "carrier": "DHL",
                "tracking_number": f"00340434{n}",
            },
        )
        assert r.status_code == 202, r.text
    await wait_for_status(api, order_id, {"shipped"})
    for shipment in shipments:
        r = await api.post(
            "/webhooks/shipments",
            json={"shipment_id": shipment["shipment_id"], "event": "delivered"},
        )
        assert r.status_code == 202
    order = await wait_for_status(api, order_id, {"completed"})

    types = [e["type"] for e in order["events"]]
    assert types[0] == "placed" and types[-1] == "completed"
    assert {"risk_assessed", "reserved", "payment_authorised", "released"} <= set(types)
    assert all(s["tracking_url"] for s in order["shipments"])

    mails = inbox.for_order(order_id)
    subjects = sorted(str(m["Subject"]) for m in mails)
    assert subjects.count(f"Bestellbestätigung {order_id}") == 1
    shipped = [m for m in mails if "unterwegs" in str(m["Subject"])]
    assert len(shipped) == len(shipments)
    for m in shipped:
        assert "https://tracking.example/track?carrier=DHL&id=00340434" in text_of(m)
    confirmation = next(m for m in mails if "Bestellbestätigung" in str(m["Subject"]))
    assert str(confirmation["To"]) == "erika.mustermann@example.org"
    link = self_service_url(settings, order_id)
    assert link.startswith(f"http://oms.test/my/orders/{order_id}?t=") and link in text_of(
        confirmation
    )
    page = await api.get(link.removeprefix("http://oms.test"))
    assert page.status_code == 200 and order_id in page.text

    with session_scope(settings.database_url) as s:
        txs = s.exec(
            select(PaymentTransaction).where(PaymentTransaction.order_id == order_id)
        ).all()
        reservations = s.exec(select(Reservation).where(Reservation.order_id == order_id)).all()
    auth = [t for t in txs if t.kind == "authorise"]
    captures = [t for t in txs if t.kind == "capture"]
    assert len(auth) == 1 and auth[0].amount_cents == order["total_cents"]
    assert sum(c.amount_cents for c in captures) == order["total_cents"]
    assert all(r.status == "shipped" for r in reservations)
    assert sum(r.quantity for r in reservations) == 3
