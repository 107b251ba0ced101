"""The customer's self-service page in the customer's language, without a server: every text
of the page is in the ``customer`` catalogue (translated, placeholders kept), no template shows
words outside it, every status, reason and refusal has customer words, and the page rendered
in every state reads in one language only: a German customer's page carries no English word
(and no code, no ISO date, no English money), an English customer's no German one. The
language is the switch's cookie, else the order's, else (no order) the browser's, else German.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, get_args

import pytest
from starlette.requests import Request

from activities.returns.requests import Returnable
from api.pages import translations
from api.pages.self_service import views
from api.pages.self_service import words as said
from api.pages.self_service.routes import (
    LANGUAGE_COOKIE,
    TEMPLATES,
    language_of,
    switch,
    words_for,
)
from api.pages.translations import CUSTOMER, CUSTOMER_LANGUAGES, Words
from api.services.invoices import Listed
from api.services.order_changes import ChangeWindow
from core.db.schema import ReturnRecord, ShipmentRecord
from core.domain.commands import ModifyRequest
from core.domain.orders import Address, OrderInput, OrderLine, OrderStatus
from core.domain.returns import ReturnInput, ReturnReason, ReturnRequest, ReturnStatus
from core.domain.shipment_book import ShipmentBook
from core.domain.shipments import GONE, ShipmentStatus
from core.rules import refusals
from tests.unit.test_staff_translations import _bare_words

PAGES = translations.PAGES
TEMPLATE_FILES = sorted((PAGES / "templates/self_service").glob("*.html"))
DE, EN = Words("de", CUSTOMER.name), Words("en", CUSTOMER.name)
WORDS = {"de": DE, "en": EN}

ENGLISH = [
    "the", "your", "you", "and", "order", "orders", "parcel", "parcels", "return", "returns",
    "delivery", "address", "change", "changes", "changed", "possible", "until", "download",
    "invoice", "invoices", "track", "total", "shipping", "item", "items", "quantity", "reason",
    "start", "started", "refund", "refunded", "label", "being", "packed", "shipped",
    "delivered", "cancelled", "not", "can", "longer", "please", "save", "instructions",
    "street", "postcode", "town", "yet", "way", "its", "on", "expected", "ordered", "goes",
    "to", "of", "with", "no", "this", "is", "has", "been", "December", "waiting", "payment",
    "completed", "received", "confirmed", "checked", "price", "amount", "document", "date",
    "credit", "note", "corrects", "language", "sorry", "link", "valid", "nothing", "for",
    "size", "wrong", "mind", "defective", "late", "arrived", "other", "our", "customer",
    "service", "help", "we", "us", "there", "more", "once", "days", "print", "stick",
]  # fmt: skip
GERMAN = [
    "Ihre", "Ihr", "Sie", "und", "der", "die", "das", "nicht", "Bestellung", "Paket", "Pakete",
    "Artikel", "Lieferadresse", "Lieferhinweise", "Rechnung", "Rechnungen", "Rücksendung",
    "Rücksendungen", "bis", "zum", "Menge", "Grund", "Versand", "Gesamt", "ändern",
    "speichern", "verfolgen", "herunterladen", "möglich", "wird", "verpackt", "unterwegs",
    "zugestellt", "storniert", "Straße", "Postleitzahl", "Ort", "Dezember", "bestellt",
    "voraussichtlich", "Erstattung", "erstattet", "Gutschrift", "Beleg", "Betrag", "Datum",
    "Sprache", "noch", "mehr", "geändert", "Bitte", "bitte", "Etikett", "Zahlung",
    "abgeschlossen", "Lager", "Tage", "Kundenservice", "falsche", "Größe", "defekt",
]  # fmt: skip
FOREIGN = {"de": ENGLISH, "en": GERMAN}
AMOUNT = {"de": "1.234,56 €", "en": "€1,234.56"}
PLACED = {"de": "3. Dezember 2026", "en": "3 December 2026"}
PROMISED = {"de": "24. Dezember 2026", "en": "24 December 2026"}

NAME, STREET, CITY = "Erika Mustermann", "Heidestraße 17", "Köln"
ITEM, LAMP = "Leinenhemd", "Tischlampe"
OID = "T-1"


# ---- the catalogue ---------------------------------------------------------------------------


def test_the_customer_page_speaks_english_and_german() -> None:
    assert CUSTOMER_LANGUAGES == ("en", "de")
    assert CUSTOMER.name != translations.STAFF.name  # its own catalogue, apart from staff's


@pytest.mark.parametrize("lang", [lang for lang in CUSTOMER_LANGUAGES if lang != "en"])
def test_every_text_of_the_customer_page_is_translated(lang: str) -> None:
    """Every text the self-service templates and modules show (``_()``, ``N_``, ``NP_``) is
    translated, placeholders kept. Fix with ``python -m api.pages.translations update``,
    then translate what it lists in ``locale/<lang>/LC_MESSAGES/customer.po``."""
    assert translations.problems(lang, CUSTOMER) == []
    assert translations.unused(lang, CUSTOMER) == []


def test_the_extraction_sees_the_templates_and_the_modules() -> None:
    """A broken extraction would make the check above pass on nothing."""
    where = {loc for m in translations.template(CUSTOMER) for loc, _ in m.locations}
    assert {f.relative_to(PAGES).as_posix() for f in TEMPLATE_FILES} <= where
    for module in ("self_service/routes.py", "self_service/views.py", "self_service/words.py"):
        assert module in where, module
    staff = {loc for m in translations.template() for loc, _ in m.locations}
    assert not {w for w in staff if "self_service" in w}  # the staff catalogue has none
    assert len(translations.template(CUSTOMER)) > 100


@pytest.mark.parametrize("template", TEMPLATE_FILES, ids=lambda p: p.name)
def test_no_template_shows_words_outside_the_catalogue(template: Path) -> None:
    assert [w for w in _bare_words(template.read_text()) if w != "Shop"] == []


def test_every_code_has_customer_words() -> None:
    """A status added to its enum fails here until the customer has words for it."""
    assert set(said.ORDER_STATUS) == set(OrderStatus)
    assert set(said.PARCEL_STATUS) == set(ShipmentStatus)
    assert set(said.RETURN_STATUS) == set(ReturnStatus)
    assert set(said.RETURN_REASON) == set(get_args(ReturnReason))
    for context, table in said.VOCABULARIES.items():
        for code in table:
            english, german = (said.status_words(w, code, context) for w in (EN, DE))
            assert "_" not in english and english != german, (context, code)
    assert said.status_words(DE, "in_fulfilment", "order status") == "wird verpackt"
    assert said.status_words(EN, "in_fulfilment", "order status") == "being packed"
    assert said.status_words(DE, "no_such_status", "order status") == "in Bearbeitung"
    assert said.reasons(DE)[0] == ("wrong_size", "falsche Größe")


def test_the_workflows_refusals_in_customer_words() -> None:
    released = refusals.modify_closed(OrderStatus.IN_FULFILMENT, False, True, ShipmentBook())
    assert said.refusal(DE, released, OID) == (
        "Ihre Bestellung wird bereits für den Versand verpackt."
    )
    assert said.refusal(EN, released, OID) == "Your order is already being packed for shipping."
    completed = refusals.closed(OrderStatus.COMPLETED, True)
    assert said.refusal(DE, completed, OID) == "Ihre Bestellung ist abgeschlossen."
    cancelled = refusals.closed(OrderStatus.CANCELLED, True)
    assert said.refusal(EN, cancelled, OID) == "Your order has been cancelled."
    assert said.refusal(DE, f"order {OID} is closed", OID) == "Ihre Bestellung ist abgeschlossen."
    nothing = refusals.modify(
        OrderStatus.CONFIRMED, False, False, ShipmentBook(), ModifyRequest(agent="c")
    )
    assert said.refusal(EN, nothing, OID) == "There was nothing to change."
    for unknown in ("a reason nobody wrote down", "", None):
        assert said.refusal(DE, unknown, OID) == (
            "Das ist jetzt nicht mehr möglich. Wenn Sie Hilfe brauchen, wenden Sie sich bitte "
            f"an unseren Kundenservice und nennen Sie Ihre Bestellnummer {OID}."
        )
        assert said.refusal(EN, unknown, OID).startswith("This is no longer possible.")
    for status in OrderStatus:  # no refusal of the rules reaches the customer in English
        reason = refusals.closed(status, True)
        assert reason not in said.refusal(DE, reason, OID)


def test_bad_input_in_customer_words() -> None:
    with pytest.raises(Exception) as bad:
        Address.model_validate({"name": "", "street": STREET, "postcode": "5114", "city": CITY})
    errors = bad.value.errors()  # type: ignore[attr-defined]
    assert said.form_problems(DE, errors) == (
        "Bitte geben Sie den Namen des Empfängers an (höchstens 200 Zeichen). "
        "Bitte geben Sie eine deutsche Postleitzahl mit fünf Ziffern an."
    )
    with pytest.raises(Exception) as long:
        ModifyRequest.model_validate({"agent": "c", "delivery_instructions": "x" * 201})
    assert said.form_problems(EN, long.value.errors(), 200) == (  # type: ignore[attr-defined]
        "Delivery instructions can be at most 200 characters long."
    )
    with pytest.raises(Exception) as control:
        ModifyRequest.model_validate({"agent": "c", "delivery_instructions": "a\x07b"})
    assert "Sonderzeichen" in said.form_problems(DE, control.value.errors())  # type: ignore[attr-defined]
    pickup = [{"loc": ["body", "delivery_instructions"], "type": "pickup_order"}]
    assert "Filiale" in said.form_problems(DE, pickup)


def test_why_a_return_cannot_start_in_customer_words() -> None:
    order = _order("de")
    req = ReturnRequest.model_validate(
        {"lines": [{"line_id": "L1", "quantity": 2, "reason": "defective"},
                   {"line_id": "L2", "quantity": 1, "reason": "other"}]}
    )  # fmt: skip
    errors: list[tuple[tuple[str | int, ...], str]] = [
        (("lines", 0, "quantity"), "only 1 unit(s) of line L1 can be returned ..."),
        (("lines", 1, "line_id"), "the return window of line L2 ended on 2026-12-01 ..."),
    ]
    left = {
        "L1": Returnable(delivered=2, in_window=2, returned=1),
        "L2": Returnable(delivered=1, window_ended=datetime(2026, 12, 1, 10, tzinfo=UTC)),
    }
    assert said.return_problems(DE, order, req, left, errors) == (
        f"Von „{ITEM}“ können Sie nur noch 1 Stück zurückschicken. "
        f"Die Rückgabefrist für „{LAMP}“ ist am 1. Dezember 2026 abgelaufen."
    )
    left = {"L1": Returnable(), "L2": Returnable(delivered=1, in_window=1, returned=1)}
    assert said.return_problems(EN, order, req, left, errors) == (
        f"“{ITEM}” has not been delivered yet: you can return it once it has arrived. "
        f"“{LAMP}” has already been returned in full."
    )
    nowhere = [(("lines",), "no destination takes these goods")]
    assert said.return_problems(EN, order, req, left, nowhere).startswith(
        "This is no longer possible."
    )


# ---- the page, rendered in every state ---------------------------------------------------------


def _order(locale: str, **extra: Any) -> OrderInput:
    lines = [
        OrderLine(line_id="L1", sku="TS-1", name=ITEM, quantity=2, unit_price_cents=61728,
                  weight_kg=0.4),
        OrderLine(line_id="L2", sku="LA-2", name=LAMP, quantity=1, unit_price_cents=4990,
                  weight_kg=2.0),
    ]  # fmt: skip
    return OrderInput.model_validate(
        {
            "order_id": OID,
            "channel": "web",
            "customer": {"id": "C-1", "email": "erika@example.org", "name": NAME,
                         "locale": locale},
            "delivery_address": {"name": NAME, "street": STREET, "postcode": "51147",
                                 "city": CITY},
            "lines": lines,
            "shipping_speed": "standard",
            "payment_method": "card",
            "shipping_cents": 495,
            "placed_at": datetime(2026, 12, 3, 13, 5, tzinfo=UTC),
            "delivery_instructions": "Garage",
            **extra,
        }
    )  # fmt: skip


def _parcels() -> list[ShipmentRecord]:
    return [
        ShipmentRecord(
            shipment_id=f"{OID}-S{i}",
            order_id=OID,
            location_id="WH-1",
            status=status.value,
            carrier="DHL",
            tracking_number=f"0034043{i}",
            tracking_url=f"https://tracking.example/track?id=0034043{i}",
            lines=[{"line_id": "L1", "sku": "TS-1", "quantity": 2}],
            promised_delivery=date(2026, 12, 24),
        )
        for i, status in enumerate(ShipmentStatus, 1)
    ]


def _returns(order: OrderInput) -> list[ReturnRecord]:
    reasons = get_args(ReturnReason)
    out = []
    for i, status in enumerate(ReturnStatus, 1):
        rid = f"R-{OID}-{i}"
        ret = ReturnInput(
            return_id=rid,
            order_id=OID,
            channel="mail",
            requested_by="customer",
            requested_at=datetime(2026, 12, 28, 9, tzinfo=UTC),
            customer=order.customer,
            sender=order.delivery_address,
            lines=[{"line_id": "L1", "sku": "TS-1", "name": ITEM, "quantity": 1,
                    "unit_price_cents": 61728, "weight_kg": 0.4,
                    "reason": reasons[i % len(reasons)], "shipment_id": f"{OID}-S1"}],
            destination={"location_id": "WH-1", "name": "Lager Hamburg", "kind": "warehouse",
                         "postcode": "20095", "city": "Hamburg", "why": "restockable"},
        )  # fmt: skip
        out.append(
            ReturnRecord(
                return_id=rid,
                order_id=OID,
                channel="mail",
                status=status.value,
                destination_id="WH-1",
                lines=[],
                payload=ret.model_dump(mode="json"),
                refunded_cents=61728 if status == ReturnStatus.REFUNDED else 0,
            )
        )
    return out


INVOICES = [
    Listed("RE-2026-000001", "invoice", f"{OID}-S1", None, date(2026, 12, 3), None, 123456,
           "EUR", [], True),
    Listed("GS-2026-000001", "credit_note", None, "RE-2026-000001", date(2026, 12, 28), None,
           61728, "EUR", [], True),
]  # fmt: skip
HOLD_END = datetime(2026, 12, 3, 13, 35, tzinfo=UTC)
WINDOWS = {
    "open": ChangeWindow("", HOLD_END),
    "unknown": ChangeWindow(None),
    "released": ChangeWindow(
        refusals.modify_closed(OrderStatus.IN_FULFILMENT, False, True, ShipmentBook())
    ),
    "completed": ChangeWindow(refusals.closed(OrderStatus.COMPLETED, True)),
    "gone": ChangeWindow(f"order {OID} is closed"),
    "unheard of": ChangeWindow("the moon is in the wrong phase"),
}


def _render(lang: str, window: str, **extra: Any) -> str:
    order = extra.pop("order", None) or _order(lang)
    ctx = views.page(
        WORDS[lang],
        order=order,
        status=extra.pop("status", "in_fulfilment"),
        token="tok",
        window=WINDOWS[window],
        shipments=_parcels(),
        returns=_returns(order),
        left={"L1": Returnable(delivered=2, in_window=2, returned=1)},
        invoices=INVOICES,
        **extra,
    )
    ctx["switch"] = switch(WORDS[lang], ctx["here"])
    return TEMPLATES.get_template("self_service/order.html").render(ctx)


class _Shown(HTMLParser):
    """What a person reads: text (not in scripts or styles) and the attributes read out."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [v or "" for k, v in attrs if k in ("aria-label", "title", "placeholder")]

    def handle_data(self, data: str) -> None:
        self.found.append(data)


