"""What customers read, on the real stack (Temporal, PostgreSQL, SMTP): every link is the
signed self-service link (the API's ``/orders/{id}`` answers a customer 401), the shipping
e-mail names the products, click & collect names the pickup store, and an agent's note never
reaches the customer."""

from __future__ import annotations

from email.message import EmailMessage

import httpx

from core.order_tokens import self_service_url
from core.settings import Settings
from tests.support.catalogue import make_sku, warehouses
from tests.support.orders import order_request, post_event, wait_for_status
from tests.support.smtp import Inbox, text_of, wait_for_subject


def _links_only_self_service(mail: EmailMessage, settings: Settings, order_id: str) -> None:
    text = text_of(mail)
    html = mail.get_body(preferencelist=("html",))
    assert self_service_url(settings, order_id) in text, text
    for part in (text, html.get_content() if html else ""):
        assert f"{settings.base_url}/orders/{order_id}" not in part, part


async def test_prepayment_mails_link_the_self_service_page_and_keep_the_agents_note(
    api: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    wh = warehouses(settings.database_url)[0]
    sku = make_sku(settings.database_url, {wh: 30}, price_cents=990)
    body = order_request(lines=[(sku, 25)])  # unusual quantity + new customer: prepayment
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    await wait_for_status(api, order_id, {"awaiting_payment"})
    switched = await wait_for_subject(inbox, order_id, f"Ihre Bestellung {order_id}: Zahlung")
    instructions = await wait_for_subject(inbox, order_id, "Bitte überweisen Sie")
    for mail in (switched, instructions):
        _links_only_self_service(mail, settings, order_id)
    link = self_service_url(settings, order_id).removeprefix(settings.base_url)
    assert (await api.get(link, auth=None)).status_code == 200  # the customer's link opens
    assert (await api.get(f"/orders/{order_id}", auth=None)).status_code == 401  # the API's not

    note = "Kundin ruft an, intern: Verdacht auf Betrug"
    r = await api.post(f"/orders/{order_id}/cancel", json={"agent": "cs-clara", "reason": note})
    assert r.status_code == 200, r.text
    cancelled = await wait_for_subject(inbox, order_id, f"Ihre Bestellung {order_id} wurde")
    assert note not in text_of(cancelled) and "Betrug" not in str(cancelled)
    assert "unser Kundenservice hat die Bestellung storniert" in text_of(cancelled)
    order = (await api.get(f"/orders/{order_id}")).json()
    logged = next(e for e in order["events"] if e["type"] == "cancelled")
    assert logged["detail"]["reason"] == note  # the log keeps it for the team


async def test_shipping_mail_names_the_products_and_links_the_self_service_page(
    api: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    body = order_request(lines=[("TS-0000", 1), ("HO-0005", 1)])
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, order_id, {"in_fulfilment"})
    names = {ln["sku"]: ln["name"] for ln in order["lines"]}
    shipment = order["shipments"][0]
    await post_event(api, shipment["shipment_id"], "shipped")
    mail = await wait_for_subject(inbox, order_id, f"Ihre Bestellung {order_id} ist unterwegs")
    text = text_of(mail)
    for line in shipment["lines"]:
        assert names[line["sku"]] and names[line["sku"]] != line["sku"]
        assert f"{line['quantity']} x {names[line['sku']]} ({line['sku']})" in text, text
    _links_only_self_service(mail, settings, order_id)


async def test_click_and_collect_confirmation_names_the_store_not_a_delivery(
    api: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    sku = make_sku(settings.database_url, {"ST-BERLIN": 2}, price_cents=2500)
    body = order_request(lines=[(sku, 1)], pickup_store_id="ST-BERLIN")
    body["customer"]["locale"] = "en"
    order_id = body["order_id"]
    r = await api.post("/orders", json=body)
    assert r.status_code == 202, r.text
    mail = await wait_for_subject(inbox, order_id, f"Order confirmation {order_id}", timeout=30)
    text = text_of(mail)
    assert "Pickup at: Filiale Berlin, 12353 Berlin" in text, text
    assert "Delivery address" not in text and "Expected delivery" not in text
    assert "Heidestraße" not in text  # the home address is not where the goods go
    assert "€25.00" in text and "25,00" not in text  # an English mail writes English money
    _links_only_self_service(mail, settings, order_id)
