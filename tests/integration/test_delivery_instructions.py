"""Delivery instructions end to end (real Temporal, PostgreSQL and SMTP): the shop sends them
with the order, they reach the order view, the console's data, the confirmation e-mail and,
with the release, each parcel's record and the location's pick list; the customer changes them
on the self-service page (and customer service through ``modify``) until the order is released
(an e-mail confirms it, the event log names the customer), without a new payment or new
shipments; bad text is 422 naming the field (on the page in the customer's words) and changes
nothing; after release the order refuses, and the page says why in the customer's words."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, select
from temporalio.client import Client

from activities.messaging.templates import local_datetime
from api.pages.console import views as console_views
from api.pages.portal import views as portal_views
from api.pages.web_session import LOCAL_TZ
from api.services.order_changes import change_window
from api.services.order_intake import start_order
from core.db.engine import session_scope
from core.db.schema import PaymentTransaction, ShipmentRecord
from core.domain.orders import MAX_DELIVERY_INSTRUCTIONS, OrderRequest, OrderStatus
from core.domain.shipment_book import ShipmentBook
from core.order_tokens import order_token
from core.rules import refusals
from core.settings import Settings
from tests.support.histories import keep
from tests.support.orders import order_request, ship_and_deliver, wait_for_status
from tests.support.portal import stocked_sku
from tests.support.smtp import Inbox, text_of, wait_for_subject

WAREHOUSE, PICKUP_STORE = "WH-BERLIN", "ST-HANNOVER"
NEIGHBOUR = "Bitte beim Nachbarn (Hausnummer 19) abgeben"
TERRACE = "Auf der Terrasse hinter dem Haus ablegen"
BAD = {"too_long": "x" * (MAX_DELIVERY_INSTRUCTIONS + 1), "control": "Klingel\x07kaputt"}
RELEASED = refusals.modify_closed(OrderStatus.IN_FULFILMENT, False, True, ShipmentBook())
"""The order's own reason once released (the rule its Update validator applies)."""
RELEASED_SAID = "Ihre Bestellung wird bereits für den Versand verpackt."
"""The same, as the German customer reads it on the self-service page."""
BAD_SAID = {
    "too_long": f"Lieferhinweise dürfen höchstens {MAX_DELIVERY_INSTRUCTIONS} Zeichen lang sein.",
    "control": "Lieferhinweise müssen einfacher Text sein",
}


def _locs(r: httpx.Response) -> list[list[Any]]:
    assert r.status_code == 422, (r.status_code, r.text[:500])
    return [e["loc"] for e in r.json()["detail"]]


def _shipments(order: dict[str, Any]) -> dict[str, str]:
    return {s["shipment_id"]: s["status"] for s in order["shipments"]}


def _authorisations(url: str, order_id: str) -> int:
    with session_scope(url) as s:
        return len(
            s.exec(
                select(PaymentTransaction).where(
                    PaymentTransaction.order_id == order_id, PaymentTransaction.kind == "authorise"
                )
            ).all()
        )


def _modified(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in order["events"] if e["type"].startswith("modified_")]