def shown(html: str) -> str:
    parser = _Shown()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.found))


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-zÄÖÜäöüß]+", text))


DATA = _words(f"{NAME} {STREET} {CITY} {ITEM} {LAMP} Garage Lager Hamburg DHL Deutsch English")
"""The order's own data (names, addresses, items) and the switch's language names: they are
what they are in every language."""


def assert_one_language(text: str, lang: str, where: str = "") -> None:
    """No word of the other language, no code, no ISO date, no other way of writing money."""
    stray = (_words(text) & set(FOREIGN[lang])) - DATA
    assert not stray, f"{where} {lang}: {sorted(stray)} in {text!r}"
    codes = re.findall(r"\b[a-z]+_[a-z_]+\b", text)
    assert not codes, f"{where} {lang}: codes {codes} shown"
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), f"{where} {lang}: an ISO date"
    for amount in AMOUNT.values():
        if amount in text:
            assert amount == AMOUNT[lang], f"{where} {lang}: {amount}"


CASES = [
    (window, status, done, error)
    for window in WINDOWS
    for status, done, error in (
        ("in_fulfilment", "", ""),
        ("awaiting_payment", "address", "form"),
        ("completed", "instructions", "refusal"),
        ("shipped", "removed", "return"),
        ("cancelled", "unchanged", ""),
        ("backordered", f"R-{OID}-1,R-{OID}-2", ""),
    )
]


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize(("window", "status", "done", "error"), CASES)
def test_the_page_reads_in_one_language(
    lang: str, window: str, status: str, done: str, error: str
) -> None:
    words = WORDS[lang]
    message = {
        "": "",
        "form": said.form_problems(words, [{"loc": ["postcode"], "type": "string_pattern"}]),
        "refusal": said.refusal(words, WINDOWS["released"].refusal, OID),
        "return": said.return_problems(
            words,
            _order(lang),
            ReturnRequest.model_validate(
                {"lines": [{"line_id": "L1", "quantity": 2, "reason": "defective"}]}
            ),
            {"L1": Returnable(delivered=2, in_window=2, returned=1)},
            [(("lines", 0, "quantity"), "only 1 unit(s) ...")],
        ),
    }[error]
    html = _render(lang, window, status=status, done=done, error=message)
    text = shown(html)
    assert_one_language(text, lang, f"{window}/{status}/{done}/{error}")
    assert f'<html lang="{lang}">' in html
    assert AMOUNT[lang] in text and PLACED[lang] in text and PROMISED[lang] in text
    if lang == "de":  # (in English, "completed" is the word and the code)
        for code in (*OrderStatus, *ShipmentStatus, *ReturnStatus):
            assert f">{code.value}<" not in html.replace(" ", ""), code  # a badge with a code
    if error:
        assert message and message in text


