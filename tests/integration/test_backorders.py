"""Backorders: under ``[fulfilment] uncovered = "backorder"`` an order the stock cannot cover
waits for stock (e-mail, status ``backordered``, nothing charged); a stock adjustment or feed
wakes it and it goes ahead; at its deadline it is cancelled with its e-mail; customer service
can cancel it meanwhile. On the real stack (Temporal dev server, PostgreSQL, SMTP)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from core.settings import Settings
from tests.support.auth import client_for
from tests.support.catalogue import make_sku, warehouses
from tests.support.histories import keep
from tests.support.orders import order_request, wait_for_status
from tests.support.policies import policy_file
from tests.support.smtp import Inbox, text_of, wait_for_subject


async def _api(
    settings: Settings, temporal_client: Client, tmp_path: Path, deadline: str
) -> AsyncIterator[httpx.AsyncClient]:
    policy = policy_file(
        tmp_path,
        f'[fulfilment]\nuncovered = "backorder"\nbackorder_deadline = "{deadline}"\n'
        'backorder_recheck = "PT1H"\n',
    )
    own = settings.model_copy(update={"policy_file": policy})
    async with client_for(create_app(own, temporal_client), own) as api:
        yield api


@pytest.fixture
async def backorder_api(
    settings: Settings, temporal_client: Client, worker: None, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async for api in _api(settings, temporal_client, tmp_path, "P14D"):
        yield api


@pytest.fixture
async def short_backorder_api(
    settings: Settings, temporal_client: Client, worker: None, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async for api in _api(settings, temporal_client, tmp_path, "PT3S"):
        yield api


def _empty_sku(settings: Settings) -> tuple[str, str]:
    """A SKU the network carries at one warehouse, none on hand."""
    warehouse = warehouses(settings.database_url)[0]
    return make_sku(settings.database_url, {warehouse: 0}), warehouse


async def test_backorder_waits_then_a_stock_adjustment_wakes_it(
    backorder_api: httpx.AsyncClient, settings: Settings, inbox: Inbox, temporal_client: Client
) -> None:
    sku, warehouse = _empty_sku(settings)
    body = order_request(lines=[(sku, 2)])
    order_id = str(body["order_id"])
    r = await backorder_api.post("/orders", json=body)
    assert r.status_code == 202, r.text
    order = await wait_for_status(backorder_api, order_id, {"backordered"})
    assert not order["payments"]  # nothing authorised while it waits
    mail = await wait_for_subject(inbox, order_id, f"Ihre Bestellung {order_id} ist vorgemerkt")
    text = text_of(mail)
    assert f"2 x Testartikel {sku}" in text and "/my/orders/" in text

    r = await backorder_api.post(
        "/inventory/adjustments",
        json={
            "adjustment_id": f"IN-{uuid.uuid4().hex[:10]}",
            "location_id": warehouse,
            "sku": sku,
            "quantity": 5,
            "reason": "goods in",
        },
    )
    assert r.status_code == 201, r.text
    order = await wait_for_status(backorder_api, order_id, {"in_fulfilment"})
    assert [sh["location_id"] for sh in order["shipments"]] == [warehouse]
    types = [e["type"] for e in order["events"]]
    assert types.index("backordered") < types.index("reserved") < types.index("released")
    await wait_for_subject(inbox, order_id, f"Bestellbestätigung {order_id}")
    await keep(temporal_client, f"order-{order_id}", "backorder_woken_by_adjustment")


async def test_a_stock_feed_wakes_a_backorder(
    backorder_api: httpx.AsyncClient, settings: Settings
) -> None:
    sku, warehouse = _empty_sku(settings)
    body = order_request(lines=[(sku, 1)])
    order_id = str(body["order_id"])
    assert (await backorder_api.post("/orders", json=body)).status_code == 202
    await wait_for_status(backorder_api, order_id, {"backordered"})
    feed = f"location_id,sku,quantity\n{warehouse},{sku},3\n"
    r = await backorder_api.post(
        f"/inventory/feeds/BO-{uuid.uuid4().hex[:10]}",
        params={"mode": "delta"},
        content=feed.encode(),
        headers={"content-type": "text/csv"},
    )
    assert r.status_code in (200, 201, 202), r.text
    await wait_for_status(backorder_api, order_id, {"in_fulfilment"})


async def test_backorder_cancelled_at_its_deadline(
    short_backorder_api: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    sku, _ = _empty_sku(settings)
    body = order_request(lines=[(sku, 1)])
    order_id = str(body["order_id"])
    assert (await short_backorder_api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(short_backorder_api, order_id, {"cancelled"}, timeout=40)
    assert not order["shipments"]
    mail = await wait_for_subject(inbox, order_id, f"Ihre Bestellung {order_id} wurde")
    assert "nicht rechtzeitig wieder eingetroffen" in text_of(mail)


async def test_customer_service_cancels_a_backorder(
    backorder_api: httpx.AsyncClient, settings: Settings
) -> None:
    sku, _ = _empty_sku(settings)
    body = order_request(lines=[(sku, 1)])
    order_id = str(body["order_id"])
    assert (await backorder_api.post("/orders", json=body)).status_code == 202
    await wait_for_status(backorder_api, order_id, {"backordered"})
    r = await backorder_api.post(f"/orders/{order_id}/cancel", json={"agent": "cs-anna"})
    assert r.status_code == 200, r.text
    await wait_for_status(backorder_api, order_id, {"cancelled"})