async def test_the_shops_instructions_reach_the_order_the_parcel_and_its_pick_list(
    api: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    url = settings.database_url
    sku = stocked_sku(url, {WAREHOUSE: 5})
    body = order_request(lines=[(sku, 1)], delivery_instructions=f"  {NEIGHBOUR}\r\n")
    assert (await api.post("/orders", json=body)).status_code == 202
    oid = body["order_id"]
    order = await wait_for_status(api, oid, {"in_fulfilment"})

    assert order["delivery_instructions"] == NEIGHBOUR  # one line, trimmed
    [parcel] = order["shipments"]
    assert parcel["location_id"] == WAREHOUSE and parcel["delivery_instructions"] == NEIGHBOUR
    with session_scope(url) as s:
        page = console_views.order_page(s, oid)
        assert page is not None and page.delivery_instructions == NEIGHBOUR
        queued = [v for v in portal_views.queue(s, WAREHOUSE) if v.order_id == oid]
        assert [v.delivery_instructions for v in queued] == [NEIGHBOUR]
        rec = s.get(ShipmentRecord, parcel["shipment_id"])
        assert rec is not None
        picklist = portal_views.shipment_view(s, rec)  # what the pick list page renders
        assert picklist.delivery_instructions == NEIGHBOUR
    mail = await wait_for_subject(inbox, oid, "Bestellbestätigung")
    assert f"Lieferhinweis: {NEIGHBOUR}" in text_of(mail)
    assert "Lieferhinweise ändern" in text_of(mail)


async def test_bad_instructions_are_422_naming_the_field_and_create_nothing(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    for text in BAD.values():
        body = order_request(delivery_instructions=text)
        assert ["body", "delivery_instructions"] in _locs(await api.post("/orders", json=body))
        assert (await api.get(f"/orders/{body['order_id']}")).status_code == 404
    sku = stocked_sku(settings.database_url, {PICKUP_STORE: 2})
    pickup = order_request(
        lines=[(sku, 1)], pickup_store_id=PICKUP_STORE, delivery_instructions=NEIGHBOUR
    )
    assert ["body", "delivery_instructions"] in _locs(await api.post("/orders", json=pickup))
    assert (await api.get(f"/orders/{pickup['order_id']}")).status_code == 404


async def test_the_customer_changes_them_in_self_service_until_the_order_is_released(
    api: httpx.AsyncClient, settings: Settings, inbox: Inbox, temporal_client: Client
) -> None:
    url = settings.database_url
    sku = stocked_sku(url, {WAREHOUSE: 5}, price_cents=3000)
    body = order_request(
        lines=[(sku, 1)], payment_method="prepayment", delivery_instructions="Garage"
    )  # routed and reserved, waits for the money: not released yet
    assert (await api.post("/orders", json=body)).status_code == 202
    oid = body["order_id"]
    before = await wait_for_status(api, oid, {"awaiting_payment"})
    token = order_token(settings.self_service_secret, oid)
    path = f"/my/orders/{oid}"

    page = await api.get(path, params={"t": token})
    assert page.status_code == 200
    assert 'id="instructions-open"' in page.text and "Lieferhinweise speichern" in page.text
    assert 'value="Garage"' in page.text

    async def change(text: str, t: str = token) -> httpx.Response:
        return await api.post(
            f"{path}/delivery-instructions", data={"t": t, "delivery_instructions": text}
        )

    assert (await change(NEIGHBOUR, token + "x")).status_code == 403
    for kind, text in BAD.items():
        r = await change(text)
        assert r.status_code == 422 and BAD_SAID[kind] in r.text, r.text[:300]
        assert 'id="error"' in r.text
    r = await change("\x00")
    assert r.status_code == 422 and BAD_SAID["control"] in r.text
    r = await api.post(f"{path}/delivery-instructions", data={"t": token})  # no field at all
    assert r.status_code == 422 and "Bitte prüfen Sie Ihre Eingaben." in r.text
    after_bad = (await api.get(f"/orders/{oid}")).json()
    assert after_bad["delivery_instructions"] == "Garage" and not _modified(after_bad)

    r = await change(NEIGHBOUR)
    assert r.status_code == 303, r.text[:500]
    assert "done=instructions" in r.headers["location"]
    shown = await api.get(r.headers["location"])
    assert "Ihre Lieferhinweise wurden geändert." in shown.text and NEIGHBOUR in shown.text
    order = (await api.get(f"/orders/{oid}")).json()
    assert order["delivery_instructions"] == NEIGHBOUR
    [entry] = _modified(order)
    assert entry["actor"] == "customer"
    assert entry["detail"]["delivery_instructions"] == NEIGHBOUR
    assert _shipments(order) == _shipments(before)  # not re-planned: same parcels, reserved
    assert order["total_cents"] == before["total_cents"]
    mail = await wait_for_subject(inbox, oid, "Ihre geänderte Bestellung")
    assert f"Lieferhinweis: {NEIGHBOUR}" in text_of(mail)

    r = await change(NEIGHBOUR)  # the same again: nothing to change, no Update, no e-mail
    assert r.status_code == 303 and "done=unchanged" in r.headers["location"]
    assert len(_modified((await api.get(f"/orders/{oid}")).json())) == 1

    r = await api.post(
        "/webhooks/payments",
        json={"order_id": oid, "payment_id": "BANK-1", "amount_cents": order["total_cents"]},
    )
    assert r.status_code == 202
    released = await wait_for_status(api, oid, {"in_fulfilment"})
    assert {s["delivery_instructions"] for s in released["shipments"]} == {NEIGHBOUR}

    page = await api.get(path, params={"t": token})
    assert 'id="instructions-closed"' in page.text and RELEASED_SAID in page.text
    assert RELEASED not in page.text  # the workflow's English stays behind the page
    assert "Lieferhinweise speichern" not in page.text and 'id="changes-until"' not in page.text
    r = await change(TERRACE)
    assert r.status_code == 409 and f"Es wurde nichts geändert. {RELEASED_SAID}" in r.text
    assert RELEASED not in r.text
    final = (await api.get(f"/orders/{oid}")).json()
    assert final["delivery_instructions"] == NEIGHBOUR and len(_modified(final)) == 1
    assert len([m for m in inbox.for_order(oid) if "geänderte" in str(m["Subject"])]) == 1

    for parcel in released["shipments"]:  # its workflow ends: the page still says why not
        await ship_and_deliver(api, parcel["shipment_id"])
    await wait_for_status(api, oid, {"completed"})
    page = await api.get(path, params={"t": token})
    assert "Die Lieferhinweise können nicht mehr geändert werden. " in page.text
    assert "Ihre Bestellung ist abgeschlossen." in page.text
    assert refusals.closed(OrderStatus.COMPLETED, True) not in page.text
    assert "Lieferhinweise speichern" not in page.text
    await keep(temporal_client, f"order-{oid}", "instructions_changed_then_paid")


async def _in_hold(client: Client, order_id: str, timeout: float = 30.0) -> datetime:
    """The end of the order's release hold, once the order waits in it for changes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        window = await change_window(client, order_id)
        if window.open and window.until is not None:
            return window.until
        await asyncio.sleep(0.2)
    raise AssertionError(f"order {order_id} never waited in its release hold")


async def test_in_the_release_hold_a_card_order_changes_them_without_new_payment_or_parcels(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client, tmp_path: Path
) -> None:
    """A card order is authorised and routed while it waits in the hold: changing only the
    instructions must neither authorise again nor give up its parcels and route anew."""
    url = settings.database_url
    policy = tmp_path / "hold.toml"
    policy.write_text('[release]\nhold = "PT30M"\n', encoding="utf-8")
    held = settings.model_copy(update={"policy_file": str(policy)})
    sku = stocked_sku(url, {WAREHOUSE: 5}, price_cents=4000)
    req = OrderRequest.model_validate(
        order_request(lines=[(sku, 1)], delivery_instructions="Garage")
    )
    order_in = await start_order(req, held, temporal_client)
    oid = req.order_id
    until = await _in_hold(temporal_client, oid)
    assert until == order_in.placed_at + timedelta(minutes=30)
    before = (await api.get(f"/orders/{oid}")).json()
    assert before["status"] == "payment_authorised" and _authorisations(url, oid) == 1

    token = order_token(settings.self_service_secret, oid)
    page = await api.get(f"/my/orders/{oid}", params={"t": token})
    when = local_datetime(until, "de", LOCAL_TZ)
    assert f"Änderungen möglich bis {when}" in page.text

    r = await api.post(
        f"/my/orders/{oid}/delivery-instructions",
        data={"t": token, "delivery_instructions": NEIGHBOUR},
    )
    assert r.status_code == 303, r.text[:500]
    after = (await api.get(f"/orders/{oid}")).json()
    assert after["delivery_instructions"] == NEIGHBOUR
    assert _shipments(after) == _shipments(before)  # the same reserved parcels
    assert _authorisations(url, oid) == 1  # no new authorisation, nothing voided
    assert after["total_cents"] == before["total_cents"]

    # customer service, through the JSON modify path: 422 naming the field, then a change
    for text in BAD.values():
        r = await api.post(
            f"/orders/{oid}/modify", json={"agent": "cs-anna", "delivery_instructions": text}
        )
        assert ["body", "delivery_instructions"] in _locs(r)
    r = await api.post(
        f"/orders/{oid}/modify", json={"agent": "cs-anna", "delivery_instructions": TERRACE}
    )
    assert r.status_code == 200, r.text
    assert r.json()["total_cents"] == before["total_cents"]
    after = (await api.get(f"/orders/{oid}")).json()
    assert [e["actor"] for e in _modified(after)] == ["customer", "cs-anna"]
    assert _shipments(after) == _shipments(before) and _authorisations(url, oid) == 1

    r = await api.post(f"/orders/{oid}/release-now", json={"agent": "cs-anna"})
    assert r.status_code == 200, r.text
    released = await wait_for_status(api, oid, {"in_fulfilment"})
    assert {s["delivery_instructions"] for s in released["shipments"]} == {TERRACE}
    with session_scope(url) as s:
        cancelled = s.exec(
            select(ShipmentRecord).where(
                ShipmentRecord.order_id == oid, col(ShipmentRecord.status) == "cancelled"
            )
        ).all()
        assert not cancelled
    page = await api.get(f"/my/orders/{oid}", params={"t": token})
    assert 'id="changes-until"' not in page.text and RELEASED_SAID in page.text


async def test_a_pickup_order_takes_no_delivery_instructions(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    sku = stocked_sku(settings.database_url, {PICKUP_STORE: 3})
    body = order_request(
        lines=[(sku, 1)], pickup_store_id=PICKUP_STORE, payment_method="cash_on_pickup"
    )
    assert (await api.post("/orders", json=body)).status_code == 202
    oid = body["order_id"]
    await wait_for_status(api, oid, {"in_fulfilment", "ready_for_pickup"})
    r = await api.post(
        f"/orders/{oid}/modify", json={"agent": "cs-anna", "delivery_instructions": NEIGHBOUR}
    )
    assert ["body", "delivery_instructions"] in _locs(r)
    token = order_token(settings.self_service_secret, oid)
    page = await api.get(f"/my/orders/{oid}", params={"t": token})
    assert page.status_code == 200 and "Lieferhinweise" not in page.text
