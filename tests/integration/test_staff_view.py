"""What staff and operations see (real app over ASGI, real Temporal and PostgreSQL): revenue
counts only orders going ahead, a declined order's parcels are cancelled everywhere and its
failed payment is on the console, shipment events from the future are refused and never make a
parcel late, the timeline speaks euros, the dashboard colours statuses by meaning, and the
console offers only what the workflow would take."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import Session, select
from temporalio.client import Client

from api.app import create_app
from api.pages.dashboard.data import dashboard
from api.pages.dashboard.routes import BAD, GOOD
from core.db.engine import get_engine, session_scope
from core.db.schema import OrderRecord, PaymentTransaction, ShipmentRecord, Voucher
from core.domain.orders import OrderStatus
from core.domain.shipments import ShipmentEvent, ShipmentStatus
from core.settings import Settings
from tests.support.catalogue import make_sku, warehouses
from tests.support.console import ALL_ROLES, staff_key
from tests.support.observability import samples
from tests.support.orders import order_request, post_event, wait_for_status
from workflows.order.client import OrderClient

pytestmark = pytest.mark.usefixtures("inbox")


@pytest.fixture
async def web(
    settings: Settings, temporal_client: Client, api: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-in customer-service browser of its own."""
    transport = httpx.ASGITransport(app=create_app(settings, temporal_client))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://oms.test", headers={"Accept-Language": "en"}
    ) as client:
        key = staff_key(settings.database_url, ALL_ROLES, "Agent Vera")
        assert (await client.post("/console/login", data={"key": key})).status_code == 303
        yield client


async def _reserved_in_metrics(api: httpx.AsyncClient) -> float:
    found = samples((await api.get("/metrics")).text)
    return sum(
        s.value for s in found if s.name == "oms_shipments" and s.labels["status"] == "reserved"
    )


def _record(order_id: str, status: str, total_cents: int) -> OrderRecord:
    return OrderRecord(
        order_id=order_id,
        workflow_id=f"order-{order_id}",
        status=status,
        channel="web",
        customer_id="C-rev",
        customer_email="rev@example.org",
        customer_name="Rev Enue",
        postcode="10115",
        payment_method="card",
        shipping_speed="standard",
        total_cents=total_cents,
        request_hash="x",
        payload={},
    )


def test_revenue_counts_only_orders_going_ahead(settings: Settings) -> None:
    url = settings.database_url
    with Session(get_engine(url, readonly=True)) as s:
        before = dashboard(s).revenue_cents
    tag = uuid.uuid4().hex[:8]
    amounts = {
        OrderStatus.FAILED: 1_000,
        OrderStatus.REJECTED: 2_000,
        OrderStatus.CANCELLED: 4_000,
        OrderStatus.ON_HOLD: 8_000,
        OrderStatus.IN_FULFILMENT: 160,
        OrderStatus.COMPLETED: 320,
        OrderStatus.AWAITING_PAYMENT: 640,
    }
    with session_scope(url) as s:
        for status, cents in amounts.items():
            s.add(_record(f"REV-{tag}-{status.value}", status.value, cents))
    with Session(get_engine(url, readonly=True)) as s:
        after = dashboard(s).revenue_cents
    assert after - before == 160 + 320 + 640


async def test_dashboard_draws_cancelled_red_and_completed_green(
    web: httpx.AsyncClient, settings: Settings
) -> None:
    tag = uuid.uuid4().hex[:8]
    with session_scope(settings.database_url) as s:
        for status in (OrderStatus.CANCELLED, OrderStatus.COMPLETED, OrderStatus.FAILED):
            s.add(_record(f"COL-{tag}-{status.value}", status.value, 100))
    html = (await web.get("/dashboard")).text

    def fill(label: str) -> str:
        found = re.search(rf'<g data-label="{label}">.*?fill="(#[0-9a-f]+)"', html)
        assert found, label
        return found.group(1)

    assert fill("cancelled") == fill("failed") == BAD
    assert fill("completed") == GOOD


