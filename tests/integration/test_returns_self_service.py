"""The self-service page over HTTP (the browser test covers starting a return): the signed link
opens one order only, and the delivery address can be changed until the order is released (the
customer is German: the page says it in German, bad input and refusals included)."""

from __future__ import annotations

import httpx

from core.order_tokens import order_token, self_service_url
from core.settings import Settings
from tests.support.catalogue import make_sku
from tests.support.orders import order_request, wait_for_status
from tests.support.returns import delivered_order, warehouse_in

NEW = {"name": "Erika Mustermann", "street": "Neue Straße 5", "postcode": "50667", "city": "Köln"}


async def test_address_changes_while_unreleased_and_not_after(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    sku = make_sku(settings.database_url, {warehouse_in(settings.database_url, "Dortmund"): 5})
    body = order_request(lines=[(sku, 1)], payment_method="prepayment")  # waits for money
    assert (await api.post("/orders", json=body)).status_code == 202
    oid = body["order_id"]
    await wait_for_status(api, oid, {"awaiting_payment"})
    token = order_token(settings.self_service_secret, oid)
    link = self_service_url(settings, oid)
    assert link == f"http://oms.test/my/orders/{oid}?t={token}"

    page = await api.get(f"/my/orders/{oid}", params={"t": token})
    assert page.status_code == 200 and "Adresse ändern" in page.text
    r = await api.post(f"/my/orders/{oid}/delivery", data={**NEW, "t": token + "x"})
    assert r.status_code == 403
    r = await api.post(f"/my/orders/{oid}/delivery", data={**NEW, "postcode": "5066", "t": token})
    assert r.status_code == 422 and 'id="error"' in r.text
    assert "Bitte geben Sie eine deutsche Postleitzahl mit fünf Ziffern an." in r.text
    r = await api.post(f"/my/orders/{oid}/delivery", data={**NEW, "t": token})
    assert r.status_code == 303, r.text
    order = (await api.get(f"/orders/{oid}")).json()
    assert order["delivery_address"]["street"] == "Neue Straße 5"

    done = await delivered_order(api, [(sku, 1)])
    token = order_token(settings.self_service_secret, done["order_id"])
    page = await api.get(f"/my/orders/{done['order_id']}", params={"t": token})
    assert "Adresse ändern" not in page.text and "Rücksendung starten" in page.text
    r = await api.post(f"/my/orders/{done['order_id']}/delivery", data={**NEW, "t": token})
    assert r.status_code == 409
    assert "Es wurde nichts geändert. Ihre Bestellung ist abgeschlossen." in r.text
    assert "already" not in r.text  # the workflow's own English reason stays inside
