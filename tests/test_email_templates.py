"""Every e-mail renders in both languages, text and HTML, with nothing left unfilled."""

from __future__ import annotations

import pytest

from activities.email_templates import DEFAULT_DIR, euro, render

CONTEXT = {
    "order_id": "A-1", "customer_name": "Erika <b>", "status_url": "http://x/orders/A-1",
    "lines": [{"sku": "TS-1", "name": "Shirt", "quantity": 2, "total_cents": 3998}],
    "shipping_cents": 495, "total_cents": 4493, "address": "Weg 1, 10115 Berlin",
    "promised_delivery": "2026-11-25", "carrier": "DHL", "tracking_number": "123",
    "tracking_url": "http://t/123", "reason": "out of stock",
    "old_promise": "2026-11-25", "new_promise": "2026-11-26",
}
TEMPLATES = sorted({p.name.split(".")[0] for p in DEFAULT_DIR.glob("*.txt")})


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("locale", ["de", "en"])
def test_renders(template: str, locale: str) -> None:
    mail = render(template, locale, CONTEXT)
    assert "A-1" in mail.subject
    assert "Erika <b>" in mail.text
    assert "Erika &lt;b&gt;" in mail.html  # HTML is escaped, text is not


def test_euro_formatting() -> None:
    assert euro(123456) == "1.234,56 €"
    assert euro(5) == "0,05 €"
