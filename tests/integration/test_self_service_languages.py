"""The customer's self-service page in the customer's language over HTTP (the real app over ASGI,
real Temporal and PostgreSQL): a German customer's order reads German throughout, an English
customer's English, whatever the browser prefers and whatever a staff user picked; the switch
at the top picks the other language, kept in a cookie of its own for the customer's pages; a
link that is not valid speaks the browser's language; the switch never leads off the site."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from html import unescape
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from api.pages.self_service.routes import LANGUAGE_COOKIE
from api.pages.translations import LANGUAGE_COOKIE as STAFF_COOKIE
from core.order_tokens import order_token
from core.settings import Settings
from tests.support.catalogue import make_sku
from tests.support.orders import order_request, wait_for_status
from tests.support.returns import delivered_order, warehouse_in
from tests.unit.test_customer_translations import assert_one_language, shown

NewClient = Callable[..., httpx.AsyncClient]
ENGLISH_BROWSER = {"Accept-Language": "en-GB,en;q=0.9"}
GERMAN_BROWSER = {"Accept-Language": "de-DE,de;q=0.9"}


@pytest.fixture
async def browser(
    settings: Settings, temporal_client: Client, api: httpx.AsyncClient
) -> AsyncIterator[NewClient]:
    """Independent browsers (own cookie jars, own ``Accept-Language``) on the real app, so a
    language cookie never reaches another test's pages."""
    app = create_app(settings, temporal_client)
    clients: list[httpx.AsyncClient] = []

    def new(headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app)
        clients.append(
            httpx.AsyncClient(transport=transport, base_url="http://oms.test", headers=headers)
        )
        return clients[-1]

    yield new
    for c in clients:
        await c.aclose()


def _customer(locale: str) -> dict[str, Any]:
    name = "Erika Mustermann" if locale == "de" else "Emily Smith"
    return {"id": f"C-{locale}-1", "email": "kunde@example.org", "name": name, "locale": locale}


def _data(order: dict[str, Any]) -> str:
    """The order's own words (names, address, items): the same in every language."""
    a = order["delivery_address"]
    items = " ".join(f"{ln['name']} {ln['sku']}" for ln in order["lines"])
    names = " ".join(_customer(lang)["name"] for lang in ("de", "en"))
    return f"{names} {a['name']} {a['street']} {a['city']} {items}"


def _check(html: str, lang: str, order: dict[str, Any]) -> str:
    """The page's readable text, checked to be in ``lang`` only (the order's data aside)."""
    text = shown(html)
    data = set(re.findall(r"[A-Za-zÄÖÜäöüß]+", _data(order)))
    assert_one_language(
        " ".join(w for w in re.split(r"(\W+)", text) if w not in data), lang, order["order_id"]
    )
    assert f'<html lang="{lang}">' in html
    return unescape(text)


def _switch_link(html: str, lang: str) -> str:
    found = re.search(rf'<a href="([^"]+)" lang="{lang}"', html)
    assert found, html[:2000]
    return unescape(found.group(1))


async def test_a_german_customer_reads_german_and_can_switch_to_english(
    browser: NewClient, api: httpx.AsyncClient, settings: Settings
) -> None:
    sku = make_sku(settings.database_url, {warehouse_in(settings.database_url, "Dortmund"): 5})
    body = order_request(
        lines=[(sku, 1)],
        payment_method="prepayment",
        customer=_customer("de"),
        delivery_instructions="Garage",
    )  # waits for the money: the forms are open
    assert (await api.post("/orders", json=body)).status_code == 202
    oid = body["order_id"]
    order = await wait_for_status(api, oid, {"awaiting_payment"})
    link = f"/my/orders/{oid}?t={order_token(settings.self_service_secret, oid)}"

    # an English browser, and a staff user who picked English: the order's language wins
    customer = browser(ENGLISH_BROWSER)
    customer.cookies.set(STAFF_COOKIE, "en")
    page = await customer.get(link)
    assert page.status_code == 200 and page.headers["content-language"] == "de"
    text = _check(page.text, "de", order)
    assert "wartet auf Ihre Zahlung" in text and "Adresse ändern" in text
    assert "Lieferhinweise speichern" in text and "wird vorbereitet" in text  # its parcel
    assert re.search(r"\d{1,3},\d\d €", text)  # money the German way

    # the switch: English, kept for the customer's pages only, and back on the same page
    r = await customer.get(_switch_link(page.text, "en"))
    assert r.status_code == 303 and r.headers["location"] == link
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{LANGUAGE_COOKIE}=en;") and "Path=/my/" in cookie
    assert "Max-Age=31536000" in cookie
    page = await customer.get(r.headers["location"])
    assert page.headers["content-language"] == "en"
    text = _check(page.text, "en", order)
    assert "waiting for your payment" in text and "Change address" in text
    assert re.search(r"€\d+\.\d\d", text)
    assert 'aria-current="true">English</a>' in page.text

    # a change on the English page answers in English; then back to German
    r = await customer.post(
        f"/my/orders/{oid}/delivery-instructions",
        data={"t": link.split("t=")[1], "delivery_instructions": "x" * 201},
    )
    assert r.status_code == 422
    assert "Delivery instructions can be at most 200 characters long." in r.text
    r = await customer.get(_switch_link(page.text, "de"))
    page = await customer.get(r.headers["location"])
    _check(page.text, "de", order)

    # another browser, never switched: German, as the order says
    page = await browser(ENGLISH_BROWSER).get(link)
    _check(page.text, "de", order)


