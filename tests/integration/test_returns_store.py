"""In-store returns through the store portal (real app, Temporal, PostgreSQL): the store books
what the customer brings back, the OMS decides whether it stays on that store's shelf or goes
on to a warehouse that needs it more, refunds at once and restocks where the goods arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import Client

from activities.stock import ledger
from api.app import create_app
from core.db.engine import session_scope
from core.settings import Settings
from tests.support.auth import client_for
from tests.support.catalogue import make_sku, stock_of
from tests.support.portal import csrf_of, portal_key
from tests.support.returns import (
    delivered_order,
    refunds,
    return_event,
    wait_return,
    warehouse_in,
)

STORE = "ST-BERLIN"
BERLIN = {"name": "Jonas Weber", "street": "Torstraße 112", "postcode": "10119", "city": "Berlin"}


@pytest.fixture
async def staff(
    settings: Settings, temporal_client: Client, api: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    """The Berlin store's staff, logged in to the portal (own cookie jar)."""
    app = create_app(settings, temporal_client)
    async with client_for(app, settings) as client:
        client.headers["Accept-Language"] = "en"  # the texts asserted here are English
        r = await client.post(
            "/portal/login",
            data={"key": portal_key(settings.database_url, STORE, "Filiale Berlin, Kasse")},
        )
        assert r.status_code == 303, r.text
        yield client


async def _book(staff: httpx.AsyncClient, order_id: str, reason: str) -> str:
    page = await staff.get(f"/portal/returns?order_id={order_id}")
    assert page.status_code == 200 and "Book return" in page.text
    r = await staff.post(
        "/portal/returns",
        data={"csrf": csrf_of(page.text), "order_id": order_id, "qty_L1": "1", "reason_L1": reason},
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/portal/returns/R-{order_id}-1"
    return f"R-{order_id}-1"


async def test_in_store_return_stays_in_the_store_that_needs_it(
    staff: httpx.AsyncClient, api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    leipzig = warehouse_in(url, "Leipzig")
    sku = make_sku(url, {leipzig: 5, STORE: 0}, price_cents=2000)  # the store sold out
    ledger.open_balances(url)
    order = await delivered_order(api, [(sku, 2)], delivery_address=BERLIN)
    oid = order["order_id"]
    assert order["shipments"][0]["location_id"] == leipzig

    rid = await _book(staff, oid, "changed_mind")
    page = await staff.get(f"/portal/returns/{rid}")
    assert 'data-stays="yes"' in page.text and "Keep it here" in page.text
    assert "return " + rid + " booked" in page.text

    done = await wait_return(api, rid, {"closed"})
    assert done["channel"] == "store" and done["refunded_cents"] == 2000
    assert stock_of(url, STORE, sku) == (1, 0)
    assert [t.amount_cents for t in refunds(url, oid)] == [2000]
    with session_scope(url) as s:
        assert ledger.explain(s, STORE, sku).explained  # type: ignore[union-attr]


async def test_in_store_return_goes_on_to_the_warehouse_that_needs_it_more(
    staff: httpx.AsyncClient, api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    hamburg = warehouse_in(url, "Hamburg")
    sku = make_sku(url, {STORE: 40, hamburg: 0}, price_cents=1250)
    ledger.open_balances(url)
    order = await delivered_order(api, [(sku, 1)], delivery_address=BERLIN)
    oid = order["order_id"]

    rid = await _book(staff, oid, "wrong_size")
    page = await staff.get(f"/portal/returns/{rid}")
    assert 'data-stays="no"' in page.text and f'data-destination="{hamburg}"' in page.text
    assert "Send it on to Lager Hamburg" in page.text

    forwarded = await wait_return(api, rid, {"forwarded"})
    assert forwarded["refunded_cents"] == 1250 + 495  # refunded at the counter
    assert stock_of(url, STORE, sku) == (39, 0)  # it does not stay here
    await return_event(api, rid, "received", location_id=hamburg)
    await wait_return(api, rid, {"closed"})
    assert stock_of(url, hamburg, sku) == (1, 0)  # restocked where it arrived

    r = await staff.post(f"/portal/returns/{rid}/received", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 404  # only the destination confirms arrival
