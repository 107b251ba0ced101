"""The console's master-data pages over HTTP (the real app, PostgreSQL, Temporal), with a
logged-in operations session: the catalogue search finds a SKU, its page shows its stock per
location; a location's page shows its cut-offs per weekday, its own closing day and public
holidays with their reason, today's reserved units against capacity; and the dashboard's
per-location rows link to that page. Data created here carries fresh ids (``XMD-<hex>``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.client import Client

from activities.masterdata.calendar import public_holidays
from api.app import create_app
from core.db.engine import session_scope
from core.db.schema import Location, Sku, Stock
from core.settings import Settings
from tests.support.console import staff_key
from tests.support.orders import order_request, wait_for_status

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
async def web(
    settings: Settings, temporal_client: Client, api: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of its own (its own cookies), logged in with an operations key."""
    transport = httpx.ASGITransport(app=create_app(settings, temporal_client))
    english = {"Accept-Language": "en"}  # the texts asserted here (German: test_staff_languages)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://oms.test", headers=english
    ) as client:
        key = staff_key(settings.database_url, "operations", "Ops Mara")
        r = await client.post("/console/login", data={"key": key})
        assert r.status_code == 303, r.text
        yield client


def _row(html: str, attr: str, value: str) -> str:
    """The text of the table row carrying ``data-<attr>="<value>"``."""
    m = re.search(rf'<tr data-{attr}="{re.escape(value)}"[^>]*>(.*?)</tr>', html, re.S)
    assert m is not None, f"no row {attr}={value}"
    return unescape(re.sub(r"<[^>]+>", " ", m.group(1)))


def _setup(url: str, capacity: int = 1000) -> tuple[str, str, str]:
    """A Hessian warehouse with its own cut-offs and a closing day, and a SKU stocked there."""
    t = uuid.uuid4().hex[:8].upper()
    loc, sku = f"XMD-{t}", f"XMD-{t}-S"
    today = datetime.now(BERLIN).date()
    closing = next(
        today + timedelta(days=i)
        for i in range(2, 20)
        if (today + timedelta(days=i)).weekday() < 5
        and today + timedelta(days=i) not in public_holidays("HE", today, 21)
    )
    with session_scope(url) as s:
        s.add(
            Location(
                id=loc, name=f"Lager Kassel {t}", kind="warehouse", street="Ständeplatz 1",
                postcode="34117", city="Kassel", state="HE", latitude=51.31, longitude=9.49,
                daily_capacity=capacity,
                cutoffs={"mon": "17:00", "tue": "17:00", "wed": "17:00", "thu": "17:00",
                         "fri": "14:30"},
                closed_dates=[closing.isoformat()],
            )
        )  # fmt: skip
        s.add(Sku(sku=sku, name=f"Thermoskanne Blau {t}", price_cents=2490, gtin=None))
        s.flush()
        s.add(Stock(location_id=loc, sku=sku, on_hand=7))
    return loc, sku, closing.isoformat()


async def test_the_catalogue_search_finds_a_sku(web: httpx.AsyncClient, settings: Settings) -> None:
    loc, sku, _ = _setup(settings.database_url)
    t = sku.split("-")[1]
    page = await web.get("/console/catalogue", params={"q": f"thermoskanne blau {t.lower()}"})
    assert page.status_code == 200
    assert "Catalogue" in page.text and "Locations" in page.text  # the nav links
    row = _row(page.text, "sku", sku)
    assert f"Thermoskanne Blau {t}" in row and "€24.90" in row and "active" in row
    assert f'href="/console/catalogue/{sku}"' in page.text
    assert "No SKU matches" in (await web.get("/console/catalogue", params={"q": f"{t}%"})).text

    one = await web.get(f"/console/catalogue/{sku}")
    assert one.status_code == 200 and f"Thermoskanne Blau {t}" in one.text
    stock = _row(one.text, "location", loc)
    assert stock.split()[:2] == [loc, "7"]
    assert (await web.get(f"/console/catalogue/{sku}-none")).status_code == 404


async def test_a_location_page_shows_cutoffs_closing_days_and_holidays(
    web: httpx.AsyncClient, settings: Settings
) -> None:
    loc, sku, closing = _setup(settings.database_url)
    listing = await web.get("/console/locations", params={"city": "kassel", "kind": "warehouse"})
    assert listing.status_code == 200 and "online" in _row(listing.text, "location", loc)

    page = await web.get(f"/console/locations/{loc}")
    assert page.status_code == 200
    html = page.text
    assert "Lager Kassel" in html and "Ständeplatz 1, 34117 Kassel" in unescape(html)
    assert "online" in html and "7 units on hand of 1 SKUs" in html
    assert _row(html, "weekday", "mon").split() == ["Monday", "17:00"]
    assert _row(html, "weekday", "fri").split() == ["Friday", "14:30"]
    assert _row(html, "weekday", "sat").split() == ["Saturday", "does", "not", "ship"]
    assert closing in html  # the own closing days list
    assert "closed (own calendar)" in _row(html, "date", closing)
    today = datetime.now(BERLIN).date()
    for day, name in public_holidays("HE", today, 21).items():
        if day.weekday() < 5:  # a working day closed by a holiday: named as the reason
            assert name in _row(html, "date", day.isoformat())
    days = re.findall(r'<tr data-date="([0-9-]+)" class="(ships|closed)"', html)
    assert len(days) == 21
    for day_text, kind in days:
        if datetime.fromisoformat(day_text).weekday() >= 5:
            assert kind == "closed" and "not open on" in _row(html, "date", day_text)
    assert _row(html, "sku", sku).split()[:2] == [sku, "7"]
    assert (await web.get(f"/console/locations/{loc}-none")).status_code == 404


async def test_the_dashboard_links_each_location_to_its_page(
    web: httpx.AsyncClient, api: httpx.AsyncClient, settings: Settings
) -> None:
    """An order reserves the location's whole capacity: it tops the dashboard's rows, linked."""
    loc, sku, _ = _setup(settings.database_url, capacity=1)
    body = order_request(lines=[(sku, 1)])
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment", "failed"})
    assert order["status"] == "in_fulfilment", order

    dashboard = await web.get("/dashboard")
    assert f'href="/console/locations/{loc}"' in dashboard.text
    data = (await web.get("/dashboard/data")).json()
    assert f'href="/console/locations/{loc}"' in data["html"]
    page = (await web.get(f"/console/locations/{loc}")).text
    assert re.search(r"<strong>1</strong> of 1 units reserved today", page)
    assert "backlog 1 units" in page
