"""The customer-service console and the dashboard over HTTP (the real app over ASGI, real
Temporal and PostgreSQL): who may log in, finding orders, a refused action that changes
nothing, an order placed by phone, and dashboard numbers that follow the database."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import Session, func, select
from temporalio.client import Client

from api.app import create_app
from core.db.engine import get_engine
from core.db.schema import OrderEvent, OrderRecord
from core.settings import Settings
from tests.support.console import (
    ALL_ROLES,
    db_status,
    expected_numbers,
    place,
    staff_key,
    unique_email,
    wait_status,
)
from tests.support.portal import csrf_of, portal_key

ENGLISH = {"Accept-Language": "en"}  # the texts asserted below (German: test_staff_languages)
ADDRESS = {"name": "Lena Vogel", "street": "Lindenallee 4", "postcode": "24103", "city": "Kiel"}


@pytest.fixture
async def web(
    settings: Settings, temporal_client: Client, api: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of its own (its own cookies), on the session's worker."""
    transport = httpx.ASGITransport(app=create_app(settings, temporal_client))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://oms.test", headers=ENGLISH
    ) as client:
        yield client


@pytest.fixture(scope="module")
def keys(settings: Settings) -> dict[str, str]:
    url = settings.database_url
    return {
        "cs": staff_key(url, "customer_service", "Agent Petra"),
        "ops": staff_key(url, "operations", "Ops Olaf"),
        "all": staff_key(url, ALL_ROLES, "Test shop and staff"),
    }


async def login(web: httpx.AsyncClient, key: str) -> httpx.Response:
    return await web.post("/console/login", data={"key": key})


async def test_login_needs_a_staff_key(
    web: httpx.AsyncClient, settings: Settings, keys: dict[str, str]
) -> None:
    r = await web.get("/console")
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    for key in (portal_key(settings.database_url, "ST-BERLIN"), "oms_not-a-key", ""):
        r = await login(web, key)
        assert r.status_code == 401 and "not a customer-service or operations key" in r.text
        assert "oms_console" not in r.cookies
        assert (await web.get("/dashboard/data")).status_code == 303
    r = await login(web, keys["ops"])
    assert r.status_code == 303 and r.headers["location"] == "/console"
    page = (await web.get("/console")).text
    assert "Ops Olaf" in page and "New order" not in page  # operations look, do not act
    assert (await web.get("/dashboard/data")).status_code == 200


async def test_search_finds_the_order_by_email_and_postcode(
    web: httpx.AsyncClient, api: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    email = unique_email()
    order_id = await place(
        api,
        keys["all"],
        delivery_address=ADDRESS,
        customer={"id": "C-kiel", "email": email, "name": "Lena Vogel"},
    )
    await login(web, keys["cs"])
    for q in (email, email.upper(), "24103", "lena vog", order_id[:8]):
        r = await web.get("/console", params={"q": q})
        assert r.status_code == 200 and f'data-order="{order_id}"' in r.text, q
    r = await web.get("/console", params={"q": "nobody-like-this@example.org"})
    assert "No order matches" in r.text
    page = (await web.get(f"/console/orders/{order_id}")).text
    assert "Lindenallee 4" in page and "waiting for" in page


async def test_refused_action_shows_the_reason_and_changes_nothing(
    web: httpx.AsyncClient, api: httpx.AsyncClient, settings: Settings, keys: dict[str, str]
) -> None:
    url = settings.database_url
    order_id = await place(api, keys["all"], lines=[("TS-0000", 2)])
    await wait_status(url, order_id, {"in_fulfilment"})
    await login(web, keys["cs"])
    page = (await web.get(f"/console/orders/{order_id}")).text
    assert "waiting for shipment events" in page
    csrf = csrf_of(page)
    before = _events(url, order_id)

    r = await web.post(
        f"/console/orders/{order_id}/review",
        follow_redirects=True,
        data={"csrf": csrf, "decision": "approve", "reason": "looks fine"},
    )
    assert "refused: the order is not waiting for a review" in r.text
    r = await web.post(
        f"/console/orders/{order_id}/cancel-lines",
        follow_redirects=True,
        data={"csrf": csrf, "line_id": "L1", "quantity": "5", "reason": "x"},
    )
    assert re.search(
        r"refused: line L1: only 2 unshipped unit\(s\) can be cancelled, not 5", r.text
    )
    r = await web.post(
        f"/console/orders/{order_id}/cancel",
        follow_redirects=True,
        data={"csrf": "forged", "reason": "x"},
    )
    assert "refused: the form is stale" in r.text
    assert _events(url, order_id) == before and db_status(url, order_id) == "in_fulfilment"


async def test_dashboard_numbers_follow_the_orders(
    web: httpx.AsyncClient, api: httpx.AsyncClient, settings: Settings, keys: dict[str, str]
) -> None:
    url = settings.database_url
    await login(web, keys["cs"])
    before = (await web.get("/dashboard/data")).json()

    r = await web.get("/console/new")
    placed = await web.post(
        "/console/new",
        data={
            "csrf": csrf_of(r.text),
            "channel": "phone",
            "name": "Jan Roth",
            "email": unique_email(),
            "street": "Am Markt 2",
            "postcode": "28195",
            "city": "Bremen",
            "locale": "de",
            "shipping_speed": "standard",
            "payment_method": "invoice",
            "lines": "TS-0000 1",
        },
    )
    assert placed.status_code == 303, placed.text
    phone_order = placed.headers["location"].rsplit("/", 1)[1]
    web_order = await place(api, keys["all"])
    for order_id in (phone_order, web_order):
        await wait_status(url, order_id, {"in_fulfilment"})
    with Session(get_engine(url, readonly=True)) as s:
        rec = s.get(OrderRecord, phone_order)
        placed_event = s.exec(
            select(OrderEvent).where(
                OrderEvent.order_id == phone_order, OrderEvent.type == "placed"
            )
        ).one()
    assert rec is not None and rec.channel == "phone" and placed_event.actor == "Agent Petra"

    after = (await web.get("/dashboard/data")).json()
    want = expected_numbers(url)
    assert after["orders_today"] == want["orders_today"] == before["orders_today"] + 2
    assert after["by_channel"] == want["by_channel"]
    assert after["by_channel"]["phone"] == before["by_channel"].get("phone", 0) + 1
    assert after["revenue_cents"] == want["revenue_cents"]
    assert after["revenue_cents"] >= before["revenue_cents"] + rec.total_cents
    assert after["payments_cents"] == want["payments_cents"]
    assert sum(after["by_status"].values()) == after["orders_today"]
    assert '<svg class="chart"' in after["html"] and 'data-metric="orders_today"' in after["html"]
    assert any(loc["backlog_units"] > 0 for loc in after["locations"])


def _events(url: str, order_id: str) -> int:
    with Session(get_engine(url, readonly=True)) as s:
        return s.exec(
            select(func.count()).select_from(OrderEvent).where(OrderEvent.order_id == order_id)
        ).one()
