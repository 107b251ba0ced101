"""The billing context's Temporal face: the invoice of a shipped parcel.

One invoice per parcel that leaves for the customer, issued when its "shipped" news is taken
(the delivery date on it is that day), for exactly what the parcel's capture took: its goods
and, with the first parcel, the shipping fee. Idempotent by the step key
``<order>:<shipment>:invoice``: a retry gets the same invoice and number back.

A return's refund is reversed on credit notes (Gutschrift/Rechnungskorrektur): one per parcel
the goods came in, referring to that parcel's invoice, each line at the rate that invoice
charged; the refunded shipping share goes on the first. A parcel shipped before invoices were
issued has none to correct, so its goods get no credit note (the refund itself is unchanged).

The shipping fee is an ancillary service (Nebenleistung) and follows the VAT rate of the
order's goods; with goods at two rates, the rate of the larger share by value
(``core.rules.vat.main_rate``, as the order view shows it; the split by value is the next
refinement).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from temporalio import activity

from activities.billing import numbers
from activities.billing.document import (
    InvoiceDocument,
    InvoiceDraft,
    InvoiceLine,
    Issuer,
    Item,
    Party,
)
from activities.billing.facturx import e_invoice
from activities.billing.pdf import render
from core.db.engine import session_scope
from core.db.schema import Invoice
from core.domain.events import step_key
from core.domain.orders import OrderInput, OrderLine
from core.domain.returns import ReturnInput
from core.domain.shipments import ShipmentPlan
from core.rules.vat import GrossLine, main_rate, rate_for
from core.settings import Settings

BERLIN = ZoneInfo("Europe/Berlin")
SHIPPING_SKU = "VERSAND"


def issuer_of(settings: Settings) -> Issuer:
    """The seller printed on every invoice, from settings (OMS_INVOICE_ISSUER_*)."""
    return Issuer(
        name=settings.invoice_issuer_name,
        street=settings.invoice_issuer_street,
        postcode=settings.invoice_issuer_postcode,
        city=settings.invoice_issuer_city,
        vat_id=settings.invoice_issuer_vat_id,
        tax_number=settings.invoice_issuer_tax_number,
        email=settings.invoice_issuer_email,
    )


def parcel_items(
    order: OrderInput, shipment: ShipmentPlan, with_shipping: bool, rates: dict[str, float]
) -> list[Item]:
    """The parcel's lines at the prices the order was placed with, plus the shipping fee."""
    lines = {ln.line_id: ln for ln in order.lines}
    return _items(
        order, [(lines[sl.line_id], sl.quantity) for sl in shipment.lines], with_shipping, rates
    )


def order_items(order: OrderInput, rates: dict[str, float]) -> list[Item]:
    """Every line of the order as it stands (after partial cancels), plus its fee."""
    return _items(order, [(ln, ln.quantity) for ln in order.lines if ln.quantity], True, rates)


def _items(
    order: OrderInput,
    lines: list[tuple[OrderLine, int]],
    with_shipping: bool,
    rates: dict[str, float],
) -> list[Item]:
    items = [
        Item(
            sku=line.sku,
            name=line.name,
            quantity=quantity,
            unit_gross_cents=line.unit_price_cents,
            vat_rate=rate_for(line.vat_class, rates),
        )
        for line, quantity in lines
    ]
    if with_shipping and order.shipping_cents:
        main = main_rate(
            GrossLine(ln.unit_price_cents, ln.quantity, rate_for(ln.vat_class, rates))
            for ln in order.lines
        )
        items.append(
            Item(
                sku=SHIPPING_SKU,
                name="Versand",
                quantity=1,
                unit_gross_cents=order.shipping_cents,
                vat_rate=main,
            )
        )
    return items


class BillingActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn
    def issue_parcel_invoice(
        self, order: OrderInput, shipment: ShipmentPlan, with_shipping: bool
    ) -> str:
        """Issue (or find) the parcel's invoice and store its PDF; returns its number."""
        key = step_key(order.order_id, f"{shipment.shipment_id}:invoice")
        items = parcel_items(order, shipment, with_shipping, self.settings.vat_rates)
        return self._invoice(order, key, items, shipment_id=shipment.shipment_id)

    @activity.defn
    def issue_order_invoice(self, order: OrderInput) -> str:
        """One invoice for the whole order as it stands (the policy's ``invoice_per = order``
        when its last parcel ships, or a click & collect order handed over in the store)."""
        key = step_key(order.order_id, "invoice")
        items = order_items(order, self.settings.vat_rates)
        return self._invoice(order, key, items, shipment_id=None)

    def _invoice(
        self, order: OrderInput, key: str, items: list[Item], shipment_id: str | None
    ) -> str:
        url = self.settings.database_url
        today = datetime.now(UTC).astimezone(BERLIN).date()
        address = order.delivery_address
        draft = InvoiceDraft.from_items(
            order_id=order.order_id,
            shipment_id=shipment_id,
            items=items,
            buyer=Party(
                name=address.name,
                street=address.street,
                postcode=address.postcode,
                city=address.city,
                country=address.country,
                vat_id=order.customer.vat_id or "",
            ),
            issued_on=today,
            delivery_date=today,
        )
        invoice = numbers.issue(url, key, numbers.series_for("invoice", today), draft.row)
        if invoice.pdf is None:
            numbers.attach_pdf(url, invoice.number, self._pdf(invoice))
        return invoice.number

    def _pdf(self, row: Invoice) -> bytes:
        """The document's PDF; a business buyer's (with a VAT id) carries its ZUGFeRD/
        Factur-X XML inside, checked against the EN 16931 schema before it is stored."""
        doc, issuer = InvoiceDocument.from_row(row), issuer_of(self.settings)
        pdf = render(doc, issuer)
        return e_invoice(pdf, doc, issuer) if doc.buyer.vat_id else pdf

    @activity.defn
    def issue_return_credit_notes(self, ret: ReturnInput) -> list[str]:
        """Credit notes for a refunded return, one per invoiced parcel; their numbers."""
        with session_scope(self.settings.database_url) as s:
            invoices = {
                row.shipment_id: row
                for row in s.exec(
                    select(Invoice).where(
                        Invoice.order_id == ret.order_id, Invoice.kind == "invoice"
                    )
                ).all()
            }
        numbers_issued: list[str] = []
        shipping_left = ret.shipping_refund_cents
        for sid in sorted({ln.shipment_id for ln in ret.lines}):
            invoice = invoices.get(sid) or invoices.get(None)  # the parcel's, or the order's
            if invoice is None:
                continue
            items = _credited_items(ret, sid, invoice)
            if shipping_left and (rate := _shipping_rate(invoice)) is not None:
                items.append(
                    Item(
                        sku=SHIPPING_SKU,
                        name="Versand (anteilig erstattet)",
                        quantity=1,
                        unit_gross_cents=shipping_left,
                        vat_rate=rate,
                    )
                )
                shipping_left = 0
            key = step_key(ret.order_id, f"return:{ret.return_id}:{sid}:credit_note")
            numbers_issued.append(self._credit_note(invoice, items, key))
        return numbers_issued

    @activity.defn
    def issue_parcel_credit_note(self, order: OrderInput, shipment: ShipmentPlan, step: str) -> str:
        """A credit note for the goods of an invoiced parcel whose money is given back (it
        came back undelivered, or it was lost and nothing replaces it); "" if the parcel
        had no invoice to correct."""
        with session_scope(self.settings.database_url) as s:
            found = {
                row.shipment_id: row
                for row in s.exec(
                    select(Invoice).where(
                        Invoice.order_id == order.order_id, Invoice.kind == "invoice"
                    )
                ).all()
            }
        invoice = found.get(shipment.shipment_id) or found.get(None)  # the parcel's, or the order's
        if invoice is None:
            return ""
        items = parcel_items(order, shipment, False, self.settings.vat_rates)
        return self._credit_note(invoice, items, step_key(order.order_id, f"{step}:credit_note"))

    @activity.defn
    def issue_shipping_credit_note(self, order_id: str, amount_cents: int, step: str) -> str:
        """A credit note for part of the shipping fee given back as compensation (the express
        fee of a missed promise), against the invoice that charged the fee; "" if no invoice
        has charged it yet (the fee comes off the order before that invoice is issued)."""
        with session_scope(self.settings.database_url) as s:
            invoices = s.exec(
                select(Invoice)
                .where(Invoice.order_id == order_id, Invoice.kind == "invoice")
                .order_by(col(Invoice.id))
            ).all()
        for invoice in invoices:
            if (rate := _shipping_rate(invoice)) is not None:
                item = Item(
                    sku=SHIPPING_SKU,
                    name="Versand (Erstattung Expresszuschlag)",
                    quantity=1,
                    unit_gross_cents=amount_cents,
                    vat_rate=rate,
                )
                return self._credit_note(invoice, [item], step_key(order_id, f"{step}:credit_note"))
        return ""

    def _credit_note(self, invoice: Invoice, items: list[Item], key: str) -> str:
        """Issue (or find, by ``key``) a credit note of ``items`` correcting ``invoice``."""
        url = self.settings.database_url
        today = datetime.now(UTC).astimezone(BERLIN).date()
        draft = InvoiceDraft.from_items(
            kind="credit_note",
            order_id=invoice.order_id,
            shipment_id=invoice.shipment_id,
            refers_to=invoice.number,
            items=items,
            buyer=Party.model_validate(invoice.buyer),
            issued_on=today,
            delivery_date=invoice.delivery_date,
        )
        note = numbers.issue(url, key, numbers.series_for("credit_note", today), draft.row)
        if note.pdf is None:
            numbers.attach_pdf(url, note.number, self._pdf(note))
        return note.number


def _credited_items(ret: ReturnInput, shipment_id: str, invoice: Invoice) -> list[Item]:
    """The returned lines of one parcel, each at the rate its invoice charged for the SKU."""
    rates = {line.sku: line.vat_rate for line in map(InvoiceLine.model_validate, invoice.lines)}
    return [
        Item(
            sku=ln.sku,
            name=ln.name,
            quantity=ln.quantity,
            unit_gross_cents=ln.unit_price_cents,
            vat_rate=rates.get(ln.sku, Decimal(19)),
        )
        for ln in ret.lines
        if ln.shipment_id == shipment_id
    ]


def _shipping_rate(invoice: Invoice) -> Decimal | None:
    """The rate the invoice charged its shipping fee at, if it had one."""
    for line in map(InvoiceLine.model_validate, invoice.lines):
        if line.sku == SHIPPING_SKU:
            return line.vat_rate
    return None
