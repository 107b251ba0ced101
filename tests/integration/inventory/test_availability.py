"""Available to promise per location and for the network, by channel, and delivery promises
planned by the routing package on that ATP."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx

from activities.stock import reservations
from tests.integration.inventory.support import (
    csv_body,
    new_location,
    new_sku,
    plan,
    post_feed,
    uid,
)

MUNICH_CART = ["TS-0000", "HZ-0003", "FU-0004", "SH-0001", "HO-0005"]


async def _network(api: httpx.AsyncClient, url: str) -> dict[str, str]:
    """A warehouse, a shipping store, a store that does not ship, an offline warehouse."""
    locs = {
        "wh": new_location(url),
        "store": new_location(url, "store"),
        "counter": new_location(url, "store", ships_to_customers=False),
        "offline": new_location(url, online=False),
    }
    sku = new_sku(url)
    r = await post_feed(
        api,
        uid("F"),
        csv_body(
            [
                (locs["wh"], sku, 20),
                (locs["store"], sku, 4),
                (locs["counter"], sku, 6),
                (locs["offline"], sku, 9),
            ]
        ),
    )
    assert r.status_code == 200, r.text
    return {**locs, "sku": sku}


async def test_atp_subtracts_reservations_safety_stock_holds_and_store_buffers(
    api: httpx.AsyncClient, url: str
) -> None:
    n = await _network(api, url)
    sku, wh = n["sku"], n["wh"]
    order = uid("ORD")
    assert reservations.reserve(url, order, plan(order, wh, (sku, 5))).ok
    r = await api.put(f"/inventory/policies/{wh}/{sku}", json={"safety_stock": 3})
    assert r.status_code == 200 and r.json()["safety_stock"] == 3
    r = await api.post(
        "/inventory/holds",
        json={"hold_id": uid("H"), "lines": [{"sku": sku, "quantity": 2, "location_id": wh}]},
    )
    assert r.status_code == 201, r.text

    web = (await api.get(f"/inventory/availability/{sku}")).json()
    by_loc = {x["location_id"]: x for x in web["locations"]}
    assert (
        by_loc[wh] | {"on_hand": 20, "reserved": 5, "held": 2, "safety_stock": 3, "available": 10}
        == by_loc[wh]
    )
    assert by_loc[n["store"]]["available"] == 2 and by_loc[n["store"]]["channel_buffer"] == 2
    assert by_loc[n["counter"]]["counts_for_network"] is False
    assert by_loc[n["offline"]]["available"] == 0
    assert web["available"] == 12
    offline_hold = await api.post(
        "/inventory/holds",
        json={
            "hold_id": uid("H"),
            "lines": [{"sku": sku, "quantity": 1, "location_id": n["offline"]}],
        },
    )
    assert offline_hold.status_code == 409

    store = (await api.get(f"/inventory/availability/{sku}", params={"channel": "store"})).json()
    assert {x["location_id"]: x["available"] for x in store["locations"]} == {
        wh: 10,
        n["store"]: 4,
        n["counter"]: 6,
        n["offline"]: 0,
    }
    assert store["available"] == 20

    only = (
        await api.get(f"/inventory/availability/{sku}", params={"location_id": [wh, n["store"]]})
    ).json()
    assert only["available"] == 12 and len(only["locations"]) == 2

    many = await api.get("/inventory/availability", params={"sku": [sku, "TS-0000"]})
    assert [x["sku"] for x in many.json()["skus"]] == [sku, "TS-0000"]
    assert many.json()["skus"][1]["available"] > 0
    bad = await api.get("/inventory/availability", params={"sku": [sku, "NO-SUCH-SKU"]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "sku", 1]
    assert (await api.get("/inventory/availability/NO-SUCH-SKU")).status_code == 404
    assert (
        await api.get(f"/inventory/availability/{sku}", params={"channel": "fax"})
    ).status_code == 422


async def test_a_promise_for_one_sku_names_the_date_and_the_location(
    api: httpx.AsyncClient, url: str
) -> None:
    n = await _network(api, url)
    sku = n["sku"]
    r = await api.get(
        "/inventory/promise", params={"sku": sku, "postcode": "22041", "speed": "express"}
    )
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["deliverable"] is True
    assert [s["location_id"] for s in found["shipments"]] == [n["wh"]]
    promised = date.fromisoformat(found["promised_delivery"])
    assert promised > datetime.now(UTC).date()
    assert found["lines"][0]["locations"] == [n["wh"]]

    # 22 can be sold online (20 at the warehouse, 2 of the shipping store's 4): 23 cannot.
    r = await api.get(
        "/inventory/promise", params={"sku": sku, "postcode": "22041", "quantity": 23}
    )
    assert r.json()["deliverable"] is False and r.json()["promised_delivery"] is None
    assert sum(u["quantity"] for u in r.json()["uncovered"]) == 1

    # Stock held for someone else's checkout is not promised.
    r = await api.post(
        "/inventory/holds", json={"hold_id": uid("H"), "lines": [{"sku": sku, "quantity": 22}]}
    )
    assert r.status_code == 201, r.text
    r = await api.get("/inventory/promise", params={"sku": sku, "postcode": "22041"})
    assert r.json()["deliverable"] is False

    r = await api.get("/inventory/promise", params={"sku": sku, "postcode": "22"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "postcode"]


async def test_a_promise_for_a_whole_cart_in_one_call(api: httpx.AsyncClient, url: str) -> None:
    cart = {
        "postcode": "80331",
        "speed": "standard",
        "lines": [{"sku": sku, "quantity": 1} for sku in MUNICH_CART],
    }
    r = await api.post("/inventory/promise", json=cart)
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["deliverable"] is True and not found["uncovered"]
    shipped = sorted((ln["sku"], ln["quantity"]) for s in found["shipments"] for ln in s["lines"])
    assert shipped == sorted((sku, 1) for sku in MUNICH_CART)
    dates = [date.fromisoformat(ln["promised_delivery"]) for ln in found["lines"]]
    assert max(dates) == date.fromisoformat(found["promised_delivery"])

    bad = await api.post(
        "/inventory/promise",
        json={
            **cart,
            "postcode": "00000",
            "lines": [{"sku": "TS-0000"}, {"sku": "NO-SUCH-SKU"}, {"sku": "TS-0000"}],
        },
    )
    assert bad.status_code == 422
    assert sorted(tuple(e["loc"]) for e in bad.json()["detail"]) == [
        ("body", "lines", 1, "sku"),
        ("body", "lines", 2, "sku"),
        ("body", "postcode"),
    ]
    r = await api.post("/inventory/promise", json={**cart, "speed": "warp"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "speed"]
