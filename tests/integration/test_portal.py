"""The store and vendor portal over HTTP (the real app, Temporal, PostgreSQL and SMTP): a
location's staff see and touch only their location's work, and what they confirm moves the
order on exactly as the shipment webhook would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlmodel import select
from temporalio.client import Client

from api.app import create_app
from api.http.auth_keys import revoke_key
from core.db.engine import session_scope
from core.db.schema import ApiKey, key_hash
from core.settings import Settings
from tests.support.orders import post_event, wait_for_event, wait_for_status
from tests.support.portal import (
    add_stock,
    csrf_of,
    place_released,
    portal_key,
    shipment_status,
    signals_received,
    stocked_sku,
)
from tests.support.smtp import Inbox, text_of, wait_for_subject

STORE, OTHER, PICKUP_STORE, WAREHOUSE = "ST-DRESDEN", "ST-LEIPZIG", "ST-HANNOVER", "WH-BERLIN"
FORM = {"content-type": "application/x-www-form-urlencoded"}

Browser = Callable[[], httpx.AsyncClient]


@pytest.fixture
async def browser(
    settings: Settings, temporal_client: Client, api: httpx.AsyncClient
) -> AsyncIterator[Browser]:
    """Independent HTTP clients (own cookie jars) on the real app; ``api`` runs the worker."""
    app = create_app(settings, temporal_client)
    clients: list[httpx.AsyncClient] = []

    def new() -> httpx.AsyncClient:
        clients.append(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://oms.test",
                headers={"Accept-Language": "en"},  # the texts asserted here are English
            )
        )
        return clients[-1]

    yield new
    for c in clients:
        await c.aclose()


async def logged_in(browser: Browser, settings: Settings, location_id: str) -> httpx.AsyncClient:
    staff = browser()
    r = await staff.post(
        "/portal/login", data={"key": portal_key(settings.database_url, location_id)}
    )
    assert r.status_code == 303 and r.headers["location"] == "/portal/queue", r.text
    return staff


async def act(staff: httpx.AsyncClient, shipment_id: str, **form: str) -> httpx.Response:
    page = await staff.get("/portal/queue")
    return await staff.post(
        f"/portal/shipments/{shipment_id}/events", data={"csrf": csrf_of(page.text), **form}
    )


async def test_bad_or_revoked_keys_are_refused(browser: Browser, settings: Settings) -> None:
    anon = browser()
    r = await anon.get("/portal/queue")
    assert r.status_code == 303 and r.headers["location"] == "/portal/login"
    for key in ("wrong", "", f"demo-{STORE.lower()}"):  # demo keys exist only in the devstack
        r = await anon.post("/portal/login", data={"key": key})
        assert r.status_code == 401 and "key: not recognised" in r.text
        assert "oms_portal" not in r.cookies
    assert (await anon.get("/portal/queue")).status_code == 303

    key = portal_key(settings.database_url, STORE)
    staff = browser()
    assert (await staff.post("/portal/login", data={"key": f"  {key} "})).status_code == 303
    assert (await staff.get("/portal/queue")).status_code == 200
    with session_scope(settings.database_url) as s:
        row = s.exec(select(ApiKey).where(ApiKey.key_hash == key_hash(key))).one()
        assert revoke_key(s, row.id or 0)
    r = await staff.get("/portal/queue")  # the signed cookie alone no longer lets anyone in
    assert r.status_code == 303 and r.headers["location"] == "/portal/login"

    forged = browser()
    forged.cookies.set("oms_portal", staff.cookies.get("oms_portal", "x") + "A", domain="oms.test")
    assert (await forged.get("/portal/queue")).status_code == 303


async def test_keys_are_stored_hashed(settings: Settings) -> None:
    key = portal_key(settings.database_url, OTHER)
    with session_scope(settings.database_url) as s:
        row = s.exec(select(ApiKey).where(ApiKey.key_hash == key_hash(key))).one()
        assert row.location_id == OTHER and key not in row.key_hash


async def test_store_sees_only_its_shipments_and_cannot_touch_others(
    browser: Browser, settings: Settings, api: httpx.AsyncClient, temporal_client: Client
) -> None:
    url = settings.database_url
    mine = await place_released(api, [(stocked_sku(url, {STORE: 10}), 1)])
    theirs = await place_released(api, [(stocked_sku(url, {OTHER: 10}), 2)])
    [my_shipment] = [s["shipment_id"] for s in mine["shipments"]]
    [their_shipment] = [s["shipment_id"] for s in theirs["shipments"]]
    assert mine["shipments"][0]["location_id"] == STORE
    assert theirs["shipments"][0]["location_id"] == OTHER

    staff = await logged_in(browser, settings, STORE)
    queue = (await staff.get("/portal/queue")).text
    assert my_shipment in queue and mine["order_id"] in queue
    assert their_shipment not in queue and theirs["order_id"] not in queue
    assert (await staff.get(f"/portal/shipments/{my_shipment}")).status_code == 200
    r = await staff.get(f"/portal/shipments/{their_shipment}")
    assert r.status_code == 404 and "not in the queue of your location" in r.text

    signals_before = await signals_received(temporal_client, theirs["order_id"])
    for form in (
        {"event": "accepted"},
        {"event": "rejected", "line_id": "L1", "reason": "x"},
        {"event": "shipped", "carrier": "DHL", "tracking_number": "STOLEN-1"},
    ):
        r = await act(staff, their_shipment, **form)
        assert r.status_code == 404, r.text
    r = await staff.post(
        f"/portal/pickups/{theirs['order_id']}/handover",
        data={"csrf": csrf_of(queue), "code": "123456", "staff": "x"},
    )
    assert r.status_code == 404
    assert shipment_status(url, their_shipment) == ("released", "")
    assert await signals_received(temporal_client, theirs["order_id"]) == signals_before

    # Own shipment, but no session or no form token: refused, nothing sent either.
    signals_before = await signals_received(temporal_client, mine["order_id"])
    r = await browser().post(
        f"/portal/shipments/{my_shipment}/events",
        data={"csrf": csrf_of(queue), "event": "accepted"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/portal/login"
    r = await staff.post(f"/portal/shipments/{my_shipment}/events", data={"event": "accepted"})
    assert r.status_code == 403
    assert shipment_status(url, my_shipment) == ("released", "")
    assert await signals_received(temporal_client, mine["order_id"]) == signals_before

    other_staff = await logged_in(browser, settings, OTHER)
    assert their_shipment in (await other_staff.get("/portal/queue")).text
    assert my_shipment not in (await other_staff.get("/portal/queue")).text


async def test_confirmed_shipped_with_tracking_moves_the_order_on(
    browser: Browser,
    settings: Settings,
    api: httpx.AsyncClient,
    inbox: Inbox,
    temporal_client: Client,
) -> None:
    url = settings.database_url
    order = await place_released(api, [(stocked_sku(url, {STORE: 10}, "Kissen Leinen"), 2)])
    [sid] = [s["shipment_id"] for s in order["shipments"]]
    staff = await logged_in(browser, settings, STORE)

    pick_list = (await staff.get(f"/portal/shipments/{sid}")).text
    assert "Kissen Leinen" in pick_list and "Erika Mustermann" in pick_list

    for kind in ("accepted", "picked", "packed"):
        r = await act(staff, sid, event=kind)
        assert r.status_code == 303, r.text
        await until_status(url, sid, kind)
    r = await act(staff, sid, event="accepted")  # backwards: the portal says no at once
    assert r.status_code == 409 and "is packed" in r.text

    signals_before = await signals_received(temporal_client, order["order_id"])
    for form, field in (
        ({"carrier": "DHL"}, "tracking_number"),
        ({"tracking_number": "00340434"}, "carrier"),
        ({"carrier": "DHL", "tracking_number": "x" * 101}, "tracking_number"),
    ):
        r = await act(staff, sid, event="shipped", **form)
        assert r.status_code == 422 and field in r.text, r.text
    r = await act(staff, sid, event="teleported")
    assert r.status_code == 422 and "event" in r.text
    assert await signals_received(temporal_client, order["order_id"]) == signals_before

    r = await act(staff, sid, event="shipped", carrier="DHL", tracking_number="00340434777")
    assert r.status_code == 303 and r.headers["location"] == "/portal/queue"
    await wait_for_status(api, order["order_id"], {"shipped"})
    assert shipment_status(url, sid) == ("shipped", "00340434777")
    shipped_mail = await wait_for_subject(
        inbox, order["order_id"], f"Ihre Bestellung {order['order_id']} ist unterwegs"
    )
    assert "00340434777" in text_of(shipped_mail)

    assert f'id="s-{sid}"' not in (await staff.get("/portal/queue")).text
    assert f'id="s-{sid}"' in (await staff.get("/portal/shipped")).text
    await post_event(api, sid, "delivered")
    await wait_for_status(api, order["order_id"], {"completed"})


async def test_rejecting_a_line_reroutes_the_shipment(
    browser: Browser, settings: Settings, api: httpx.AsyncClient
) -> None:
    url = settings.database_url
    sku = stocked_sku(url, {STORE: 10})
    order = await place_released(api, [(sku, 1)])
    [shipment] = order["shipments"]
    add_stock(url, WAREHOUSE, sku, 5)  # somewhere else to go once the store says no
    staff = await logged_in(browser, settings, STORE)

    r = await act(staff, shipment["shipment_id"], event="rejected", line_id="L404", reason="x")
    assert r.status_code == 422 and "line_id" in r.text
    r = await act(
        staff,
        shipment["shipment_id"],
        event="rejected",
        line_id=shipment["lines"][0]["line_id"],
        reason="",
    )
    assert r.status_code == 422 and "reason" in r.text

    r = await act(
        staff,
        shipment["shipment_id"],
        event="rejected",
        line_id=shipment["lines"][0]["line_id"],
        reason="not on the shelf",
    )
    assert r.status_code == 303
    await until_status(url, shipment["shipment_id"], "rerouted")
    moved = await wait_for_moved(api, order["order_id"], shipment["shipment_id"])
    assert moved["location_id"] == WAREHOUSE
    assert f'id="s-{shipment["shipment_id"]}"' not in (await staff.get("/portal/queue")).text


async def test_pickup_handover_checks_the_code(
    browser: Browser, settings: Settings, api: httpx.AsyncClient, inbox: Inbox
) -> None:
    url = settings.database_url
    sku = stocked_sku(url, {PICKUP_STORE: 10}, "Lampe Messing", price_cents=3900)
    order = await place_released(api, [(sku, 1)], pickup_store_id=PICKUP_STORE)
    order_id = order["order_id"]
    [shelf] = order["shipments"]
    assert shelf["location_id"] == PICKUP_STORE
    staff = await logged_in(browser, settings, PICKUP_STORE)
    r = await act(staff, shelf["shipment_id"], event="shipped", carrier="DHL", tracking_number="1")
    assert r.status_code == 409 and "Pickups" in r.text  # shelf items are handed over
    for kind in ("accepted", "picked", "packed"):
        assert (await act(staff, shelf["shipment_id"], event=kind)).status_code == 303
    await wait_for_status(api, order_id, {"ready_for_pickup"})
    mail = await wait_for_subject(
        inbox, order_id, f"Ihre Bestellung {order_id} liegt zur Abholung bereit"
    )
    code = text_of(mail).split("Ihr Abholcode: ")[1][:6]

    page = (await staff.get("/portal/pickups")).text
    assert order_id in page and "Lampe Messing" in page
    other = await logged_in(browser, settings, OTHER)
    assert order_id not in (await other.get("/portal/pickups")).text

    async def hand_over(who: httpx.AsyncClient, code: str) -> httpx.Response:
        token = csrf_of((await who.get("/portal/queue")).text)
        return await who.post(
            f"/portal/pickups/{order_id}/handover",
            data={"csrf": token, "code": code, "staff": "Kasse 2"},
        )

    assert (await hand_over(other, code)).status_code == 404  # not this store's order
    r = await hand_over(staff, "12ab56")
    assert r.status_code == 422 and "code" in r.text
    r = await hand_over(staff, f"{(int(code) + 1) % 1_000_000:06d}")
    assert r.status_code == 409 and "wrong pickup code" in r.text
    assert (await api.get(f"/orders/{order_id}")).json()["status"] == "ready_for_pickup"

    r = await hand_over(staff, code)
    assert r.status_code == 303 and r.headers["location"] == "/portal/pickups"
    handed = await wait_for_event(api, order_id, "picked_up")
    assert any(e["type"] == "picked_up" and e["actor"] == "Kasse 2" for e in handed["events"])
    assert shipment_status(url, shelf["shipment_id"])[0] == "picked_up"
    assert f'id="p-{order_id}"' not in (await staff.get("/portal/pickups")).text
    # Everything is handed over, so the order ends now (not at its next pickup timer).
    await wait_for_status(api, order_id, {"completed"})


async def test_webhook_still_validates_through_the_shared_path(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    order = await place_released(api, [(stocked_sku(settings.database_url, {OTHER: 5}), 1)])
    sid = order["shipments"][0]["shipment_id"]
    r = await api.post("/webhooks/shipments", json={"shipment_id": sid, "event": "shipped"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "tracking_number"]
    assert (
        await api.post("/webhooks/shipments", json={"shipment_id": "nope", "event": "accepted"})
    ).status_code == 404


async def until_status(url: str, shipment_id: str, status: str) -> None:
    """The read model shows ``status`` (the portal waited for it; this double-checks)."""
    for _ in range(300):
        if shipment_status(url, shipment_id)[0] == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"{shipment_id} never became {status}: {shipment_status(url, shipment_id)}"
    )


async def wait_for_moved(api: httpx.AsyncClient, order_id: str, old_id: str) -> dict[str, object]:
    for _ in range(300):
        order = (await api.get(f"/orders/{order_id}")).json()
        fresh = [
            s
            for s in order["shipments"]
            if s["shipment_id"] != old_id and s["status"] == "released"
        ]
        if fresh:
            return fresh[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{order_id}: no re-routed shipment")