async def test_each_customer_reads_their_own_language_through_delivery_and_return(
    browser: NewClient, api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    sku = make_sku(url, {warehouse_in(url, "Dortmund"): 6}, price_cents=2999)
    for lang, other_browser, words in (
        ("en", GERMAN_BROWSER, ("Return items", "Start return", "delivered", "€59.98")),
        ("de", ENGLISH_BROWSER, ("Artikel zurückschicken", "zugestellt", "59,98 €")),
    ):
        order = await delivered_order(api, [(sku, 2)], customer=_customer(lang))
        oid = order["order_id"]
        token = order_token(settings.self_service_secret, oid)
        customer = browser(other_browser)
        page = await customer.get(f"/my/orders/{oid}", params={"t": token})
        text = _check(page.text, lang, order)
        for word in words:
            assert word in text, (lang, word)

        # a return started on the page; the next page says so in the same language
        r = await customer.post(
            f"/my/orders/{oid}/returns",
            data={"t": token, "qty_L1": "1", "reason_L1": "wrong_size"},
        )
        assert r.status_code == 303, r.text[:500]
        page = await customer.get(r.headers["location"])
        text = _check(page.text, lang, order)
        rid = f"R-{oid}-1"
        started = {"en": f"Return {rid} started", "de": f"Rücksendung {rid} angelegt"}
        assert started[lang] in text
        assert {"en": "(wrong size)", "de": "(falsche Größe)"}[lang] in text

        # more than is left: refused in the customer's words, nothing opened
        r = await customer.post(
            f"/my/orders/{oid}/returns",
            data={"t": token, "qty_L1": "2", "reason_L1": "defective"},
        )
        assert r.status_code == 422 and 'id="error"' in r.text
        said = {"en": "You can return only 1 more of", "de": "können Sie nur noch 1 Stück"}
        assert said[lang] in unescape(r.text) and "unit(s)" not in r.text
        _check(r.text, lang, order)


async def test_a_link_that_is_not_valid_speaks_the_browsers_language(
    browser: NewClient, settings: Settings
) -> None:
    page = await browser(ENGLISH_BROWSER).get("/my/orders/NOPE-1", params={"t": "x" * 22})
    assert page.status_code == 403 and "This link is not valid for this order." in page.text
    assert 'lang="de"' in page.text  # the switch is there: it comes back to this link
    page = await browser(GERMAN_BROWSER).get("/my/orders/NOPE-1", params={"t": "x" * 22})
    assert page.status_code == 403 and "nicht gültig" in page.text
    page = await browser().get("/my/orders/NOPE-1", params={"t": "x" * 22})
    assert "nicht gültig" in page.text  # a browser that names neither: German
    chosen = browser(ENGLISH_BROWSER)
    chosen.cookies.set(LANGUAGE_COOKIE, "de")
    page = await chosen.get("/my/orders/NOPE-1", params={"t": "x" * 22})
    assert "nicht gültig" in page.text  # what the customer picked


async def test_the_switch_never_leads_off_the_customers_pages(browser: NewClient) -> None:
    client = browser()
    for back in ("https://evil.example/", "//evil.example", "/console", "/my/../console", ""):
        r = await client.get("/my/language/en", params={"back": back})
        assert r.status_code == 400 and "location" not in r.headers, back
        assert "set-cookie" not in r.headers
    r = await client.get("/my/language/pl", params={"back": "/my/orders/A-1?t=x"})
    assert r.status_code == 303 and "set-cookie" not in r.headers  # not a language it speaks
