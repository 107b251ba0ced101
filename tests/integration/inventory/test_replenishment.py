"""Replenishment proposals from reorder points and recent demand: transfers from warehouses with
spare stock first, supplier orders for the rest; as JSON and as a CSV export."""

from __future__ import annotations

import csv
import io

import httpx

from activities.stock import reservations
from activities.stock.replenishment import CSV_COLUMNS
from tests.integration.inventory.support import (
    csv_body,
    new_location,
    new_sku,
    plan,
    post_feed,
    uid,
)


async def test_proposals_transfer_spare_stock_then_order_from_the_supplier(
    api: httpx.AsyncClient, url: str
) -> None:
    sku = new_sku(url)
    spare, busy, store = new_location(url), new_location(url), new_location(url, "store")
    r = await post_feed(
        api, uid("F"), csv_body([(spare, sku, 20), (busy, sku, 30), (store, sku, 3)])
    )
    assert r.status_code == 200
    # 28 units ordered from the busy warehouse in the window: one a day, a 7-day supplier
    # lead time, so reorder at 7 and fill up to 14; it has 2 free.
    order = uid("ORD")
    assert reservations.reserve(url, order, plan(order, busy, (sku, 28))).ok
    r = await api.put(
        f"/inventory/policies/{store}/{sku}",
        json={"reorder_point": 5, "target_level": 20, "supplier": "ACME"},
    )
    assert r.status_code == 200, r.text
    bad = await api.put(
        f"/inventory/policies/{store}/{sku}", json={"reorder_point": 5, "target_level": 4}
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "target_level"]

    r = await api.get("/inventory/replenishment", params={"sku": sku})
    assert r.status_code == 200
    got = [
        (p["location_id"], p["kind"], p["quantity"], p["from_location_id"], p["supplier"])
        for p in r.json()["proposals"]
    ]
    # The busy warehouse is furthest below its reorder point and takes 12 whole from the
    # spare one; the store gets the 8 left and orders 9 from its supplier.
    assert sorted(got) == sorted(
        [
            (busy, "transfer", 12, spare, None),
            (store, "transfer", 8, spare, None),
            (store, "purchase", 9, None, "ACME"),
        ]
    )
    busy_row = next(p for p in r.json()["proposals"] if p["location_id"] == busy)
    assert (
        busy_row["position"],
        busy_row["reorder_point"],
        busy_row["target_level"],
        busy_row["demand_units"],
    ) == (2, 7, 14, 28)

    purchases = await api.get("/inventory/replenishment", params={"sku": sku, "kind": "purchase"})
    assert [p["location_id"] for p in purchases.json()["proposals"]] == [store]

    export = await api.get("/inventory/replenishment.csv", params={"sku": sku})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert list(rows[0]) == CSV_COLUMNS
    assert sorted((x["location_id"], x["kind"], x["quantity"]) for x in rows) == sorted(
        [(busy, "transfer", "12"), (store, "transfer", "8"), (store, "purchase", "9")]
    )

    # Once the order ships, the busy warehouse has nothing reserved and 2 on hand: still short.
    assert reservations.consume(url, order, f"{order}-S1") == 28
    again = (
        await api.get("/inventory/replenishment", params={"sku": sku, "location_id": busy})
    ).json()
    assert [(p["kind"], p["quantity"]) for p in again["proposals"]] == [("transfer", 12)]
