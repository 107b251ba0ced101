"""Documents the billing tests render: a mixed-rate order with a discount, its invoice and a
credit note correcting it. No server needed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from activities.billing.document import InvoiceDocument, InvoiceDraft, Issuer, Item, Party

ISSUER = Issuer(
    name="Rhön Handel GmbH",
    street="Kohlhäuser Str. 1",
    postcode="36037",
    city="Fulda",
    vat_id="DE123456789",
    tax_number="018/123/45678",
    email="rechnung@rhoen-handel.example",
    iban="DE02120300000000202051",
)
BUYER = Party(
    name="Kunde Beispiel GmbH",
    street="Marienplatz 1",
    postcode="80331",
    city="München",
    vat_id="DE987654321",
)
ITEMS = [
    Item(
        sku="RH-TEE-01", name="Leinenhemd", quantity=2, unit_gross_cents=4990, vat_rate=Decimal(19)
    ),
    Item(
        sku="RH-BOOK-02",
        name="Kochbuch Rhön",
        quantity=3,
        unit_gross_cents=2490,
        vat_rate=Decimal(7),
    ),
]


@pytest.fixture
def invoice() -> InvoiceDocument:
    draft = InvoiceDraft.from_items(
        order_id="DEMO-1",
        items=ITEMS,
        buyer=BUYER,
        issued_on=date(2026, 12, 8),
        delivery_date=date(2026, 12, 7),
        discount_cents=1000,
        shipment_id="DEMO-1-S1",
    )
    return InvoiceDocument.from_row(draft.row("RE-2026-000042"))


@pytest.fixture
def credit_note() -> InvoiceDocument:
    draft = InvoiceDraft.from_items(
        order_id="DEMO-1",
        items=ITEMS[1:2],
        buyer=BUYER,
        issued_on=date(2026, 12, 20),
        delivery_date=date(2026, 12, 7),
        kind="credit_note",
        refers_to="RE-2026-000042",
    )
    return InvoiceDocument.from_row(draft.row("GS-2026-000007"))


@pytest.fixture
def issuer() -> Issuer:
    return ISSUER
