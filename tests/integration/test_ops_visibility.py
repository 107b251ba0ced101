"""The ops queries of docs/operations.md, run through the Temporal client on the real dev server."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from temporalio.client import Client

from core.settings import Settings
from tests.support.catalogue import make_sku, warehouses
from tests.support.orders import order_request, post_event, wait_for_status
from workflows.ops import queries as ops_queries

README = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()


async def _ids(client: Client, query: str) -> set[str]:
    return {w.id async for w in client.list_workflows(query)}


async def _eventually_found(client: Client, query: str, workflow_id: str) -> None:
    for _ in range(60):  # visibility is eventually consistent
        if workflow_id in await _ids(client, query):
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{workflow_id} not found by {query}")


def test_readme_shows_the_queries_ops_use() -> None:
    example = datetime(2026, 11, 18, tzinfo=UTC)
    for query in (
        ops_queries.prepayment_waiting_since(example),
        ops_queries.late_at("WH-HAMBURG"),
        ops_queries.held_for_review(),
        ops_queries.big_orders(50_000),
        ops_queries.customer("C-1"),
    ):
        assert query in README, query


async def test_ops_queries_find_the_right_orders(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    wh = warehouses(settings.database_url)
    cheap = make_sku(settings.database_url, {wh[0]: 5, wh[1]: 5}, price_cents=1000)
    dear = make_sku(settings.database_url, {wh[0]: 2}, price_cents=60_000)

    waiting = order_request(lines=[(cheap, 1)], payment_method="prepayment")
    late = order_request(lines=[(cheap, 1)])
    big = order_request(lines=[(dear, 1)], payment_method="prepayment")
    for body in (waiting, late, big):
        assert (await api.post("/orders", json=body)).status_code == 202
    await wait_for_status(api, waiting["order_id"], {"awaiting_payment"})
    shipped = await wait_for_status(api, late["order_id"], {"in_fulfilment"})
    [parcel] = shipped["shipments"]
    await post_event(api, parcel["shipment_id"], "shipped")
    await post_event(api, parcel["shipment_id"], "exception", exception="lost")
    await wait_for_status(api, big["order_id"], {"awaiting_payment"})

    checks = [
        (
            ops_queries.prepayment_waiting_since(datetime.now(UTC) + timedelta(minutes=1)),
            waiting["order_id"],
        ),
        (ops_queries.late_at(parcel["location_id"]), late["order_id"]),
        (ops_queries.big_orders(50_000), big["order_id"]),
        (ops_queries.customer(waiting["customer"]["id"]), waiting["order_id"]),
    ]
    for query, order_id in checks:
        await _eventually_found(temporal_client, query, f"order-{order_id}")
    # ... and they do not find the others
    assert f"order-{late['order_id']}" not in await _ids(
        temporal_client,
        ops_queries.prepayment_waiting_since(datetime.now(UTC) + timedelta(minutes=1)),
    )
    assert f"order-{waiting['order_id']}" not in await _ids(
        temporal_client, ops_queries.late_at(parcel["location_id"])
    )
    assert f"order-{waiting['order_id']}" not in await _ids(
        temporal_client, ops_queries.prepayment_waiting_since(datetime.now(UTC) - timedelta(days=5))
    )
    described = await temporal_client.get_workflow_handle(f"order-{late['order_id']}").describe()
    assert re.search(
        r"Order .*: 1 line\(s\), 14\.95 EUR, card, web", await described.static_summary() or ""
    )
    history = await temporal_client.get_workflow_handle(f"order-{late['order_id']}").fetch_history()
    summaries = {
        json.loads(e.user_metadata.summary.data)
        for e in history.events
        if e.HasField("user_metadata") and e.user_metadata.HasField("summary")
    }
    assert {"reserve stock", "authorise 14.95 EUR card", "e-mail order_confirmation"} <= summaries
    for body in (waiting, big):
        await api.post(f"/orders/{body['order_id']}/cancel", json={"agent": "ops-test"})
