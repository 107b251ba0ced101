"""Domain models that cross the workflow boundary.

Plain pydantic models only: the workflow sandbox imports this module, so it must stay free of
I/O, database and heavy imports. Money is always integer cents (EUR).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from core.policy import OrderPolicy

Channel = Literal["web", "app", "store", "phone"]
Speed = Literal["standard", "express", "same_day"]
PaymentMethod = Literal["card", "wallet", "invoice", "prepayment", "cash_on_pickup"]
Locale = Literal["de", "en"]

ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
POSTCODE_PATTERN = r"^[0-9]{5}$"


class OrderStatus(StrEnum):
    """Where an order stands; mirrored to the ``OrderStatus`` search attribute and read model."""

    RECEIVED = "received"
    RISK_CHECK = "risk_check"
    REJECTED = "rejected"
    ON_HOLD = "on_hold"
    READY_FOR_PICKUP = "ready_for_pickup"
    RESERVING = "reserving"
    CONFIRMED = "confirmed"
    AWAITING_PAYMENT = "awaiting_payment"
    PAYMENT_AUTHORISED = "payment_authorised"
    IN_FULFILMENT = "in_fulfilment"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


TERMINAL_STATUSES = frozenset(
    {OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.FAILED}
)


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


class InputModel(BaseModel):
    """Base of what callers send: a NUL character (``\\u0000``) in any text is refused with a
    422 naming the field (PostgreSQL cannot store it, so it would fail later, deeper down)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("must not contain NUL characters (\\u0000)")
        return value


class _Strict(InputModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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


class OrderLineRequest(_Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=10_000)


class OrderRequest(_Strict):
    """What the shop sends to place an order. Prices come from the catalogue, not the caller."""

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


class ShipmentLine(BaseModel):
    line_id: str
    sku: str
    quantity: int


class ShipmentPlan(BaseModel):
    """One parcel of a routed order: where it ships from, what, and what was promised."""

    shipment_id: str
    location_id: str
    lines: list[ShipmentLine]
    carrier: str
    ship_date: date
    promised_delivery: date
    cost_cents: int
    goods_cents: int
    ship_by: datetime | None = Field(default=None, description="promise: leaves the location")
    deliver_by: datetime | None = Field(default=None, description="promise: at the customer")
    transfer_to: str | None = Field(default=None, description="pickup store it is sent to")

    @property
    def from_shelf(self) -> bool:
        """Handed over from the pickup store's own shelf: no carrier involved."""
        return self.carrier == "pickup"


class RoutingResult(BaseModel):
    shipments: list[ShipmentPlan]
    uncovered: list[ShipmentLine] = []
    strategy: str
    optimal: bool


class ReservationResult(BaseModel):
    ok: bool
    conflicts: list[str] = []


class PaymentResult(BaseModel):
    ok: bool
    transaction_id: str = ""
    amount_cents: int = 0
    reason: str = ""


ShipmentEventKind = Literal[
    "accepted",
    "picked",
    "packed",
    "rejected",
    "shipped",
    "in_transit",
    "delivered",
    "exception",
    "picked_up",
]  # picked_up: from the store
ExceptionKind = Literal["lost", "damaged", "returned_to_sender"]


class ShipmentEvent(BaseModel):
    """A fulfilment event from a warehouse system or carrier, delivered as a workflow signal."""

    shipment_id: str
    kind: ShipmentEventKind
    carrier: str | None = None
    tracking_number: str | None = None
    reason: str | None = None
    exception: ExceptionKind | None = None
    at: datetime | None = None


class RerouteRequest(BaseModel):
    """Move a location's unshipped shipments of an order (all, or the ones named) elsewhere."""

    location_id: str
    reason: str
    shipment_ids: list[str] | None = None


class ProgressEvent(BaseModel):
    """One entry of an order's event log, written by an activity, keyed for idempotency."""

    order_id: str
    key: str
    type: str
    status: OrderStatus | None = None
    detail: dict[str, str | int | float | bool | None] = {}
    actor: str = "system"
    at: datetime
    snapshot: OrderInput | None = Field(
        default=None, description="the order as it now stands, when it changed (read model)"
    )


class EmailRequest(BaseModel):
    """An e-mail to send once: ``key`` (order id + event) makes retries harmless."""

    key: str
    order_id: str
    to: str
    template: str
    locale: Locale = "de"
    context: dict[str, Any] = {}


class OrderState(BaseModel):
    """What the workflow is doing now; returned by its ``state`` query."""

    order_id: str
    status: OrderStatus
    waiting_for: str = ""
    shipments: list[ShipmentPlan] = []
    shipment_status: dict[str, str] = {}
    tracking: dict[str, str] = {}


class PaymentNotice(BaseModel):
    """Money received for a prepayment order (bank transfer), from the payment webhook."""

    payment_id: str
    amount_cents: int
    reference: str = ""
    received_at: datetime | None = None


class LineQuantity(_Strict):
    line_id: str = Field(min_length=1, max_length=16)
    quantity: int = Field(gt=0, le=10_000)


class AgentAction(_Strict):
    """Who acts on an order (customer service agent, store staff) and why."""

    agent: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=500)


class CancelRequest(AgentAction):
    pass


class CancelLinesRequest(AgentAction):
    lines: list[LineQuantity] = Field(min_length=1, max_length=100)


class ModifyRequest(AgentAction):
    """Changes before release; fields left out stay as they are. ``lines`` replaces all."""

    delivery_address: Address | None = None
    shipping_speed: Speed | None = None
    lines: list[OrderLineRequest] | None = Field(default=None, min_length=1, max_length=100)


class ReviewDecision(AgentAction):
    approve: bool


class ActionResult(BaseModel):
    """What a customer-service action did; amounts in cents."""

    ok: bool = True
    message: str = ""
    status: str = ""
    total_cents: int = 0
    voided_cents: int = 0
    refunded_cents: int = 0


class PickupConfirmation(_Strict):
    """Store staff hand an order over after checking the customer's pickup code."""

    location_id: str = Field(min_length=1, max_length=64)
    code: str = Field(pattern=r"^[0-9]{6}$")
    staff: str = Field(min_length=1, max_length=64)
