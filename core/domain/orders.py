"""The order: what the shop sends, what the workflow runs on (``OrderInput``), its status
and the state a query answers.

Plain pydantic models only: the workflow sandbox imports this module, so it stays free of
I/O, database and heavy imports. Money is always integer cents (EUR)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field, field_validator
from stdnum.eu import vat as eu_vat

from core.domain.inputs import ORDER_ID_PATTERN, POSTCODE_PATTERN, Channel, Locale, _Strict
from core.domain.payments import PaymentMethod
from core.domain.shipments import ShipmentPlan
from core.policy import OrderPolicy

Speed = Literal["standard", "express", "same_day"]


class OrderStatus(StrEnum):
    """Where an order stands; mirrored to the ``OrderStatus`` search attribute and read model."""

    RECEIVED = "received"
    RISK_CHECK = "risk_check"
    REJECTED = "rejected"
    ON_HOLD = "on_hold"
    READY_FOR_PICKUP = "ready_for_pickup"
    RESERVING = "reserving"
    BACKORDERED = "backordered"
    CONFIRMED = "confirmed"
    AWAITING_PAYMENT = "awaiting_payment"
    PAYMENT_AUTHORISED = "payment_authorised"
    IN_FULFILMENT = "in_fulfilment"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


NOT_REVENUE = frozenset({OrderStatus.CANCELLED, OrderStatus.REJECTED})
"""Orders whose money does not count as revenue."""

TERMINAL_STATUSES = frozenset(
    {OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.FAILED}
)


class Address(_Strict):
    name: str = Field(min_length=1, max_length=200)
    street: str = Field(min_length=1, max_length=200)
    postcode: str = Field(pattern=POSTCODE_PATTERN, description="German five-digit postcode")
    city: str = Field(min_length=1, max_length=100)
    country: Literal["DE"] = "DE"


class Customer(_Strict):
    id: str = Field(min_length=1, max_length=64)
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    locale: Locale = "de"
    group: str = Field(default="default", max_length=32, description="routing rule profile")
    vat_id: str | None = Field(
        default=None,
        max_length=20,
        description="a business customer's VAT id (USt-IdNr., e.g. DE123456788): its invoices "
        "carry a ZUGFeRD/Factur-X e-invoice",
    )

    @field_validator("vat_id")
    @classmethod
    def _vat_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not eu_vat.is_valid(value):
            raise ValueError(f"{value[:20]!r} is not a valid EU VAT id (e.g. DE123456788)")
        return str(eu_vat.compact(value))


MAX_CENTS = 100_000_000
"""One million euros: no price, discount or fee above it is plausible."""


MAX_DELIVERY_INSTRUCTIONS = 200
"""Delivery instructions fit a pick list line and a carrier's note on the label."""


def _plain_text(value: str) -> str:
    """One line of plain text: line breaks and tabs become single spaces; any other control
    character is refused (a label printer or a carrier's system must not receive it)."""
    text = " ".join(value.split())
    if bad := next((c for c in text if unicodedata.category(c) == "Cc"), None):
        raise ValueError(f"must be plain text: control character U+{ord(bad):04X} not allowed")
    return text


DeliveryInstructions = Annotated[
    str,
    Field(
        max_length=MAX_DELIVERY_INSTRUCTIONS,
        description="for whoever delivers the parcel, e.g. 'bitte beim Nachbarn abgeben' or "
        f"a drop-off place; plain text, one line, at most {MAX_DELIVERY_INSTRUCTIONS} characters",
        examples=["Bitte bei Familie Schmidt (Hausnummer 5) abgeben"],
    ),
    AfterValidator(_plain_text),
]
"""Delivery instructions as callers send them (the shop with the order, the customer and
customer service in a change): whitespace collapsed, control characters refused, bounded."""


class OrderLineRequest(_Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=10_000)
    unit_price_cents: int | None = Field(
        default=None,
        ge=0,
        le=MAX_CENTS,
        description="the shop's gross price of one unit (a sale price); omitted: list price",
    )
    discount_cents: int = Field(
        default=0, ge=0, le=MAX_CENTS, description="discount on this line as a whole (gross)"
    )


class OrderDiscount(_Strict):
    """A discount on the whole order (a coupon), allocated over the lines to the cent."""

    code: str = Field(min_length=1, max_length=64, description="coupon code or campaign, as data")
    amount_cents: int = Field(gt=0, le=MAX_CENTS, description="gross amount off the goods")
    description: str = Field(default="", max_length=200)