def test_the_german_page_in_detail() -> None:
    text = shown(_render("de", "open", status="in_fulfilment", done="instructions"))
    assert "Bestellung T-1 wird verpackt" in text
    assert "Änderungen möglich bis 3. Dezember 2026, 14:35" in text  # Berlin time
    assert "Ihre Lieferhinweise wurden geändert." in text
    assert "Sendung verfolgen (DHL 00340436)" in text
    assert "Rechnung RE-2026-000001" in text and "Gutschrift GS-2026-000001" in text
    assert "korrigiert RE-2026-000001" in text
    assert "1 x Leinenhemd (gefällt mir nicht mehr)" in text
    assert "Rücksendung starten" in text and "Sprache English Deutsch" in text
    closed = shown(_render("de", "released"))
    assert (
        "Die Lieferhinweise können nicht mehr geändert werden. "
        "Ihre Bestellung wird bereits für den Versand verpackt."
    ) in closed
    assert "already released" not in closed


def test_the_english_page_in_detail() -> None:
    text = shown(_render("en", "completed", status="completed"))
    assert "Order T-1 completed" in text
    assert "The delivery address can no longer be changed. Your order is completed." in text
    assert "€1,234.56" in text and "expected on 24 December 2026" in text
    assert "the order is already completed" not in text


