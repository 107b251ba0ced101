"""The stock ledger: every change is a movement with its reason and source, and the levels are
their sums; manual adjustments and returns are idempotent movements too."""

from __future__ import annotations

import httpx

from activities.stock import reservations
from tests.integration.inventory.support import (
    csv_body,
    ledger_sums,
    level,
    new_location,
    new_sku,
    plan,
    post_feed,
    uid,
)


async def test_feeds_reservations_releases_and_shipments_explain_the_level(
    api: httpx.AsyncClient, url: str
) -> None:
    loc, sku = new_location(url), new_sku(url)
    feed = uid("F")
    assert (await post_feed(api, feed, csv_body([(loc, sku, 10)]))).status_code == 200
    shipped, cancelled = uid("ORD"), uid("ORD")
    assert reservations.reserve(url, shipped, plan(shipped, loc, (sku, 3))).ok
    assert reservations.consume(url, shipped, f"{shipped}-S1") == 3
    assert reservations.reserve(url, cancelled, plan(cancelled, loc, (sku, 2))).ok
    assert reservations.release(url, cancelled) == 2
    assert level(url, loc, sku) == (7, 0, 0)

    r = await api.get(f"/inventory/stock/{loc}/{sku}")
    assert r.status_code == 200
    explained = r.json()
    assert explained["explained"] is True and explained["movements"] == 5
    assert explained["level"] == explained["ledger"] == {"on_hand": 7, "reserved": 0, "held": 0}
    assert [
        (m["kind"], m["on_hand_delta"], m["reserved_delta"], m["source"])
        for m in reversed(explained["recent"])
    ] == [
        ("feed_delta", 10, 0, f"feed:{feed}"),
        ("reservation", 0, 3, f"order:{shipped}"),
        ("shipment", -3, -3, f"order:{shipped}"),
        ("reservation", 0, 2, f"order:{cancelled}"),
        ("release", 0, -2, f"order:{cancelled}"),
    ]
    assert explained["recent"][0]["reason"] == f"{cancelled}:{cancelled}-S1:L1"

    first = (await api.get("/inventory/ledger", params={"sku": sku, "limit": 2})).json()
    assert [m["kind"] for m in first["movements"]] == ["feed_delta", "reservation"]
    rest = (
        await api.get("/inventory/ledger", params={"sku": sku, "after_id": first["next_after_id"]})
    ).json()
    assert [m["kind"] for m in rest["movements"]] == ["shipment", "reservation", "release"]
    assert rest["next_after_id"] is None
    assert (await api.get(f"/inventory/stock/{loc}/NO-SUCH-SKU")).status_code == 404


async def test_adjustments_and_returns_are_idempotent_movements(
    api: httpx.AsyncClient, url: str
) -> None:
    loc, sku = new_location(url), new_sku(url)
    returned = {
        "adjustment_id": uid("RET"),
        "location_id": loc,
        "sku": sku,
        "kind": "return",
        "quantity": 2,
        "reason": "return of order X, resaleable",
    }
    r = await api.post("/inventory/adjustments", json=returned)
    assert r.status_code == 201, r.text
    assert r.json()["on_hand"] == 2 and r.json()["kind"] == "return"
    again = await api.post("/inventory/adjustments", json=returned)
    assert again.status_code == 200 and again.json() == r.json()
    other = await api.post("/inventory/adjustments", json={**returned, "quantity": 3})
    assert other.status_code == 409
    assert level(url, loc, sku) == (2, 0, 0)

    order = uid("ORD")
    assert reservations.reserve(url, order, plan(order, loc, (sku, 1))).ok
    too_many = await api.post(
        "/inventory/adjustments",
        json={
            "adjustment_id": uid("ADJ"),
            "location_id": loc,
            "sku": sku,
            "quantity": -2,
            "reason": "damaged",
        },
    )
    assert too_many.status_code == 409 and "reserved" in too_many.text
    damaged = await api.post(
        "/inventory/adjustments",
        json={
            "adjustment_id": uid("ADJ"),
            "location_id": loc,
            "sku": sku,
            "quantity": -1,
            "reason": "damaged in store",
        },
    )
    assert damaged.status_code == 201 and damaged.json()["on_hand"] == 1
    assert level(url, loc, sku) == ledger_sums(url, loc, sku) == (1, 1, 0)

    for body, field in [
        ({"quantity": 0}, ["body", "quantity"]),
        ({"kind": "return", "quantity": -1}, ["body", "quantity"]),
        ({"sku": "NO-SUCH-SKU"}, ["body", "sku"]),
        ({"location_id": "NOWHERE"}, ["body", "location_id"]),
    ]:
        r = await api.post(
            "/inventory/adjustments", json={**returned, "adjustment_id": uid("ADJ"), **body}
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == field, r.text
    assert level(url, loc, sku) == (1, 1, 0)
