"""A hurried user double-clicks every form that changes something (headless Chromium over real
HTTP): the browser sends the form twice, and the action happens once.

The app is served as in the other browser tests, except that its answers to form posts leave
a second late (``busy``: a busy server, whose work is done but whose answer is slow).
Each test clicks the form's button, waits until the browser has sent the post and clicks again
while the first answer is on its way, as a double click on a busy server does. It then checks,
from the API's own request counter, that the server really received both posts, and, in the
database, that there is one action: one return (and one refund) in the store
portal, one void of the cancelled units in the console, one order from "New order" without a
number, one return from "Start return" in the console and on the self-service page.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Locator, Page, expect
from sqlmodel import Session, col, func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.app import create_app
from core.db.engine import get_engine
from core.db.schema import OrderEvent, OrderRecord, ReturnRecord
from core.order_tokens import order_token
from core.settings import Settings
from devstack.postgres import free_port
from tests.support.catalogue import make_sku, warehouses
from tests.support.console import place, staff_key, unique_email, wait_status
from tests.support.money import amounts
from tests.support.portal import portal_key
from tests.support.returns import delivered_order, refunds, wait_return, warehouse_in

STORE = "ST-BERLIN"
BERLIN = {"name": "Jonas Weber", "street": "Torstraße 112", "postcode": "10119", "city": "Berlin"}
SLOW_ANSWER_S = 1.0
"""How late the busy server's answer to a form post is (its work is done by then)."""


class SlowAnswers:
    """ASGI wrapper: the answer to a form post (not a login) starts ``SLOW_ANSWER_S`` late;
    ``answered`` counts the posts answered, by path (whether the browser still waits or not)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.answered: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        slow = (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and not scope["path"].endswith("/login")
        )

        async def late(message: Message) -> None:
            if slow and message["type"] == "http.response.start":
                await asyncio.sleep(SLOW_ANSWER_S)
            await send(message)

        await self.app(scope, receive, late)
        if slow:
            self.answered[scope["path"]] = self.answered.get(scope["path"], 0) + 1


@dataclass(frozen=True)
class Busy:
    url: str
    app: SlowAnswers


@pytest.fixture(scope="session")
async def busy(settings: Settings, api: httpx.AsyncClient) -> AsyncIterator[Busy]:
    """Like ``server`` (conftest), with the answers to form posts a second late."""
    port = free_port()
    cfg = settings.model_copy(update={"api_port": port, "public_base_url": ""})
    app = SlowAnswers(create_app(cfg))
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=srv.run, name="uvicorn-busy", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.05)
    try:
        yield Busy(f"http://127.0.0.1:{port}", app)
    finally:
        srv.should_exit = True
        await asyncio.to_thread(thread.join, 30)


async def _double_click(page: Page, button: Locator, path: str) -> None:
    """Two clicks with the mouse on the button: the second once the browser has sent the form,
    while the page is still the one with the form (the busy server's answer is on its way)."""
    await button.scroll_into_view_if_needed()
    box = await button.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    async with page.expect_request(
        lambda r: r.method == "POST" and urlparse(r.url).path == path
    ) as first:
        await page.mouse.click(x, y)
    await first.value
    await page.mouse.click(x, y)


async def _both_arrived(busy: SlowAnswers, path: str, before: int) -> None:
    """The server answered both posts (so the test is about a real double submission)."""
    deadline = time.monotonic() + 30
    while (n := busy.answered.get(path, 0) - before) < 2:
        assert time.monotonic() < deadline, f"the server answered {n} post(s) of {path}"
        await asyncio.sleep(0.1)
    assert n == 2, f"the server answered {n} posts of {path}"


def _returns_of(url: str, order_id: str) -> list[ReturnRecord]:
    with Session(get_engine(url, readonly=True)) as s:
        return list(
            s.exec(
                select(ReturnRecord)
                .where(ReturnRecord.order_id == order_id)
                .order_by(col(ReturnRecord.return_id))
            ).all()
        )


async def _console_login(page: Page, server: str, key: str) -> None:
    await page.goto(f"{server}/console/login")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{server}/console")


async def test_store_books_an_in_store_return_with_a_double_click(
    busy: Busy,
    chromium: Browser,
    api: httpx.AsyncClient,
    settings: Settings,
) -> None:
    server, url = busy.url, settings.database_url
    sku = make_sku(url, {warehouse_in(url, "Leipzig"): 5, STORE: 0}, price_cents=2000)
    order = await delivered_order(api, [(sku, 2)], delivery_address=BERLIN)
    oid = order["order_id"]

    page = await chromium.new_page(locale="en-GB")
    await page.goto(f"{server}/portal/login")
    await page.get_by_label("Portal key").fill(portal_key(url, STORE, "Filiale Berlin, Kasse 2"))
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{server}/portal/queue")
    await page.goto(f"{server}/portal/returns?order_id={oid}")
    row = page.locator('#book tr[data-line="L1"]')
    await row.get_by_role("spinbutton").fill("1")
    await row.get_by_role("combobox").select_option("changed_mind")

    before = busy.app.answered.get("/portal/returns", 0)
    await _double_click(page, page.get_by_role("button", name="Book return"), "/portal/returns")
    await expect(page.locator(".flash.ok")).to_contain_text(f"return R-{oid}-1 booked")
    await _both_arrived(busy.app, "/portal/returns", before)

    assert [r.return_id for r in _returns_of(url, oid)] == [f"R-{oid}-1"]
    done = await wait_return(api, f"R-{oid}-1", {"closed"})
    assert done["refunded_cents"] == 2000
    assert [t.amount_cents for t in refunds(url, oid)] == [2000]  # one refund, not two
    await page.close()


async def test_agent_cancels_units_with_a_double_click(
    busy: Busy,
    chromium: Browser,
    api: httpx.AsyncClient,
    settings: Settings,
) -> None:
    server, url = busy.url, settings.database_url
    sku = make_sku(url, {warehouses(url)[0]: 9}, price_cents=1000)
    oid = await place(api, staff_key(url, "shop", "Web shop"), lines=[(sku, 3)])
    await wait_status(url, oid, {"in_fulfilment"})

    page = await chromium.new_page(locale="en-GB", viewport={"width": 1280, "height": 1100})
    await _console_login(page, server, staff_key(url, "customer_service", "Agent Kai"))
    await page.goto(f"{server}/console/orders/{oid}")
    form = page.locator("#cancel-lines")
    await form.get_by_label("Line").select_option("L1")
    await form.get_by_label("Quantity").fill("1")
    await form.get_by_label("Reason").fill("customer wants two only")

    path = f"/console/orders/{oid}/cancel-lines"
    before = busy.app.answered.get(path, 0)
    await _double_click(page, form.get_by_role("button", name="Cancel units"), path)
    await expect(page.locator(".flash.ok")).to_contain_text("cancel lines: 1 line(s) cancelled")
    await _both_arrived(busy.app, path, before)

    await expect(page.locator('#lines tr[data-line="L1"] td.qty')).to_have_text("2")
    assert amounts(url, oid).get("void") == 1000  # one unit voided once
    with Session(get_engine(url, readonly=True)) as s:
        cancelled = s.exec(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == oid, col(OrderEvent.type).startswith("lines_cancelled"))
        ).one()
    assert cancelled == 1
    await page.close()