def test_gone_parcels_are_not_shown_and_a_pickup_has_no_instructions() -> None:
    html = _render("de", "open", order=_order("de", pickup_store_id="ST-1"))
    for i, status in enumerate(ShipmentStatus, 1):
        assert (f'id="parcel-{OID}-S{i}"' in html) is (status not in GONE), status
    assert "Lieferhinweise" not in shown(html)


def test_nothing_to_return_yet_is_said_with_the_window() -> None:
    order = _order("de")
    ctx = views.page(DE, order=order, status="confirmed", token="t", window=WINDOWS["open"])
    text = shown(TEMPLATES.get_template("self_service/order.html").render(ctx))
    days = order.policy.returns.window.days
    assert f"{days} Tage lang zurückgeschickt" in text and "Noch nicht unterwegs." in text
    assert_one_language(text, "de")


@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_error_page_reads_in_one_language(lang: str) -> None:
    words = WORDS[lang]
    html = TEMPLATES.get_template("self_service/error.html").render(
        words=words,
        message=words.gettext(
            "This link is not valid for this order. Please use the link from your order e-mail."
        ),
        switch=switch(words, "/my/orders/T-1?t=x"),
    )
    assert_one_language(shown(html), lang)


# ---- which language --------------------------------------------------------------------------


def _request(cookie: str = "", accept: str = "") -> Request:
    headers = [(b"accept-language", accept.encode())] if accept else []
    if cookie:
        headers.append((b"cookie", f"{LANGUAGE_COOKIE}={cookie}".encode()))
    return Request({"type": "http", "method": "GET", "path": "/my/orders/T-1",
                    "query_string": b"t=x", "headers": headers})  # fmt: skip


