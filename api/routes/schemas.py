"""Response bodies of the API (requests reuse core.domain.orders.OrderRequest)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.domain.inputs import InputModel
from core.domain.shipments import PartnerEventKind


class OrderAccepted(BaseModel):
    order_id: str
    workflow_id: str
    status_url: str


class ShipmentView(BaseModel):
    shipment_id: str
    location_id: str
    status: str
    carrier: str
    tracking_number: str
    tracking_url: str
    lines: list[dict[str, Any]]
    goods_cents: int
    carriage_cents: int = 0
    ship_date: date | None = None
    promised_delivery: date | None
    ship_by: datetime | None = None
    deliver_by: datetime | None = None
    transfer_to: str | None = None
    delivery_instructions: str | None = Field(
        default=None,
        description="the delivery instructions the location and carrier got with the parcel "
        "(set at release; none for a pickup)",
    )
    released_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None


class EventView(BaseModel):
    type: str
    at: datetime
    actor: str
    detail: dict[str, Any]


class PaymentView(BaseModel):
    """One booking of the payment provider's ledger (``payment_transaction``) for the order:
    what customer service needs to answer "was I charged?" without the provider's console."""

    transaction_id: str = Field(description="the provider's id of the transaction")
    provider: str = Field(description="simulated | stripe")
    kind: str = Field(description="authorise | capture | void | refund | incoming")
    amount_cents: int
    status: str = Field(description="pending | succeeded | failed")
    succeeded: bool
    parent_id: str | None = Field(
        default=None, description="the authorisation a capture or void draws on, or a refund's"
    )
    step: str = Field(description="the OMS step that booked it (idempotency key)")
    created_at: datetime


class InvoiceRateView(BaseModel):
    """Net, VAT and gross of one VAT rate on a document, as issued."""

    vat_rate: str = Field(description="percent, as exact decimal text: 19, 7, 5.5")
    net_cents: int
    vat_cents: int
    gross_cents: int


class InvoiceView(BaseModel):
    """An issued invoice or credit note of the order (``invoice``), without its PDF bytes."""

    number: str = Field(description="series and number: RE-2026-000001")
    kind: str = Field(description="invoice | credit_note")
    shipment_id: str | None = None
    refers_to: str | None = Field(
        default=None, description="a credit note: the invoice number it corrects"
    )
    issued_on: date
    delivery_date: date | None = None
    total_gross_cents: int
    currency: str
    totals: list[InvoiceRateView] = Field(description="per VAT rate")
    pdf_url: str | None = Field(
        default=None, description="the PDF to download; null until the PDF is stored"
    )


class OrderView(BaseModel):
    order_id: str
    workflow_id: str
    status: str
    channel: str
    customer_id: str
    customer_email: str
    payment_method: str
    shipping_speed: str
    total_cents: int
    created_at: datetime
    updated_at: datetime
    lines: list[dict[str, Any]]
    delivery_address: dict[str, Any]
    delivery_instructions: str | None = Field(
        default=None, description="the customer's instructions for the delivery, as they stand"
    )
    shipments: list[ShipmentView]
    events: list[EventView]
    payments: list[PaymentView] = Field(default_factory=list, description="oldest first")
    vat: list[InvoiceRateView] = Field(
        default_factory=list, description="net, VAT and gross per rate of the order as it stands"
    )
    invoices: list[InvoiceView] = Field(
        default_factory=list, description="invoices and credit notes, in issue order"
    )
    release_hold_until: datetime | None = Field(
        default=None,
        description="when the policy's release hold ends (or ended): the order waits until then "
        "before it goes to the warehouse; None: released at once",
    )
    changes_until: datetime | None = Field(
        default=None,
        description="until when the order may still be changed or cancelled as a whole before "
        "release (the hold, while it lasts); None once released, ended or never held",
    )


class OrderSummary(BaseModel):
    order_id: str
    status: str
    channel: str
    customer_id: str
    customer_email: str
    total_cents: int
    created_at: datetime


class OrderList(BaseModel):
    total: int
    orders: list[OrderSummary]


class ShipmentEventIn(InputModel):
    """A warehouse system's or carrier's report about one shipment."""

    shipment_id: str = Field(min_length=1, max_length=100)
    event: PartnerEventKind
    carrier: str | None = Field(default=None, max_length=50)
    tracking_number: str | None = Field(default=None, min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=200, description="why it was rejected")
    exception: Literal["lost", "damaged", "returned_to_sender"] | None = Field(
        default=None, description="with event=exception: what happened to the parcel"
    )
    at: datetime | None = None
