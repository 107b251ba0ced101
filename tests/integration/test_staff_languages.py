"""The staff pages in German and English over HTTP (the real app over ASGI, real Temporal and
PostgreSQL): each page family (console, dashboard, portal) asked in each language shows that
language's words, statuses, money and dates, and its own messages; the header's switch
remembers the choice in a cookie, which wins over the browser's ``Accept-Language``; a browser
that names neither language gets German."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from html import unescape

import httpx
import pytest
from sqlmodel import Session
from temporalio.client import Client

from api.app import create_app
from api.pages.translations import LANGUAGE_COOKIE, Words
from core.db.engine import get_engine
from core.db.schema import OrderRecord
from core.settings import Settings
from tests.support.console import ALL_ROLES, place, staff_key, wait_status
from tests.support.portal import csrf_of, place_released, portal_key, stocked_sku

STORE = "ST-DRESDEN"
DE, EN = Words("de"), Words("en")
GERMAN_BROWSER = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
ENGLISH_BROWSER = {"Accept-Language": "en-GB,en;q=0.9"}

NewClient = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def browser(
    settings: Settings, temporal_client: Client, api: httpx.AsyncClient
) -> AsyncIterator[NewClient]:
    """Independent browsers (own cookie jars, own ``Accept-Language``) on the real app."""
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


def _text(html: str) -> str:
    """What a person reads: no tags, entities resolved, spaces as spaces."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).replace("\xa0", " ")


def _created(url: str, order_id: str) -> datetime:
    with Session(get_engine(url, readonly=True)) as s:
        rec = s.get(OrderRecord, order_id)
        assert rec is not None
        return rec.created_at


async def _console(
    browser: NewClient, settings: Settings, headers: dict[str, str]
) -> httpx.Response:
    web = browser(headers)
    key = staff_key(settings.database_url, ALL_ROLES, "Agent Sprache")
    r = await web.post("/console/login", data={"key": key}, follow_redirects=True)
    assert r.status_code == 200, r.text
    return r