def test_the_order_decides_unless_the_customer_switched() -> None:
    assert language_of(_request(), "de") == "de"
    assert language_of(_request(accept="en-GB,en"), "de") == "de"  # the order, not the browser
    assert language_of(_request(), "en") == "en"
    assert language_of(_request(cookie="en"), "de") == "en"  # the switch wins
    assert language_of(_request(cookie="de", accept="en"), "en") == "de"
    assert language_of(_request(cookie="pl"), "en") == "en"  # a stray cookie: ignored
    # no order to ask (a link that is not valid): the browser's, else German
    assert language_of(_request(accept="en-GB,en;q=0.9"), None) == "en"
    assert language_of(_request(accept="fr"), None) == "de"
    assert words_for(_request(), "en").domain == CUSTOMER.name


def test_the_switch_offers_the_other_language_and_comes_back() -> None:
    back = "/my/orders/T-1?t=a+b/c"
    links = switch(DE, back)
    assert [(code, name, on) for code, name, _, on in links] == [
        ("en", "English", False),
        ("de", "Deutsch", True),
    ]
    assert links[0][2] == "/my/language/en?back=/my/orders/T-1%3Ft%3Da%2Bb/c"


def test_dates_and_money_the_e_mails_way() -> None:
    moment = datetime(2026, 3, 12, 13, 5, tzinfo=UTC)
    assert DE.long_when(moment) == "12. März 2026, 14:05"
    assert EN.long_when(moment) == "12 March 2026, 14:05"
    assert DE.long_date(date(2026, 12, 24)) == "24. Dezember 2026"
    assert EN.long_date(datetime(2026, 12, 24, 23, tzinfo=UTC) - timedelta(hours=1)) == (
        "24 December 2026"
    )
    assert (DE.money(123456), EN.money(123456)) == (AMOUNT["de"], AMOUNT["en"])
