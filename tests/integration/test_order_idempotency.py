"""Placing the same order twice creates one workflow, one reservation, one e-mail."""

from __future__ import annotations

import asyncio

import httpx
from sqlmodel import func, select
from temporalio.client import Client

from core.db.engine import session_scope
from core.db.schema import OrderRecord, PaymentTransaction, Reservation
from core.settings import Settings
from tests.support.orders import order_request, wait_for_status
from tests.support.smtp import Inbox


async def test_same_order_twice_is_one_order(
    api: httpx.AsyncClient, inbox: Inbox, settings: Settings, temporal_client: Client
) -> None:
    body = order_request(lines=[("TS-0006", 1), ("SH-0001", 1)])
    order_id = body["order_id"]
    first, second = await asyncio.gather(
        api.post("/orders", json=body), api.post("/orders", json=body)
    )
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    await wait_for_status(api, order_id, {"in_fulfilment"})
    third = await api.post("/orders", json=body)  # a late retry by the shop
    assert third.status_code == 202

    runs = [w async for w in temporal_client.list_workflows(f"WorkflowId = 'order-{order_id}'")]
    assert len(runs) == 1
    await asyncio.sleep(1.0)  # give a (wrongly) duplicated run time to act
    with session_scope(settings.database_url) as s:
        reserved = s.exec(
            select(func.sum(Reservation.quantity)).where(Reservation.order_id == order_id)
        ).one()
        auths = s.exec(
            select(func.count())
            .select_from(PaymentTransaction)
            .where(PaymentTransaction.order_id == order_id, PaymentTransaction.kind == "authorise")
        ).one()
        records = s.exec(
            select(func.count()).select_from(OrderRecord).where(OrderRecord.order_id == order_id)
        ).one()
    assert reserved == 2 and auths == 1 and records == 1
    confirmations = [
        m for m in inbox.for_order(order_id) if str(m["Subject"]).startswith("Bestellbestätigung")
    ]
    assert len(confirmations) == 1


async def test_same_order_id_with_other_content_is_a_conflict(api: httpx.AsyncClient) -> None:
    body = order_request(lines=[("TS-0006", 1)])
    assert (await api.post("/orders", json=body)).status_code == 202
    other = {**body, "lines": [{"sku": "TS-0006", "quantity": 3}]}
    r = await api.post("/orders", json=other)
    assert r.status_code == 409
    assert body["order_id"] in r.json()["detail"]
