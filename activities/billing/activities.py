"""The billing context's Temporal face: the invoice of a shipped parcel.

One invoice per parcel that leaves for the customer, issued when its "shipped" news is taken
(the delivery date on it is that day), for exactly what the parcel's capture took: its goods
and, with the first parcel, the shipping fee. Idempotent by the step key
``<order>:<shipment>:invoice``: a retry gets the same invoice and number back.

The shipping fee is an ancillary service (Nebenleistung) and follows the VAT rate of the
parcel's goods; with goods at two rates, at the rate of the larger share (documented in
docs/billing.md; the split by value that UStAE 3.10 also allows is the next refinement).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from temporalio import activity

from activities.billing import numbers
from activities.billing.document import InvoiceDocument, InvoiceDraft, Issuer, Item, Party
from activities.billing.pdf import render
from core.domain.events import step_key
from core.domain.orders import OrderInput
from core.domain.shipments import ShipmentPlan
from core.rules.vat import rate_for
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
    items = [
        Item(
            sku=sl.sku,
            name=lines[sl.line_id].name,
            quantity=sl.quantity,
            unit_gross_cents=lines[sl.line_id].unit_price_cents,
            vat_rate=rate_for(lines[sl.line_id].vat_class, rates),
        )
        for sl in shipment.lines
    ]
    if with_shipping and order.shipping_cents:
        share: dict[Decimal, int] = {}
        for item in items:
            share[item.vat_rate] = (
                share.get(item.vat_rate, 0) + item.unit_gross_cents * item.quantity
            )
        main = max(sorted(share), key=lambda rate: share[rate]) if share else Decimal(19)
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
        url = self.settings.database_url
        today = datetime.now(UTC).astimezone(BERLIN).date()
        address = order.delivery_address
        draft = InvoiceDraft.from_items(
            order_id=order.order_id,
            shipment_id=shipment.shipment_id,
            items=parcel_items(order, shipment, with_shipping, self.settings.vat_rates),
            buyer=Party(
                name=address.name,
                street=address.street,
                postcode=address.postcode,
                city=address.city,
                country=address.country,
            ),
            issued_on=today,
            delivery_date=today,
        )
        invoice = numbers.issue(url, key, numbers.series_for("invoice", today), draft.row)
        if invoice.pdf is None:
            pdf = render(InvoiceDocument.from_row(invoice), issuer_of(self.settings))
            numbers.attach_pdf(url, invoice.number, pdf)
        return invoice.number
