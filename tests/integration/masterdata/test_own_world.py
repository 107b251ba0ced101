"""A retailer that is not the demo: its own towns, calendars, catalogue and carrier, loaded
through the public import into a database of its own, then orders placed over HTTP. Plans,
ship dates, prices and carriage follow those files (tests/integration/masterdata/own_world/)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.client import Client

from api import deps
from api.app import create_app
from core.db.migrate import upgrade
from core.settings import Settings
from devstack.postgres import PostgresCluster
from tests.support.auth import client_for
from tests.support.orders import order_request, wait_for_status
from worker import build_worker

FILES = Path(__file__).resolve().parent / "own_world"
BERLIN = ZoneInfo("Europe/Berlin")
KASSEL = {
    "name": "Erika Mustermann",
    "street": "Königsplatz 1",
    "postcode": "34117",
    "city": "Kassel",
}


class Clock:
    """When the next order is placed (the API's ``deps.now``)."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def set(self, *args: int) -> None:
        self.at = datetime(*args, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


@pytest.fixture(scope="module")
def own_url(postgres: PostgresCluster) -> Iterator[str]:
    """A database of its own on the session's PostgreSQL: nothing of the demo in it."""
    name = f"retailer_{uuid.uuid4().hex[:8]}"
    postgres._run("createdb", "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres", name)
    url = postgres.url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url


@pytest.fixture(scope="module")
def own_settings(settings: Settings, own_url: str) -> Settings:
    return settings.model_copy(
        update={"database_url": own_url, "task_queue": f"own-{uuid.uuid4().hex[:8]}"}
    )


@pytest.fixture(scope="module")
async def own_api(
    own_settings: Settings, temporal_client: Client
) -> AsyncIterator[tuple[httpx.AsyncClient, Clock]]:
    clock = Clock()
    app = create_app(own_settings, temporal_client)
    app.dependency_overrides[deps.now] = lambda: clock.at
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with (
            build_worker(temporal_client, own_settings, executor),
            client_for(app, own_settings) as client,
        ):
            await _load(client)
            yield client, clock


async def _import(api: httpx.AsyncClient, kind: str, name: str, **params: Any) -> dict[str, Any]:
    r = await api.post(
        f"/masterdata/imports/{kind}",
        params={"on_error": "reject", **params},
        content=(FILES / name).read_bytes(),
        headers={"Content-Type": "text/csv" if name.endswith(".csv") else "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["status"] == "applied" and report["rows_bad"] == 0, report
    return report


async def _load(api: httpx.AsyncClient) -> None:
    await _import(api, "catalogue", "catalogue.csv")
    await _import(api, "locations", "locations.jsonl")
    await _import(api, "stock", "stock.csv")
    r = await api.put(
        "/carriers",
        content=(FILES / "carriers.toml").read_bytes(),
        headers={"Content-Type": "application/toml"},
    )
    assert r.status_code == 200, r.text


async def _place(
    api: httpx.AsyncClient, clock: Clock, when: tuple[int, ...], lines: list[tuple[str, int]]
) -> dict[str, Any]:
    clock.set(*when)
    order_id = f"OW-{uuid.uuid4().hex[:10]}"
    r = await api.post("/orders", json=order_request(order_id, lines, delivery_address=KASSEL))
    assert r.status_code == 202, r.text
    order = await wait_for_status(api, order_id, {"in_fulfilment", "failed", "cancelled"})
    assert order["status"] == "in_fulfilment", order
    return order


async def test_the_network_is_the_retailers_own(
    own_api: tuple[httpx.AsyncClient, Clock],
) -> None:
    api, _ = own_api
    locations = (await api.get("/locations")).json()
    assert sorted(x["id"] for x in _items(locations)) == ["RH-FULDA", "RH-GOETTINGEN"]
    carriers = (await api.get("/carriers")).json()
    assert [c["name"] for c in carriers["carriers"]] == ["rhoenpaket"]


async def test_saturday_after_the_cutoff_ships_monday_before_it_the_same_day(
    own_api: tuple[httpx.AsyncClient, Clock],
) -> None:
    api, clock = own_api
    late = await _place(api, clock, (2027, 6, 5, 14, 0), [("RH-TEE-01", 1)])  # Sat 14:00
    (shipment,) = late["shipments"]
    assert shipment["location_id"] == "RH-FULDA"
    assert shipment["ship_date"] == "2027-06-07"  # closed Sunday: Monday
    assert shipment["promised_delivery"] == "2027-06-08"  # 1 day (Fulda-Kassel < 150 km)
    early = await _place(api, clock, (2027, 6, 5, 10, 0), [("RH-TEE-01", 1)])  # Sat 10:00
    assert early["shipments"][0]["ship_date"] == "2027-06-05"  # before Saturday's 12:00
    assert early["shipments"][0]["ship_by"].startswith("2027-06-05T")
    assert datetime.fromisoformat(early["shipments"][0]["ship_by"]).astimezone(BERLIN).hour == 12


async def test_a_public_holiday_where_the_location_is_moves_its_ship_date(
    own_api: tuple[httpx.AsyncClient, Clock],
) -> None:
    """27 May 2027 is Corpus Christi in Hesse (Fulda), a working day in Lower Saxony."""
    api, clock = own_api
    wednesday_evening = (2027, 5, 26, 17, 0)  # after both cut-offs
    hesse = await _place(api, clock, wednesday_evening, [("RH-TEE-01", 1)])
    saxony = await _place(api, clock, wednesday_evening, [("RH-BOOK-02", 1)])
    assert hesse["shipments"][0]["location_id"] == "RH-FULDA"
    assert hesse["shipments"][0]["ship_date"] == "2027-05-28"
    assert saxony["shipments"][0]["location_id"] == "RH-GOETTINGEN"
    assert saxony["shipments"][0]["ship_date"] == "2027-05-27"
    # the parcel goes to Kassel (Hesse): no delivery on the holiday either
    assert saxony["shipments"][0]["promised_delivery"] == "2027-05-28"


async def test_prices_follow_the_catalogue_and_an_inactive_sku_takes_no_orders(
    own_api: tuple[httpx.AsyncClient, Clock],
) -> None:
    api, clock = own_api
    order = await _place(api, clock, (2027, 6, 7, 9, 0), [("RH-TEE-01", 2), ("RH-BOOK-02", 1)])
    prices = {ln["sku"]: ln["unit_price_cents"] for ln in order["lines"]}
    assert prices == {"RH-TEE-01": 4990, "RH-BOOK-02": 2490}
    r = await api.post("/orders", json=order_request(lines=[("RH-TEE-01", 1), ("RH-OLD-03", 1)]))
    assert r.status_code == 422, r.text
    assert any(e["loc"][-3:] == ["lines", 1, "sku"] for e in r.json()["detail"]), r.text


async def test_a_tariff_change_prices_the_next_order_not_a_running_one(
    own_api: tuple[httpx.AsyncClient, Clock],
) -> None:
    api, clock = own_api
    before = await _place(api, clock, (2027, 6, 8, 9, 0), [("RH-TEE-01", 1)])
    assert before["shipments"][0]["carriage_cents"] == 611
    tariff = (await api.get("/carriers")).json()["carriers"]
    tariff[0]["weight_bands"][0]["cost_cents"] = 733
    r = await api.put("/carriers", json={"carriers": tariff})
    assert r.status_code == 200 and r.json()["created"] is True, r.text
    after = await _place(api, clock, (2027, 6, 8, 9, 5), [("RH-TEE-01", 1)])
    assert after["shipments"][0]["carriage_cents"] == 733
    running = (await api.get(f"/orders/{before['order_id']}")).json()
    assert running["shipments"][0]["carriage_cents"] == 611


def _items(page: Any) -> list[dict[str, Any]]:
    """The rows of a paged listing (a list or a page object with items)."""
    if isinstance(page, list):
        return page
    return page.get("items") or page.get("locations") or page.get("skus") or []
