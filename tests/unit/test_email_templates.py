"""Every e-mail renders in both languages, text and HTML, with nothing left unfilled."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.messaging.templates import DEFAULT_DIR, euro, render

CONTEXT = {
    "order_id": "A-1",
    "customer_name": "Erika <b>",
    "self_service_url": "http://x/my/orders/A-1?t=abc",
    "lines": [{"sku": "TS-1", "name": "Shirt", "quantity": 2, "total_cents": 3998}],
    "shipping_cents": 495,
    "total_cents": 4493,
    "address": "Weg 1, 10115 Berlin",
    "promised_delivery": "2026-11-25",
    "carrier": "DHL",
    "tracking_number": "123",
    "tracking_url": "http://t/123",
    "reason": "out_of_stock",
    "old_promise": "2026-11-25",
    "new_promise": "2026-11-26",
    "amount_cents": 1234,
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
    "refund_cents": 0,
    "code": "123456",
    "store": "Filiale Köln, 50667 Köln",
    "until": "2026-12-01",
    "return_id": "R-A-1-1",
    "items": "1 x Shirt",
    "label_url": "http://x/label.pdf",
    "page_url": "http://x/my/orders/A-1",
    "destination": "Lager Hamburg, 20095 Hamburg",
    "location": "Lager Hamburg",
    "shipping_refund_cents": 495,
}
TEMPLATES = sorted(
    {p.name.split(".")[0] for p in DEFAULT_DIR.glob("*.txt") if not p.name.startswith("_")}
)


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("locale", ["de", "en"])
def test_renders(template: str, locale: str) -> None:
    mail = render(template, locale, CONTEXT)
    assert "A-1" in mail.subject
    assert "Erika <b>" in mail.text
    assert "Erika &lt;b&gt;" in mail.html  # HTML is escaped, text is not
    assert mail.html.startswith("<!doctype html>")


def test_a_retailers_own_template_wins(tmp_path: Path) -> None:
    (tmp_path / "refund_issued.en.subject.txt").write_text("Money back: {{ order_id }}")
    mail = render("refund_issued", "en", CONTEXT, str(tmp_path))
    assert mail.subject == "Money back: A-1"
    assert "refunding" in mail.text  # the text still comes from the built-in template


def test_euro_formatting() -> None:
    assert euro(123456) == "1.234,56 €"
    assert euro(5) == "0,05 €"
