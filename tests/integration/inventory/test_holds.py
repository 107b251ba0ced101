"""Holds on PostgreSQL: they take stock out of ATP until they expire, are idempotent by id,
stop counting the moment they expire, are taken over by their order, and are ended by the
cleanup schedule on the real Temporal dev server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update
from temporalio.client import Client

from activities.stock import reservations
from activities.stock.holds import ExpiredHolds
from core.db.engine import session_scope
from core.db.schema import StockHold
from core.settings import Settings
from tests.integration.inventory.support import (
    active_hold_units,
    csv_body,
    ledger_sums,
    level,
    new_location,
    new_sku,
    plan,
    post_feed,
    uid,
)
from workflows.ops.schedules import ensure_hold_cleanup_schedule


async def _stocked(
    api: httpx.AsyncClient, url: str, units: int, kind: str = "warehouse"
) -> tuple[str, str]:
    loc, sku = new_location(url, kind), new_sku(url)
    r = await post_feed(api, uid("F"), csv_body([(loc, sku, units)]))
    assert r.status_code == 200, r.text
    return loc, sku


async def _available(api: httpx.AsyncClient, sku: str, channel: str = "web") -> int:
    r = await api.get(f"/inventory/availability/{sku}", params={"channel": channel})
    assert r.status_code == 200, r.text
    return r.json()["available"]


def _expire(url: str, hold_id: str) -> None:
    """Let the hold's time run out (as the clock would) without waiting for it."""
    with session_scope(url) as s:
        s.connection().execute(
            update(StockHold.__table__)
            .where(  # type: ignore[attr-defined]
                StockHold.__table__.c.hold_id == hold_id
            )  # type: ignore[attr-defined]
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


async def test_a_hold_takes_stock_out_of_atp_until_released_and_is_idempotent(
    api: httpx.AsyncClient, url: str
) -> None:
    loc, sku = await _stocked(api, url, 10)
    hold = {"hold_id": uid("H"), "lines": [{"sku": sku, "quantity": 4}]}
    r = await api.post("/inventory/holds", json=hold)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "active"
    assert r.json()["lines"] == [
        {"location_id": loc, "sku": sku, "quantity": 4, "status": "active"}
    ]
    expires = datetime.fromisoformat(r.json()["expires_at"])
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)
    assert await _available(api, sku) == 6

    again = await api.post("/inventory/holds", json=hold)
    assert again.status_code == 200 and again.json() == r.json()
    other = await api.post(
        "/inventory/holds", json={**hold, "lines": [{"sku": sku, "quantity": 5}]}
    )
    assert other.status_code == 409 and "other content" in other.text
    assert level(url, loc, sku) == (10, 0, 4)

    too_much = await api.post(
        "/inventory/holds",
        json={"hold_id": uid("H"), "lines": [{"sku": sku, "quantity": 7, "location_id": loc}]},
    )
    assert too_much.status_code == 409 and "not enough stock" in too_much.text
    assert level(url, loc, sku) == (10, 0, 4)

    released = await api.post(f"/inventory/holds/{hold['hold_id']}/release")
    assert released.status_code == 200 and released.json()["status"] == "released"
    assert (await api.post(f"/inventory/holds/{hold['hold_id']}/release")).status_code == 200
    assert await _available(api, sku) == 10
    assert level(url, loc, sku) == ledger_sums(url, loc, sku) == (10, 0, 0)
    kinds = [
        m["kind"]
        for m in (
            await api.get("/inventory/ledger", params={"source": f"hold:{hold['hold_id']}"})
        ).json()["movements"]
    ]
    assert kinds == ["hold", "hold_release"]


async def test_held_stock_cannot_be_reserved_by_other_orders_but_by_its_own(
    api: httpx.AsyncClient, url: str
) -> None:
    loc, sku = await _stocked(api, url, 5)
    mine = uid("ORD")
    r = await api.post(
        "/inventory/holds",
        json={"hold_id": uid("H"), "order_id": mine, "lines": [{"sku": sku, "quantity": 4}]},
    )
    assert r.status_code == 201, r.text

    other = uid("ORD")
    assert not reservations.reserve(url, other, plan(other, loc, (sku, 2))).ok
    assert reservations.reserve(url, other, plan(other, loc, (sku, 1))).ok
    assert reservations.reserve(url, mine, plan(mine, loc, (sku, 4))).ok
    assert level(url, loc, sku) == (5, 5, 0)  # the hold became the order's reservation
    hold = await api.get(f"/inventory/holds/{r.json()['hold_id']}")
    assert hold.json()["status"] == "converted"
    assert ledger_sums(url, loc, sku) == (5, 5, 0)


