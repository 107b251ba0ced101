"""What an invoice or credit note says, typed: the issuer, the buyer, the lines with their VAT and
the totals per rate. One shape for the database row (``core.db.schema.Invoice``, JSON columns),
the PDF and the e-invoice, so all three always show the same amounts.

The amounts are computed once, by ``core.rules.vat``, when the draft is made, and frozen in the
row: a later change of a VAT rate or a price never changes an issued document.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from core.db.schema import Invoice
from core.rules.vat import GrossLine, breakdown, with_discount

Kind = Literal["invoice", "credit_note"]


@dataclass(frozen=True)
class Issuer:
    """The seller as §14 UStG wants it on every invoice. Passed in (the lead wires it to
    settings), so billing has no opinion on where the company's data lives."""

    name: str
    street: str
    postcode: str
    city: str
    vat_id: str
    """USt-IdNr. (DE + 9 digits); required on a B2B e-invoice (EN 16931 BR-S-02)."""
    country: str = "DE"
    tax_number: str = ""
    """Steuernummer, shown besides the VAT id when given."""
    email: str = ""
    iban: str = ""
    bic: str = ""


class Party(BaseModel):
    """The buyer: name and postal address; ``vat_id`` for a business buyer."""

    name: str
    street: str = ""
    postcode: str = ""
    city: str = ""
    country: str = "DE"
    vat_id: str = ""


class Item(BaseModel):
    """A line as the order has it: gross unit price and the rate of its catalogue VAT class."""

    sku: str
    name: str
    quantity: int
    unit_gross_cents: int
    vat_rate: Decimal


class InvoiceLine(BaseModel):
    """A line as issued: what was charged, with its share of the order discount, net and VAT."""

    sku: str
    name: str
    quantity: int
    unit_gross_cents: int
    vat_rate: Decimal
    discount_cents: int
    gross_cents: int
    net_cents: int
    vat_cents: int


class RateTotals(BaseModel):
    """Net, VAT and gross of one rate: the §14 UStG breakdown."""

    vat_rate: Decimal
    net_cents: int
    vat_cents: int
    gross_cents: int


class InvoiceDraft(BaseModel):
    """Everything of a document but its number, which only ``numbers.issue`` gives."""

    kind: Kind = "invoice"
    order_id: str
    shipment_id: str | None = None
    refers_to: str | None = None
    issued_on: date
    delivery_date: date | None = None
    buyer: Party
    lines: list[InvoiceLine]
    totals: list[RateTotals]
    currency: str = "EUR"

    @property
    def total_gross_cents(self) -> int:
        return sum(t.gross_cents for t in self.totals)

    @property
    def total_net_cents(self) -> int:
        return sum(t.net_cents for t in self.totals)

    @property
    def total_vat_cents(self) -> int:
        return sum(t.vat_cents for t in self.totals)

    @classmethod
    def from_items(
        cls,
        *,
        order_id: str,
        items: list[Item],
        buyer: Party,
        issued_on: date,
        delivery_date: date | None = None,
        discount_cents: int = 0,
        kind: Kind = "invoice",
        shipment_id: str | None = None,
        refers_to: str | None = None,
    ) -> InvoiceDraft:
        """Price the items: the discount spread over the lines by value, VAT per line, totals
        per rate (``core.rules.vat``). A credit note needs the invoice it corrects."""
        if kind == "credit_note" and not refers_to:
            raise ValueError("a credit note names the invoice it corrects (refers_to)")
        gross = [GrossLine(i.unit_gross_cents, i.quantity, i.vat_rate) for i in items]
        priced = with_discount(gross, discount_cents)
        vat = breakdown(priced)
        lines = [
            InvoiceLine(
                sku=i.sku,
                name=i.name,
                quantity=i.quantity,
                unit_gross_cents=i.unit_gross_cents,
                vat_rate=i.vat_rate,
                discount_cents=p.discount_cents,
                gross_cents=t.gross_cents,
                net_cents=t.net_cents,
                vat_cents=t.vat_cents,
            )
            for i, p, t in zip(items, priced, vat.lines, strict=True)
        ]
        totals = [
            RateTotals(
                vat_rate=r.rate,
                net_cents=r.net_cents,
                vat_cents=r.vat_cents,
                gross_cents=r.gross_cents,
            )
            for r in vat.rates
        ]
        return cls(
            kind=kind,
            order_id=order_id,
            shipment_id=shipment_id,
            refers_to=refers_to,
            issued_on=issued_on,
            delivery_date=delivery_date,
            buyer=buyer,
            lines=lines,
            totals=totals,
        )

    def row(self, number: str) -> Invoice:
        """The database row under ``number`` (``numbers.issue`` adds series and key)."""
        return Invoice(
            number=number,
            series="",
            kind=self.kind,
            order_id=self.order_id,
            shipment_id=self.shipment_id,
            refers_to=self.refers_to,
            issued_on=self.issued_on,
            delivery_date=self.delivery_date,
            buyer=self.buyer.model_dump(mode="json"),
            lines=[ln.model_dump(mode="json") for ln in self.lines],
            totals=[t.model_dump(mode="json") for t in self.totals],
            total_gross_cents=self.total_gross_cents,
            currency=self.currency,
            idempotency_key="",
        )


class InvoiceDocument(InvoiceDraft):
    """An issued document: the draft and its number, as the PDF and the e-invoice read it."""

    number: str

    @classmethod
    def from_row(cls, row: Invoice) -> InvoiceDocument:
        return cls.model_validate(
            {
                "number": row.number,
                "kind": row.kind,
                "order_id": row.order_id,
                "shipment_id": row.shipment_id,
                "refers_to": row.refers_to,
                "issued_on": row.issued_on,
                "delivery_date": row.delivery_date,
                "buyer": row.buyer,
                "lines": row.lines,
                "totals": row.totals,
                "currency": row.currency,
            }
        )