async def test_a_declined_order_shows_cancelled_parcels_and_the_failed_payment(
    api: httpx.AsyncClient, web: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    url = settings.database_url
    sku = make_sku(url, {warehouses(url)[0]: 5}, price_cents=1_018)  # + 4.95 shipping: x.13
    reserved_before = await _reserved_in_metrics(api)
    body = order_request(lines=[(sku, 1)])
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"cancelled"})
    assert order["total_cents"] % 100 == 13  # the simulated provider declines these
    assert order["shipments"], "the order was routed and reserved before payment"
    assert {sh["status"] for sh in order["shipments"]} == {"cancelled"}
    state = await OrderClient(temporal_client, body["order_id"]).state()
    assert set(state.shipment_status.values()) == {ShipmentStatus.CANCELLED}
    assert await _reserved_in_metrics(api) == reserved_before

    with Session(get_engine(url, readonly=True)) as s:
        [tx] = s.exec(
            select(PaymentTransaction).where(PaymentTransaction.order_id == body["order_id"])
        ).all()
    assert (tx.kind, tx.status) == ("authorise", "failed")
    page = (await web.get(f"/console/orders/{body['order_id']}")).text
    row = re.search(r'<tr data-payment="authorise">.*?</tr>', page, re.S)
    assert row and "failed" in row.group(0) and "€15.13" in row.group(0)


async def test_an_event_from_the_future_is_refused_before_anything_moves(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    body = order_request()
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    sid = order["shipments"][0]["shipment_id"]
    await post_event(api, sid, "shipped")
    for at in ("2031-03-01T10:00:00Z", (datetime.now(UTC) + timedelta(minutes=6)).isoformat()):
        r = await api.post(
            "/webhooks/shipments", json={"shipment_id": sid, "event": "delivered", "at": at}
        )
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "at"]
    r = await api.post(
        "/webhooks/shipments",
        json={"shipment_id": sid, "event": "delivered", "at": "2026-01-01T10:00:00"},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "at"]
    with Session(get_engine(settings.database_url, readonly=True)) as s:
        rec = s.get(ShipmentRecord, sid)
        assert rec is not None and rec.status == "shipped"
    # a little ahead (within the allowed skew) is a clock's drift: accepted
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    await post_event(api, sid, "delivered", at=soon)
    await wait_for_status(api, body["order_id"], {"completed"})


async def test_the_workflow_never_finds_a_parcel_late_on_a_day_to_come(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    """Past the API (an old signal, another caller): the workflow's own clock decides."""
    body = order_request()
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    sid = order["shipments"][0]["shipment_id"]
    await post_event(api, sid, "shipped")
    await OrderClient(temporal_client, body["order_id"]).report_shipment_event(
        ShipmentEvent(shipment_id=sid, kind="delivered", at=datetime(2031, 3, 1, 10, tzinfo=UTC))
    )
    done = await wait_for_status(api, body["order_id"], {"completed"})
    assert not [e for e in done["events"] if e["type"].startswith("delay_")]
    with Session(get_engine(settings.database_url, readonly=True)) as s:
        assert not s.exec(select(Voucher).where(Voucher.order_id == body["order_id"])).all()
        rec = s.get(ShipmentRecord, sid)
        assert rec is not None and rec.delivered_at is not None
        assert rec.delivered_at.replace(tzinfo=UTC) <= datetime.now(UTC)


async def test_console_timeline_speaks_euros(
    api: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    body = order_request(lines=[("TS-0000", 2)])
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    page = (await web.get(f"/console/orders/{body['order_id']}")).text
    assert "total_cents" not in page and "_cents" not in page
    euros = f"€{order['total_cents'] / 100:,.2f}"  # babel's English (German: 1.234,56 €)
    placed = re.search(r'<li data-event="placed">.*?</li>', page, re.S)
    assert placed and f"total: {euros}" in placed.group(0), placed


async def test_console_offers_only_what_the_order_takes(
    api: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    body = order_request(lines=[("TS-0000", 2)])
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    page = (await web.get(f"/console/orders/{body['order_id']}")).text
    assert 'id="modify"' not in page and 'id="review"' not in page  # released: no changes
    assert 'id="cancel"' in page and 'id="cancel-lines"' in page
    assert 'id="return"' not in page  # nothing delivered yet

    for sh in order["shipments"]:
        await post_event(api, sh["shipment_id"], "shipped")
        await post_event(api, sh["shipment_id"], "delivered")
    await wait_for_status(api, body["order_id"], {"completed"})
    page = (await web.get(f"/console/orders/{body['order_id']}")).text
    assert 'id="return"' in page
    for refused in ('id="cancel"', 'id="cancel-lines"', 'id="modify"', 'id="review"'):
        assert refused not in page, refused
