"""A store's or vendor's key (role ``location``) sees its own stock and only the orders routed
to it: a shipment from there, or one transferred there for pickup. Any other order is 404, as
an unknown one (the answer does not even say the number exists), listings leave it out, and
availability covers its own location only (naming another one is 403). Every read endpoint a
location key can reach is covered here; a new one fails the first test until it is."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import or_, select
from temporalio.client import Client

from api.http.security import Allow, Role
from core.db.engine import session_scope
from core.db.schema import ShipmentRecord
from core.settings import Settings
from tests.integration.test_roles import _json_routes
from tests.support.orders import new_order_id
from tests.support.portal import place_released, portal_key, stocked_sku

STORE, OTHER, PICKUP_STORE, WAREHOUSE = "ST-DRESDEN", "ST-LEIPZIG", "ST-HANNOVER", "WH-BERLIN"
COVERED = {
    ("GET", "/orders"),
    ("GET", "/orders/{order_id}"),
    (
        "GET",
        "/orders/{order_id}/invoices/{number}.pdf",
    ),  # tests/integration/billing/test_money_view.py
    ("GET", "/inventory/availability"),
    ("GET", "/inventory/availability/{sku}"),
}


def test_every_read_a_location_key_can_reach_is_covered(
    settings: Settings, temporal_client: Client
) -> None:
    reachable = {
        (method, path)
        for method, path, guard in _json_routes(settings, temporal_client)
        if method == "GET" and isinstance(guard, Allow) and Role.LOCATION in guard.roles
    }
    assert reachable == COVERED


@pytest.fixture(scope="module")
def keys(settings: Settings) -> dict[str, dict[str, str]]:
    """X-API-Key headers of one key per location."""
    return {
        loc: {"X-API-Key": portal_key(settings.database_url, loc, f"scope {loc}")}
        for loc in (STORE, OTHER, PICKUP_STORE, WAREHOUSE)
    }


@pytest.fixture(scope="module")
async def orders(api: httpx.AsyncClient, settings: Settings) -> dict[str, dict[str, Any]]:
    url = settings.database_url
    mine = await place_released(api, [(stocked_sku(url, {STORE: 10}), 1)])
    theirs = await place_released(api, [(stocked_sku(url, {OTHER: 10}), 1)])
    pickup = await place_released(
        api, [(stocked_sku(url, {WAREHOUSE: 10}), 1)], pickup_store_id=PICKUP_STORE
    )
    assert [s["location_id"] for s in mine["shipments"]] == [STORE]
    assert [s["location_id"] for s in theirs["shipments"]] == [OTHER]
    assert [(s["location_id"], s["transfer_to"]) for s in pickup["shipments"]] == [
        (WAREHOUSE, PICKUP_STORE)
    ]
    return {"mine": mine, "theirs": theirs, "pickup": pickup}


async def test_an_order_is_seen_only_where_it_is_routed(
    api: httpx.AsyncClient, keys: dict[str, dict[str, str]], orders: dict[str, dict[str, Any]]
) -> None:
    sees = {
        STORE: {"mine"},
        OTHER: {"theirs"},
        WAREHOUSE: {"pickup"},  # it ships from there
        PICKUP_STORE: {"pickup"},  # it is transferred there for pickup
    }
    for location, visible in sees.items():
        for name, order in orders.items():
            order_id = order["order_id"]
            r = await api.get(f"/orders/{order_id}", headers=keys[location])
            if name in visible:
                assert r.status_code == 200, (location, name, r.text)
                assert r.json()["customer_email"] == order["customer_email"]
            else:
                assert r.status_code == 404, (location, name, r.status_code)
                assert r.json() == {"detail": f"order {order_id} not found"}  # as if unknown
    unknown = new_order_id("NOPE")
    r = await api.get(f"/orders/{unknown}", headers=keys[STORE])
    assert r.status_code == 404 and r.json() == {"detail": f"order {unknown} not found"}
    # a key with a wider role still sees every order
    for order in orders.values():
        assert (await api.get(f"/orders/{order['order_id']}")).status_code == 200


async def test_listings_hold_only_the_locations_orders(
    api: httpx.AsyncClient,
    settings: Settings,
    keys: dict[str, dict[str, str]],
    orders: dict[str, dict[str, Any]],
) -> None:
    for name, order in orders.items():
        customer = order["customer_id"]
        for location in (STORE, OTHER, PICKUP_STORE):
            r = await api.get("/orders", params={"customer_id": customer}, headers=keys[location])
            assert r.status_code == 200, r.text
            ids = [o["order_id"] for o in r.json()["orders"]]
            routed = {
                STORE: name == "mine",
                OTHER: name == "theirs",
                PICKUP_STORE: name == "pickup",
            }[location]
            assert ids == ([order["order_id"]] if routed else []), (location, name)
            assert r.json()["total"] == len(ids)

    r = await api.get("/orders", params={"limit": 500}, headers=keys[STORE])
    listed = [o["order_id"] for o in r.json()["orders"]]
    assert orders["mine"]["order_id"] in listed
    with session_scope(settings.database_url) as s:  # every listed order is routed to it
        routed_ids = set(
            s.exec(
                select(ShipmentRecord.order_id).where(
                    or_(ShipmentRecord.location_id == STORE, ShipmentRecord.transfer_to == STORE)
                )
            ).all()
        )
    assert set(listed) <= routed_ids


async def test_availability_covers_the_keys_own_location(
    api: httpx.AsyncClient, settings: Settings, keys: dict[str, dict[str, str]]
) -> None:
    sku = stocked_sku(settings.database_url, {STORE: 7, OTHER: 5, WAREHOUSE: 30})
    everywhere = (await api.get(f"/inventory/availability/{sku}")).json()
    assert {loc["location_id"] for loc in everywhere["locations"]} == {STORE, OTHER, WAREHOUSE}

    for path, params in (
        (f"/inventory/availability/{sku}", {}),
        ("/inventory/availability", {"sku": sku}),
    ):
        for channel in ("store", "web"):
            r = await api.get(path, params={**params, "channel": channel}, headers=keys[STORE])
            assert r.status_code == 200, r.text
            [found] = r.json()["skus"] if "skus" in r.json() else [r.json()]
            assert [loc["location_id"] for loc in found["locations"]] == [STORE]
            assert found["on_hand"] in (0, 7)  # network figures over its own location only
            assert found["available"] <= 7

        own = await api.get(path, params={**params, "location_id": STORE}, headers=keys[STORE])
        assert own.status_code == 200
        for asked in ([OTHER], [STORE, OTHER]):
            r = await api.get(path, params={**params, "location_id": asked}, headers=keys[STORE])
            assert r.status_code == 403, (path, asked, r.status_code)
            assert "own location" in r.json()["detail"]
        nothing = await api.get(path, params=params, headers=keys[PICKUP_STORE])
        [found] = nothing.json()["skus"] if "skus" in nothing.json() else [nothing.json()]
        assert found["locations"] == [] and found["on_hand"] == 0