async def test_agent_places_a_new_order_without_a_number_with_a_double_click(
    busy: Busy, chromium: Browser, settings: Settings
) -> None:
    server, url = busy.url, settings.database_url
    email = unique_email()
    page = await chromium.new_page(locale="en-GB", viewport={"width": 1280, "height": 1100})
    await _console_login(page, server, staff_key(url, "customer_service", "Agent Ina"))
    await page.goto(f"{server}/console/new")
    for label, value in {
        "Name": "Jan Roth",
        "E-mail": email,
        "Street": "Am Markt 2",
        "Postcode": "28195",
        "City": "Bremen",
    }.items():
        await page.get_by_label(label, exact=True).fill(value)
    await page.get_by_label("Lines").fill("TS-0000 1")

    before = busy.app.answered.get("/console/new", 0)
    await _double_click(page, page.get_by_role("button", name="Place order"), "/console/new")
    await expect(page.locator(".flash.ok")).to_contain_text("placed for Jan Roth")
    await _both_arrived(busy.app, "/console/new", before)

    with Session(get_engine(url, readonly=True)) as s:
        placed = s.exec(select(OrderRecord.order_id).where(OrderRecord.customer_email == email))
        orders = list(placed.all())
    assert len(orders) == 1, orders
    await expect(page).to_have_url(f"{server}/console/orders/{orders[0]}")
    await page.close()


async def test_agent_starts_a_return_with_a_double_click(
    busy: Busy,
    chromium: Browser,
    api: httpx.AsyncClient,
    settings: Settings,
) -> None:
    server, url = busy.url, settings.database_url
    sku = make_sku(url, {warehouse_in(url, "Dortmund"): 6}, price_cents=2999)
    oid = (await delivered_order(api, [(sku, 2)]))["order_id"]

    page = await chromium.new_page(locale="en-GB", viewport={"width": 1280, "height": 1100})
    await _console_login(page, server, staff_key(url, "customer_service", "Agent Ole"))
    await page.goto(f"{server}/console/orders/{oid}")
    form = page.locator("#return")
    await form.get_by_label("Line").select_option("L1")
    await form.get_by_label("Quantity").fill("1")

    path = f"/console/orders/{oid}/returns"
    before = busy.app.answered.get(path, 0)
    await _double_click(page, form.get_by_role("button", name="Start return"), path)
    await expect(page.locator(".flash.ok")).to_contain_text(f"return opened: R-{oid}-1")
    await _both_arrived(busy.app, path, before)

    assert [r.return_id for r in _returns_of(url, oid)] == [f"R-{oid}-1"]
    await page.close()


async def test_customer_starts_a_return_with_a_double_click(
    busy: Busy,
    chromium: Browser,
    api: httpx.AsyncClient,
    settings: Settings,
) -> None:
    server, url = busy.url, settings.database_url
    sku = make_sku(url, {warehouse_in(url, "Dortmund"): 6}, price_cents=2999)
    oid = (await delivered_order(api, [(sku, 2)]))["order_id"]
    token = order_token(settings.self_service_secret, oid)

    page = await chromium.new_page(viewport={"width": 1000, "height": 900})
    await page.goto(f"{server}/my/orders/{oid}?t={token}")
    row = page.locator('#start-return tr[data-line="L1"]')
    await row.get_by_role("spinbutton").fill("1")
    await row.get_by_role("combobox").select_option("wrong_size")

    path = f"/my/orders/{oid}/returns"
    before = busy.app.answered.get(path, 0)
    await _double_click(page, page.get_by_role("button", name="Rücksendung starten"), path)
    await expect(page.locator("#done")).to_contain_text(f"R-{oid}-1")
    await _both_arrived(busy.app, path, before)

    assert [r.return_id for r in _returns_of(url, oid)] == [f"R-{oid}-1"]
    await expect(page.locator('#start-return tr[data-line="L1"] td').nth(1)).to_have_text("1")
    await page.close()