async def test_an_expired_hold_stops_counting_at_once(api: httpx.AsyncClient, url: str) -> None:
    loc, sku = await _stocked(api, url, 6)
    hold_id = uid("H")
    r = await api.post(
        "/inventory/holds",
        json={"hold_id": hold_id, "ttl_seconds": 600, "lines": [{"sku": sku, "quantity": 6}]},
    )
    assert r.status_code == 201
    assert await _available(api, sku) == 0
    order = uid("ORD")
    assert not reservations.reserve(url, order, plan(order, loc, (sku, 1))).ok

    _expire(url, hold_id)
    assert await _available(api, sku) == 6  # nothing has cleaned it up yet
    assert (await api.get(f"/inventory/holds/{hold_id}")).json()["status"] == "expired"
    assert level(url, loc, sku) == (6, 0, 6)
    assert reservations.reserve(url, order, plan(order, loc, (sku, 6))).ok  # ends it first
    assert level(url, loc, sku) == ledger_sums(url, loc, sku) == (6, 6, 0)
    collect = await api.post(f"/inventory/holds/{hold_id}/collect")
    assert collect.status_code == 409 and "expired" in collect.text


async def test_reserve_and_collect_in_a_store(api: httpx.AsyncClient, url: str) -> None:
    store, sku = await _stocked(api, url, 3, kind="store")
    no_store = await api.post(
        "/inventory/holds",
        json={
            "hold_id": uid("RC"),
            "purpose": "reserve_collect",
            "channel": "app",
            "lines": [{"sku": sku, "quantity": 1}],
        },
    )
    assert no_store.status_code == 422
    assert no_store.json()["detail"][0]["loc"] == ["body", "lines", 0, "location_id"]

    hold_id = uid("RC")
    r = await api.post(
        "/inventory/holds",
        json={
            "hold_id": hold_id,
            "purpose": "reserve_collect",
            "channel": "store",
            "lines": [{"sku": sku, "quantity": 2, "location_id": store}],
        },
    )
    assert r.status_code == 201, r.text
    expires = datetime.fromisoformat(r.json()["expires_at"])
    assert expires - datetime.now(UTC) > timedelta(hours=47)
    assert await _available(api, sku, "store") == 1
    # Remote channels never get a store's last units (buffer 2): nothing left for the web.
    assert await _available(api, sku, "web") == 0

    collected = await api.post(f"/inventory/holds/{hold_id}/collect")
    assert collected.status_code == 200 and collected.json()["status"] == "collected"
    assert (await api.post(f"/inventory/holds/{hold_id}/collect")).status_code == 200
    assert (await api.post(f"/inventory/holds/{hold_id}/release")).json()["status"] == "collected"
    assert level(url, store, sku) == ledger_sums(url, store, sku) == (1, 0, 0)


async def test_bad_hold_requests_are_refused_naming_the_field(
    api: httpx.AsyncClient, url: str
) -> None:
    loc, sku = await _stocked(api, url, 3)
    cases = [
        ({"lines": [{"sku": "NO-SUCH-SKU", "quantity": 1}]}, ["body", "lines", 0, "sku"]),
        ({"lines": [{"sku": sku, "quantity": 0}]}, ["body", "lines", 0, "quantity"]),
        (
            {"lines": [{"sku": sku, "quantity": 1, "location_id": "NOWHERE"}]},
            ["body", "lines", 0, "location_id"],
        ),
        ({"ttl_seconds": 10**8, "lines": [{"sku": sku, "quantity": 1}]}, ["body", "ttl_seconds"]),
        ({"channel": "fax", "lines": [{"sku": sku, "quantity": 1}]}, ["body", "channel"]),
    ]
    for body, loc_path in cases:
        r = await api.post("/inventory/holds", json={"hold_id": uid("H"), **body})
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"][0]["loc"] == loc_path, r.text
    assert (await api.get(f"/inventory/holds/{uid('H')}")).status_code == 404
    assert level(url, loc, sku) == (3, 0, 0)


async def test_the_cleanup_schedule_ends_expired_holds(
    api: httpx.AsyncClient, url: str, temporal_client: Client, settings: Settings, worker: None
) -> None:
    loc, sku = await _stocked(api, url, 9)
    expiring, lasting = uid("H"), uid("H")
    for hold_id, qty in ((expiring, 3), (lasting, 2)):
        r = await api.post(
            "/inventory/holds", json={"hold_id": hold_id, "lines": [{"sku": sku, "quantity": qty}]}
        )
        assert r.status_code == 201
    _expire(url, expiring)

    schedule_id = await ensure_hold_cleanup_schedule(temporal_client, settings)
    assert await ensure_hold_cleanup_schedule(temporal_client, settings) == schedule_id
    handle = temporal_client.get_schedule_handle(schedule_id)
    try:
        await handle.trigger()
        for _ in range(300):  # the scheduled workflow runs on the session's worker
            if active_hold_units(url, loc, sku) == 2:
                break
            await asyncio.sleep(0.1)
        description = await handle.describe()
    finally:
        await handle.delete()
    assert active_hold_units(url, loc, sku) == 2
    assert level(url, loc, sku) == ledger_sums(url, loc, sku) == (9, 0, 2)
    assert (await api.get(f"/inventory/holds/{expiring}")).json()["status"] == "expired"
    assert (await api.get(f"/inventory/holds/{lasting}")).json()["status"] == "active"
    assert description.info.num_actions >= 1
    runs = [a.action.workflow_id for a in description.info.recent_actions]  # type: ignore[attr-defined]
    result = await temporal_client.get_workflow_handle(runs[-1], result_type=ExpiredHolds).result()
    assert result.holds >= 1
