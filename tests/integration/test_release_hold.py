"""The release hold: an order waits the policy's time before it goes to the warehouse, so it
can still be changed or cancelled; customer service may release it at once. On the real stack
(Temporal dev server, PostgreSQL, SMTP), with policies of the test's own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from activities.orders.planning import build_problem
from api.app import create_app
from api.services.order_intake import price_order
from core.db.engine import session_scope
from core.domain.orders import OrderRequest
from core.policy import OrderPolicy, ReleasePolicy
from core.settings import Settings
from tests.support.auth import client_for
from tests.support.catalogue import make_sku, warehouses
from tests.support.console import staff_key
from tests.support.histories import keep
from tests.support.orders import order_request, wait_for_event, wait_for_status
from tests.support.portal import csrf_of, portal_key
from tests.support.smtp import Inbox, text_of, wait_for_subject
from workflows.order.client import OrderClient

HELD = '[release]\nhold = "PT10M"\nrules = [ { payment_method = "invoice", hold = "PT0S" } ]\n'


async def _api_with(
    settings: Settings, temporal_client: Client, tmp_path: Path, toml: str
) -> AsyncIterator[httpx.AsyncClient]:
    policy = tmp_path / "policy.toml"
    policy.write_text(toml, encoding="utf-8")
    own = settings.model_copy(update={"policy_file": str(policy)})
    async with client_for(create_app(own, temporal_client), own) as api:
        yield api


@pytest.fixture
async def held_api(
    settings: Settings, temporal_client: Client, worker: None, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """Orders held ten minutes (invoice orders: none)."""
    async for api in _api_with(settings, temporal_client, tmp_path, HELD):
        yield api


@pytest.fixture
async def short_hold_api(
    settings: Settings, temporal_client: Client, worker: None, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """Orders held two seconds."""
    async for api in _api_with(settings, temporal_client, tmp_path, '[release]\nhold = "PT2S"\n'):
        yield api


def _sku(settings: Settings) -> str:
    return make_sku(settings.database_url, {warehouses(settings.database_url)[0]: 50})


async def _place(api: httpx.AsyncClient, body: dict[str, object]) -> dict[str, object]:
    r = await api.post("/orders", json=body)
    assert r.status_code == 202, r.text
    return await wait_for_status(api, str(body["order_id"]), {"payment_authorised"})


async def test_held_order_waits_and_can_still_be_changed(
    held_api: httpx.AsyncClient, settings: Settings, temporal_client: Client, inbox: Inbox
) -> None:
    body = order_request(lines=[(_sku(settings), 1)])
    order_id = str(body["order_id"])
    order = await _place(held_api, body)
    placed = datetime.fromisoformat(str(order["created_at"]))
    until = datetime.fromisoformat(str(order["changes_until"]))
    assert timedelta(minutes=9) < until - placed <= timedelta(minutes=10, seconds=5)
    assert order["release_hold_until"] == order["changes_until"]
    await asyncio.sleep(1.5)  # a card order without a hold is released well within this
    order = (await held_api.get(f"/orders/{order_id}")).json()
    assert order["status"] == "payment_authorised"
    assert all(sh["released_at"] is None for sh in order["shipments"])

    # confirmed during the hold: its self-service link is how the customer changes the order
    confirmation = await wait_for_subject(inbox, order_id, f"Bestellbestätigung {order_id}")
    assert "/my/orders/" in text_of(confirmation)
    handle = OrderClient(temporal_client, order_id)
    state = await handle.state()
    assert state.hold_until is not None and "release hold" in state.waiting_for
    assert (await handle.actions())["release_now"] == ""

    new_address = {
        "name": "Erika Mustermann",
        "street": "Unter den Linden 1",
        "postcode": "10117",
        "city": "Berlin",
    }
    r = await held_api.post(
        f"/orders/{order_id}/modify",
        json={"agent": "cs-anna", "delivery_address": new_address, "reason": "moved"},
    )
    assert r.status_code == 200, r.text

    r = await held_api.post(f"/orders/{order_id}/release-now", json={"agent": "cs-anna"})
    assert r.status_code == 200, r.text
    order = await wait_for_event(held_api, order_id, "released")
    assert order["changes_until"] is None
    assert order["delivery_address"]["postcode"] == "10117"
    live = [sh for sh in order["shipments"] if sh["status"] != "cancelled"]  # re-planned
    assert live and all(sh["released_at"] for sh in live)
    lifted = [e for e in order["events"] if e["type"] == "release_now"]
    assert [e["actor"] for e in lifted] == ["cs-anna"]
    released = next(e for e in order["events"] if e["type"] == "released")
    assert datetime.fromisoformat(released["at"]) < until  # early, not at the hold's end

    again = await held_api.post(f"/orders/{order_id}/release-now", json={"agent": "cs-anna"})
    assert again.status_code == 409 and "already released" in again.text
    state = await handle.state()
    assert state.hold_until is None
    await keep(temporal_client, f"order-{order_id}", "held_modified_released_now")


async def test_held_order_can_be_cancelled_before_release(
    held_api: httpx.AsyncClient, settings: Settings
) -> None:
    body = order_request(lines=[(_sku(settings), 2)])
    order_id = str(body["order_id"])
    await _place(held_api, body)
    r = await held_api.post(f"/orders/{order_id}/cancel", json={"agent": "cs-anna"})
    assert r.status_code == 200, r.text
    order = await wait_for_status(held_api, order_id, {"cancelled"})
    assert order["changes_until"] is None
    assert all(sh["released_at"] is None for sh in order["shipments"])
    assert all(sh["status"] == "cancelled" for sh in order["shipments"])
    refused = await held_api.post(f"/orders/{order_id}/release-now", json={"agent": "cs-anna"})
    assert refused.status_code == 409


async def test_rule_per_payment_method_releases_at_once(
    held_api: httpx.AsyncClient, settings: Settings
) -> None:
    body = order_request(lines=[(_sku(settings), 1)], payment_method="invoice")
    r = await held_api.post("/orders", json=body)
    assert r.status_code == 202, r.text
    order = await wait_for_event(held_api, str(body["order_id"]), "released")
    assert order["release_hold_until"] is None and order["changes_until"] is None
    refused = await held_api.post(
        f"/orders/{body['order_id']}/release-now", json={"agent": "cs-anna"}
    )
    assert refused.status_code == 409


async def test_hold_ends_on_its_own_then_release_follows(
    short_hold_api: httpx.AsyncClient, settings: Settings
) -> None:
    body = order_request(lines=[(_sku(settings), 1)])
    order_id = str(body["order_id"])
    r = await short_hold_api.post("/orders", json=body)
    assert r.status_code == 202, r.text
    order = await wait_for_event(short_hold_api, order_id, "released", timeout=60)
    until = datetime.fromisoformat(str(order["release_hold_until"]))
    released = [datetime.fromisoformat(sh["released_at"]) for sh in order["shipments"]]
    assert released and all(at >= until for at in released)
    assert not [e for e in order["events"] if e["type"] == "release_now"]
    detail = next(e for e in order["events"] if e["type"] == "released")["detail"]
    assert datetime.fromisoformat(detail["held_until"]) == until


async def test_console_shows_the_hold_and_releases_now(
    settings: Settings, temporal_client: Client, worker: None, tmp_path: Path
) -> None:
    """The agent sees until when the order may change and the instructions, lifts the hold
    from the console; the store's queue then shows the instructions with the parcel."""
    policy = tmp_path / "policy.toml"
    policy.write_text(HELD, encoding="utf-8")
    own = settings.model_copy(update={"policy_file": str(policy)})
    app = create_app(own, temporal_client)
    url = settings.database_url
    sku = make_sku(url, {"ST-DRESDEN": 10})  # a store keeps a few for walk-in customers
    body = order_request(lines=[(sku, 1)], delivery_instructions="Bitte beim Nachbarn abgeben")
    order_id = str(body["order_id"])
    async with client_for(app, own) as api:
        await _place(api, body)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://oms.test", headers={"Accept-Language": "en"}
    ) as web:
        r = await web.post(
            "/console/login", data={"key": staff_key(url, "customer_service", "Petra")}
        )
        assert r.status_code == 303
        page = (await web.get(f"/console/orders/{order_id}")).text
        assert 'id="release-hold"' in page and "changes possible until" in page
        assert "Bitte beim Nachbarn abgeben" in page
        assert 'id="release-now"' in page and 'id="modify"' in page
        r = await web.post(
            f"/console/orders/{order_id}/release-now",
            follow_redirects=True,
            data={"csrf": csrf_of(page), "reason": "ship today"},
        )
        assert r.status_code == 200 and "release hold lifted" in r.text
    async with client_for(app, own) as api:
        order = await wait_for_event(api, order_id, "released")
    [lifted] = [e for e in order["events"] if e["type"] == "release_now"]
    assert lifted["actor"] == "Petra" and lifted["detail"]["reason"] == "ship today"
    async with httpx.AsyncClient(transport=transport, base_url="http://oms.test") as store:
        r = await store.post("/portal/login", data={"key": portal_key(url, "ST-DRESDEN")})
        assert r.status_code == 303
        queue = (await store.get("/portal/queue", headers={"Accept-Language": "de"})).text
        assert order_id in queue and "Lieferhinweise" in queue
        assert "Bitte beim Nachbarn abgeben" in queue