async def test_console_in_german_and_in_english(
    browser: NewClient, api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    shop = staff_key(url, ALL_ROLES, "Web shop")
    order_id = await place(api, shop, lines=[("TS-0000", 2)])
    await wait_status(url, order_id, {"in_fulfilment"})
    placed = _created(url, order_id)

    for headers, words, want, unwanted in (
        (
            GERMAN_BROWSER,
            DE,
            ["Neueste Bestellungen", "Bestellungen", "Katalog", "Abmelden", "in Abwicklung"],
            ["Latest orders", "Log out", "in fulfilment"],
        ),
        (
            ENGLISH_BROWSER,
            EN,
            ["Latest orders", "Orders", "Catalogue", "Log out", "in fulfilment"],
            ["Neueste Bestellungen", "Abmelden", "in Abwicklung"],
        ),
    ):
        landed = await _console(browser, settings, headers)
        flash = words.gettext("logged in: %(who)s", who="Agent Sprache")
        assert flash in _text(landed.text)  # the console's own message, in the language
        assert landed.headers["content-language"] == words.lang
        assert f'<html lang="{words.lang}">' in landed.text
        page = _text(landed.text)
        for text in want:
            assert text in page, (words.lang, text)
        for text in unwanted:
            assert text not in page, (words.lang, text)

        order = await _order_page(browser, settings, headers, order_id)
        total = re.search(r"<strong>([^<]*)</strong></dd>", order)
        assert total is not None
        money = total.group(1).replace("\xa0", " ")
        if words is DE:
            assert re.fullmatch(r"\d+,\d\d €", money), money
            for text in ("Bestellung " + order_id, "Verlauf", "Positionen", "Sendungen",
                         "Zahlungen", "Aktionen", "Stück stornieren", "wartet auf"):  # fmt: skip
                assert text in _text(order), text
        else:
            assert re.fullmatch(r"€\d+\.\d\d", money), money
            for text in ("Order " + order_id, "Timeline", "Lines", "Shipments", "Payments",
                         "Actions", "Cancel units", "waiting for"):  # fmt: skip
                assert text in _text(order), text
        assert words.when(placed) in _text(order)  # dates the language's way


async def _order_page(
    browser: NewClient, settings: Settings, headers: dict[str, str], order_id: str
) -> str:
    web = browser(headers)
    key = staff_key(settings.database_url, "customer_service", "Agent Seite")
    assert (await web.post("/console/login", data={"key": key})).status_code == 303
    r = await web.get(f"/console/orders/{order_id}")
    assert r.status_code == 200
    return r.text


async def test_the_switch_is_remembered_and_wins_over_the_browser(
    browser: NewClient, settings: Settings
) -> None:
    web = browser(ENGLISH_BROWSER)
    login = (await web.get("/console/login")).text
    assert "<h1>Log in</h1>" in login
    assert 'href="/console/language/de?back=/console/login"' in login  # the header's switch
    r = await web.get("/console/language/de", params={"back": "/console/login"})
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert web.cookies.get(LANGUAGE_COOKIE) == "de"
    assert "<h1>Anmelden</h1>" in (await web.get("/console/login")).text  # despite the browser
    assert "<h1>Anmelden</h1>" in (await web.get("/portal/login")).text  # every staff page

    r = await web.get("/portal/language/en", params={"back": "https://elsewhere.example/"})
    assert r.status_code == 303 and r.headers["location"] == "/portal/queue"  # never off-site
    assert "<h1>Log in</h1>" in (await web.get("/console/login")).text
    r = await web.get("/console/language/xx")  # not offered: nothing changes
    assert r.status_code == 303 and web.cookies.get(LANGUAGE_COOKIE) == "en"

    nobody = browser()  # no Accept-Language at all: the retailer's German
    assert "<h1>Anmelden</h1>" in (await nobody.get("/console/login")).text
    polish = browser({"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.4"})
    assert "<h1>Log in</h1>" in (await polish.get("/portal/login")).text


async def test_console_messages_and_refusals_in_german(
    browser: NewClient, api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    order_id = await place(api, staff_key(url, ALL_ROLES, "Web shop"), lines=[("TS-0000", 2)])
    await wait_status(url, order_id, {"in_fulfilment"})
    web = browser(GERMAN_BROWSER)
    r = await web.post("/console/login", data={"key": "oms_not-a-key"})
    assert r.status_code == 401
    assert "kein Schlüssel für Kundenservice oder Betrieb" in r.text
    await web.post("/console/login", data={"key": staff_key(url, "customer_service", "Agentin")})
    r = await web.post(
        f"/console/orders/{order_id}/cancel", data={"csrf": "forged"}, follow_redirects=True
    )
    assert "abgelehnt: das Formular ist veraltet" in _text(r.text)
    page = (await web.get(f"/console/orders/{order_id}")).text
    r = await web.post(
        f"/console/orders/{order_id}/cancel-lines",
        data={"csrf": csrf_of(page), "line_id": "L1", "quantity": "1", "reason": "Kunde"},
        follow_redirects=True,
    )
    said = _text(r.text)
    assert "Teilstornierung:" in said and "Status in Abwicklung" in said, said
    assert re.search(r"Summe \d+,\d\d €", said), said


async def test_dashboard_in_german_and_in_english(browser: NewClient, settings: Settings) -> None:
    for headers, words, want in (
        (GERMAN_BROWSER, DE, ["Heute", "Bestellungen heute", "Umsatz heute", "Stand"]),
        (ENGLISH_BROWSER, EN, ["Today", "Orders today", "Revenue today", "as of"]),
    ):
        web = browser(headers)
        key = staff_key(settings.database_url, "operations", "Ops Sprache")
        assert (await web.post("/console/login", data={"key": key})).status_code == 303
        page = (await web.get("/dashboard")).text
        data = (await web.get("/dashboard/data")).json()
        for text in want:
            assert text in _text(page), (words.lang, text)
        for text in want[1:]:
            assert text in _text(data["html"]), (words.lang, text)  # the polled panels too
        revenue = re.search(r'data-metric="revenue">([^<]*)<', data["html"])
        assert revenue and revenue.group(1) == words.money(data["revenue_cents"])
        assert words.gettext("live · every %(n)s s", n=3) in _text(page)


async def test_portal_in_german_and_in_english(
    browser: NewClient, api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    released = await place_released(api, [(stocked_sku(url, {STORE: 10}), 1)])
    [shipment] = [s["shipment_id"] for s in released["shipments"]]
    for headers, words, want in (
        (
            GERMAN_BROWSER,
            DE,
            ["Zu kommissionieren, packen und versenden", "Aufgaben", "Abholungen", "Retouren",
             "Versenden bis", "freigegeben", "Annehmen", "Pickliste", "Abmelden"],
        ),
        (
            ENGLISH_BROWSER,
            EN,
            ["To pick, pack and ship", "Queue", "Returns", "Ship by", "released", "Accept",
             "Pick list", "Log out"],
        ),
    ):  # fmt: skip
        staff = browser(headers)
        r = await staff.post("/portal/login", data={"key": "oms_not-a-key"})
        assert r.status_code == 401 and words.gettext(
            "key: not recognised (ask your manager for your location's key)"
        ) in unescape(r.text)
        r = await staff.post("/portal/login", data={"key": portal_key(url, STORE)})
        assert r.status_code == 303
        queue = (await staff.get("/portal/queue")).text
        assert shipment in queue
        for text in want:
            assert text in _text(queue), (words.lang, text)
        picklist = (await staff.get(f"/portal/shipments/{shipment}")).text
        assert words.ngettext("%(num)s unit", "%(num)s units", 1) in _text(picklist)
        assert words.gettext("Pick list %(id)s", id=shipment) in _text(picklist)

    staff = browser(GERMAN_BROWSER)
    await staff.post("/portal/login", data={"key": portal_key(url, STORE)})
    page = (await staff.get("/portal/queue")).text
    r = await staff.post(
        f"/portal/shipments/{shipment}/events",
        data={"csrf": csrf_of(page), "event": "accepted"},
        follow_redirects=True,
    )
    said = _text(r.text)
    assert f"{shipment} ist angenommen; Bestellstatus: in Abwicklung" in said, said
    r = await staff.post(
        f"/portal/shipments/{shipment}/events", data={"csrf": csrf_of(page), "event": "accepted"}
    )
    assert r.status_code == 409
    assert f"Sendung {shipment} ist angenommen: sie kann jetzt nicht als angenommen" in _text(
        r.text
    )
