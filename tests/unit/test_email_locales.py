"""Every customer e-mail reads in one language: each template rendered in German and English,
for every reason code, must not carry the other language's words, a reason code left raw, a
link to the API (``/orders/{id}`` needs a key: 401 for a customer) or the other locale's way of
writing money and dates."""

from __future__ import annotations

import re

import pytest
from jinja2 import Environment

from activities.messaging.templates import DEFAULT_DIR, _env, euro, local_date, render
from core.domain.reasons import ReasonCode

SELF_SERVICE = "http://oms.test/my/orders/A-1?t=abc"
CONTEXT: dict[str, object] = {
    "order_id": "A-1",
    "customer_name": "Erika Mustermann",
    "self_service_url": SELF_SERVICE,
    "lines": [{"sku": "TS-1", "name": "Leinenhemd", "quantity": 2, "total_cents": 123456}],
    "shipping_cents": 495,
    "total_cents": 123951,
    "address": "Erika Mustermann, Heidestraße 17, 51147 Köln",
    "promised_delivery": "2026-11-25",
    "pickup_store": "",
    "carrier": "DHL",
    "tracking_number": "00340434",
    "tracking_url": "https://tracking.example/track?id=00340434",
    "old_promise": "2026-11-25",
    "new_promise": "2026-11-26",
    "amount_cents": 123456,
    "holder": "OMS Shop GmbH",
    "iban": "DE02120300000000202051",
    "bic": "BYLADEM1001",
    "reference": "A-1",
    "deadline": "2026-12-03",
    "reminder": 1,
    "previous_method": "card",
    "why": "ship_late",
    "promised": "2026-11-25",
    "new_estimate": "2026-11-27",
    "voucher_code": "SORRY-A-1-1",
    "voucher_cents": 500,
    "refund_cents": 500,
    "code": "123456",
    "store": "Filiale Köln, 50667 Köln",
    "until": "2026-12-01",
    "return_id": "R-A-1-1",
    "items": "1 x Leinenhemd",
    "label_url": "http://oms.test/my/orders/A-1/returns/R-A-1-1/label.pdf?t=abc",
    "page_url": SELF_SERVICE,
    "destination": "Lager Hamburg, 20095 Hamburg",
    "location": "Lager Hamburg",
    "shipping_refund_cents": 495,
}
TEMPLATES = sorted(
    {p.name.split(".")[0] for p in DEFAULT_DIR.glob("*.txt") if not p.name.startswith("_")}
)
ENGLISH = [
    "the", "your", "you", "and", "order", "payment", "paid", "declined", "stock", "items",
    "parcel", "promise", "missed", "returned", "undelivered", "lost", "replacement", "received",
    "refund", "cancelled", "not", "by", "expected", "delivery", "December", "pickup",
]  # fmt: skip
GERMAN = [
    "Ihre", "Ihr", "Sie", "und", "der", "die", "das", "nicht", "Bestellung", "Zahlung",
    "Paket", "Artikel", "Lieferung", "wurde", "bis", "zum", "Dezember", "Erstattung", "vorrätig",
]  # fmt: skip
FOREIGN = {"de": ENGLISH, "en": GERMAN}
AMOUNT = {"de": "1.234,56 €", "en": "€1,234.56"}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-zÄÖÜäöüß]+", text))


def _context(template: str, reason: str) -> dict[str, object]:
    """The shared context; a template that names a parcel's goods in a sentence gets them as
    one string (as the workflow passes them), one that lists them gets the lines."""
    listed = "for line in lines" in (DEFAULT_DIR / f"{template}.de.txt").read_text()
    lines = CONTEXT["lines"] if listed else "2 x Leinenhemd"
    return {**CONTEXT, "lines": lines, "reason": reason}


def _cases() -> list[tuple[str, str, str]]:
    """(template, locale, reason): templates that name a reason once per code."""
    cases = []
    for template in TEMPLATES:
        uses_reason = "reason" in (DEFAULT_DIR / f"{template}.de.txt").read_text()
        for locale in ("de", "en"):
            for reason in list(ReasonCode) if uses_reason else [ReasonCode.OUT_OF_STOCK]:
                cases.append((template, locale, reason.value))
    return cases


@pytest.mark.parametrize(("template", "locale", "reason"), _cases())
def test_a_mail_speaks_one_language(template: str, locale: str, reason: str) -> None:
    mail = render(template, locale, _context(template, reason))
    for part in (mail.subject, mail.text):
        stray = _words(part) & set(FOREIGN[locale]) - _words(str(CONTEXT))
        assert not stray, f"{template}.{locale}: {sorted(stray)} in {part!r}"
    assert reason not in mail.text, f"{template}.{locale}: reason code {reason} shown raw"
    assert "/orders/A-1" not in mail.text.replace("/my/orders/A-1", "")  # no API link
    for amount in AMOUNT.values():
        if amount in mail.text:
            assert amount == AMOUNT[locale], f"{template}.{locale}: {amount}"
    assert "2026-1" not in mail.text, f"{template}.{locale}: an ISO date left unformatted"


@pytest.mark.parametrize("locale", ["de", "en"])
def test_every_reason_code_has_its_own_text(locale: str) -> None:
    env: Environment = _env(str(DEFAULT_DIR))
    texts: dict[str, str] = env.get_template(f"_reasons.{locale}.txt").module.reasons  # type: ignore[attr-defined]
    assert {c.value for c in ReasonCode} <= set(texts)
    assert all(texts[c.value] != texts["other"] for c in ReasonCode)


@pytest.mark.parametrize("locale", ["de", "en"])
def test_a_customer_link_is_the_self_service_link(locale: str) -> None:
    """Links in every mail open the signed self-service page, never the API."""
    for template in TEMPLATES:
        mail = render(template, locale, _context(template, "out_of_stock"))
        links = re.findall(r"http://oms\.test\S*", mail.text)
        assert all(link.startswith("http://oms.test/my/orders/A-1") for link in links), links


def test_money_and_dates_per_locale() -> None:
    assert (euro(123456, "de"), euro(123456, "en")) == ("1.234,56 €", "€1,234.56")
    assert local_date("2026-12-03", "de") == "3. Dezember 2026"
    assert local_date("2026-12-03T10:00:00+00:00", "en") == "3 December 2026"
    assert local_date("soon", "en") == "soon"