def test_an_order_is_planned_for_when_its_hold_ends(settings: Settings) -> None:
    """Cut-offs count from the release: an order placed just before one, held past it, is
    promised what the warehouse can do after the hold, not a date the hold makes it miss."""
    policy = OrderPolicy(release=ReleasePolicy(hold=timedelta(minutes=10)))
    req = OrderRequest.model_validate(order_request(lines=[(_sku(settings), 1)]))
    with session_scope(settings.database_url) as s:
        order = price_order(s, req, policy, now=datetime.now(UTC))
        problem = build_problem(s, order, [])
    assert problem.order_time == order.placed_at + timedelta(minutes=10)


def test_the_promise_counts_from_the_channels_hold_too(settings: Settings, tmp_path: Path) -> None:
    """What the shop promises before checkout is planned like the order: from the end of the
    hold that order will wait (rules per channel), so both name the same date."""
    from activities.stock import promise

    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[release]\nhold = "PT10M"\nrules = [ { channel = "store", hold = "PT0S" } ]\n'
    )
    own = settings.model_copy(update={"policy_file": str(policy)})
    now = datetime.now(UTC)
    lines = [{"sku": _sku(settings), "quantity": 1}]
    with session_scope(settings.database_url) as s:
        web = promise._problem(s, promise.PromiseRequest(postcode="51147", lines=lines), own, now)
        store = promise._problem(
            s, promise.PromiseRequest(postcode="51147", channel="store", lines=lines), own, now
        )
    assert web.order_time == now + timedelta(minutes=10)
    assert store.order_time == now