CHANNEL_PRICE_FIELDS: dict[str, object] = {
    "discounts": [],
    "shipping_cents": None,
    "currency": "EUR",
}
"""Fields of a request that set the money itself, with their "not used" values: a request
that uses none of them hashes as it did before they existed (activities/orders/log.py)."""


class OrderRequest(_Strict):
    """What the shop sends to place an order. Prices come from the catalogue unless the shop
    sends its own (sale prices, line discounts, coupons, shipping fee): then those, checked
    against the order policy's pricing rules, are what the customer pays."""

    order_id: str = Field(pattern=ORDER_ID_PATTERN)
    channel: Channel = "web"
    customer: Customer
    delivery_address: Address
    lines: list[OrderLineRequest] = Field(min_length=1, max_length=100)
    shipping_speed: Speed = "standard"
    payment_method: PaymentMethod = "card"
    billing_address: Address | None = Field(default=None, description="if not the delivery one")
    pickup_store_id: str | None = Field(
        default=None, max_length=64, description="click & collect / reserve & collect store"
    )
    discounts: list[OrderDiscount] = Field(default_factory=list, max_length=20)
    shipping_cents: int | None = Field(
        default=None, ge=0, le=MAX_CENTS, description="the shop's shipping fee; omitted: policy"
    )
    currency: Literal["EUR"] = "EUR"
    delivery_instructions: DeliveryInstructions | None = Field(
        default=None,
        description="optional, for a delivery (not a pickup order): passed on with each parcel "
        "to the location that ships it and its carrier; the customer can change it until the "
        "order is released",
    )

    @field_validator("delivery_instructions")
    @classmethod
    def _no_empty_instructions(cls, value: str | None) -> str | None:
        return value or None  # "" or only spaces: no instructions

    @property
    def channel_priced(self) -> bool:
        """The shop set prices or discounts: they, not the catalogue, are what was agreed."""
        return bool(self.discounts) or any(
            ln.unit_price_cents is not None or ln.discount_cents for ln in self.lines
        )


class OrderLine(BaseModel):
    """An order line priced and described from the catalogue at placement."""

    line_id: str
    sku: str
    name: str
    quantity: int
    unit_price_cents: int
    weight_kg: float
    bulky: bool = False
    hazardous: bool = False
    vat_class: str = Field(
        default="standard", description="the catalogue's VAT class when it was priced"
    )
    list_unit_price_cents: int | None = Field(
        default=None, description="the shop's unit price before discounts (channel prices)"
    )
    discount_cents: int = Field(default=0, description="discounts on these units together")

    @property
    def total_cents(self) -> int:
        return self.unit_price_cents * self.quantity


class OrderInput(BaseModel):
    """The workflow's input: a validated, priced order."""

    order_id: str
    channel: Channel
    customer: Customer
    delivery_address: Address
    lines: list[OrderLine]
    shipping_speed: Speed
    payment_method: PaymentMethod
    shipping_cents: int
    placed_at: datetime
    policy: OrderPolicy = OrderPolicy()
    billing_address: Address | None = None
    pickup_store_id: str | None = None
    pickup_store_label: str = Field(default="", description="store name and town, for e-mails")
    placed_by: str | None = Field(
        default=None, description="agent who placed it for the customer (phone or store channel)"
    )
    discounts: list[OrderDiscount] = Field(
        default_factory=list, description="the order's coupons, already in the lines' prices"
    )
    delivery_instructions: str | None = Field(
        default=None,
        description="for whoever delivers the parcels (validated as the request's field); "
        "None: none given",
    )

    @property
    def goods_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)

    @property
    def total_cents(self) -> int:
        return self.goods_cents + self.shipping_cents

    @property
    def workflow_id(self) -> str:
        return workflow_id_for(self.order_id)


def workflow_id_for(order_id: str) -> str:
    """Workflow id of an order: deterministic, so placing the same order twice is harmless."""
    return f"order-{order_id}"


class RiskAssessment(BaseModel):
    score: int
    outcome: Literal["accept", "review", "force_prepayment", "reject"]
    reasons: list[str] = []


class OrderState(BaseModel):
    """What the workflow is doing now; returned by its ``state`` query."""

    order_id: str
    status: OrderStatus
    waiting_for: str = ""
    shipments: list[ShipmentPlan] = []
    shipment_status: dict[str, str] = {}
    tracking: dict[str, str] = {}
    hold_until: datetime | None = Field(
        default=None,
        description="the release hold: until then the order waits before it goes to the "
        "warehouse, and the customer or customer service may still change it",
    )
