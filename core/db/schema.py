"""Database tables. They stay inside activities and the API; workflows never see them."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Index,
    LargeBinary,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from core.domain.shipments import ShipmentStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


_NOW = {"server_default": text("CURRENT_TIMESTAMP")}
"""Server default of a timestamp column added to tables that already have rows."""


class Location(SQLModel, table=True):
    """A warehouse, store, drop-ship vendor or returns centre: loaded by the retailer's import
    (activities/masterdata), the demo network being one such load."""

    id: str = Field(primary_key=True, max_length=64)
    name: str
    kind: str = Field(description="warehouse | store | vendor | returns_centre")
    street: str = Field(default="", sa_column_kwargs={"server_default": ""})
    postcode: str = Field(max_length=5)
    city: str
    country: str = Field(default="DE", max_length=2, sa_column_kwargs={"server_default": "DE"})
    state: str = Field(
        default="",
        max_length=2,
        sa_column_kwargs={"server_default": ""},
        description="German state code (HE, BY, ...): its public holidays close the location",
    )
    latitude: float
    longitude: float
    zone: str = Field(default="", description="region used to balance backlog")
    ships_to_customers: bool = True
    pickup_point: bool = False
    hazardous_certified: bool = False
    online: bool = Field(default=True, description="ops take a location offline to re-route")
    daily_capacity: int = Field(default=1000, ge=0, description="units it can ship per day")
    priority: int = 100
    cutoff_hour: int = Field(default=16, description="cut-off of weekdays without their own")
    cutoffs: dict[str, str] = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False, server_default="{}"),
        description="cut-off per open weekday, e.g. {'mon': '17:00', 'sat': '12:00'}; a weekday "
        "not named is closed; empty: Monday to Saturday at cutoff_hour",
    )
    closed_dates: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default="[]"),
        description="ISO dates the location is closed besides its state's public holidays",
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_column_kwargs=_NOW)


class Sku(SQLModel, table=True):
    """A catalogue article, loaded by the retailer's import; ``name`` is the German name."""

    sku: str = Field(primary_key=True, max_length=64)
    name: str
    name_en: str = Field(default="", sa_column_kwargs={"server_default": ""})
    gtin: str | None = Field(default=None, max_length=14, index=True)
    price_cents: int = Field(ge=0, description="list price, gross")
    vat_class: str = Field(
        default="standard", max_length=32, sa_column_kwargs={"server_default": "standard"}
    )
    weight_kg: float = 0.5
    length_cm: float | None = None
    width_cm: float | None = None
    height_cm: float | None = None
    bulky: bool = False
    hazardous: bool = False
    hazard_class: str = Field(
        default="", max_length=16, sa_column_kwargs={"server_default": ""}, description="UN class"
    )
    returnable: bool = Field(default=True, sa_column_kwargs={"server_default": "1"})
    active: bool = Field(
        default=True,
        sa_column_kwargs={"server_default": "1"},
        description="inactive: no new orders; running orders keep it",
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_column_kwargs=_NOW)


class Stock(SQLModel, table=True):
    """Stock of one SKU at one location. Changed only by conditional atomic updates."""

    __table_args__ = (
        CheckConstraint("reserved >= 0", name="ck_stock_reserved_nonneg"),
        CheckConstraint("reserved <= on_hand", name="ck_stock_no_oversell"),
    )

    location_id: str = Field(foreign_key="location.id", primary_key=True, max_length=64)
    sku: str = Field(foreign_key="sku.sku", primary_key=True, max_length=64)
    on_hand: int = Field(default=0, ge=0)
    reserved: int = Field(default=0, ge=0)
    safety_stock: int = Field(
        default=0,
        ge=0,
        sa_column_kwargs={"server_default": "0"},
        description="units kept back from what is promised",
    )
    held: int = Field(
        default=0,
        ge=0,
        sa_column_kwargs={"server_default": "0"},
        description="units held by holds not yet ended (see stock_hold)",
    )


class Reservation(SQLModel, table=True):
    """Stock held for one shipment line of an order; ``key`` makes reserving idempotent."""

    __table_args__ = (Index("ix_reservation_location_sku", "location_id", "sku"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200, description="order:shipment:line")
    order_id: str = Field(index=True, max_length=64)
    shipment_id: str = Field(max_length=100)
    location_id: str = Field(foreign_key="location.id", max_length=64)
    sku: str = Field(max_length=64)
    quantity: int = Field(gt=0)
    status: str = Field(default="active", description="active | released | shipped")
    created_at: datetime = Field(default_factory=utcnow)
    day: date = Field(default_factory=lambda: utcnow().date(), index=True)


class OrderRecord(SQLModel, table=True):
    """Read model of an order for listings and dashboards, kept current by activities."""

    __tablename__ = "order_record"

    order_id: str = Field(primary_key=True, max_length=64)
    workflow_id: str = Field(max_length=80)
    status: str = Field(index=True)
    channel: str = Field(index=True)
    customer_id: str = Field(index=True, max_length=64)
    customer_email: str = Field(index=True)
    customer_name: str
    postcode: str = Field(index=True, max_length=5)
    payment_method: str
    shipping_speed: str
    total_cents: int
    request_hash: str = Field(description="detects a different order sent under a known id")
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class ShipmentRecord(SQLModel, table=True):
    __tablename__ = "shipment_record"

    shipment_id: str = Field(primary_key=True, max_length=100)
    order_id: str = Field(index=True, max_length=64)
    location_id: str = Field(index=True, max_length=64)
    status: str = Field(default=ShipmentStatus.RESERVED.value, index=True)  # written first
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    lines: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    goods_cents: int = 0
    carriage_cents: int = Field(
        default=0,
        sa_column_kwargs={"server_default": "0"},
        description="what the carrier charges for this parcel, by the tariff it was planned with",
    )
    ship_date: date | None = None
    promised_delivery: date | None = None
    ship_by: datetime | None = Field(default=None, description="promise: leaves by then")
    deliver_by: datetime | None = Field(default=None, description="promise: arrives by then")
    transfer_to: str | None = Field(
        default=None, max_length=64, description="pickup store a transfer goes to"
    )
    delivery_instructions: str | None = Field(
        default=None,
        max_length=200,
        description="the customer's instructions for the carrier, as released with the parcel",
    )
    released_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None


class OrderEvent(SQLModel, table=True):
    """The order's event log: what happened, when, and who did it. ``key`` dedupes retries."""

    __tablename__ = "order_event"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)
    order_id: str = Field(index=True, max_length=64)
    type: str
    detail: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    actor: str = "system"
    at: datetime


class OutboundEmail(SQLModel, table=True):
    """Every e-mail the OMS sends, once per key (order id + event)."""

    __tablename__ = "outbound_email"

    key: str = Field(primary_key=True, max_length=200)
    order_id: str = Field(index=True, max_length=64)
    recipient: str
    template: str
    subject: str
    message_id: str
    status: str = Field(default="pending", description="pending | sent")
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    message: bytes | None = Field(
        default=None,
        sa_column=Column(LargeBinary, nullable=True),
        description="the MIME message as first rendered: every attempt sends these bytes",
    )
    lease_until: datetime | None = Field(
        default=None, description="an attempt is sending it until then; others wait"
    )
    attempts: int = Field(default=0, description="attempts that took the lease")


class PaymentTransaction(SQLModel, table=True):
    """The simulated payment provider's ledger, keyed by the OMS's idempotency key."""

    __tablename__ = "payment_transaction"
    __table_args__ = (UniqueConstraint("provider", "idempotency_key"),)

    id: str = Field(primary_key=True, max_length=64)
    provider: str = "simulated"
    idempotency_key: str = Field(max_length=200)
    order_id: str = Field(index=True, max_length=64)
    kind: str = Field(description="authorise | capture | void | refund")
    amount_cents: int
    status: str = Field(default="pending", description="pending | succeeded | failed")
    parent_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


# ---- inventory: stock ledger, stock feeds, holds, replenishment -----------------------------


class StockMovement(SQLModel, table=True):
    """One change of a stock level with its reason and source; the levels are their sums."""

    __tablename__ = "stock_movement"
    __table_args__ = (Index("ix_stock_movement_location_sku", "location_id", "sku", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str | None = Field(
        default=None,
        unique=True,
        max_length=200,
        description="idempotency key of one-off movements (adjustments)",
    )
    at: datetime
    location_id: str = Field(max_length=64)
    sku: str = Field(max_length=64)
    kind: str = Field(
        max_length=32,
        description="opening | feed_snapshot | feed_delta | "
        "reservation | release | shipment | hold | hold_release | hold_expired | "
        "hold_converted | collected | return | adjustment",
    )
    on_hand_delta: int = 0
    reserved_delta: int = 0
    held_delta: int = 0
    source: str = Field(
        default="",
        max_length=200,
        index=True,
        description="feed:<id>, order:<id>, hold:<id>, adjustment:<id>, ...",
    )
    reason: str = Field(default="", max_length=500)


class StockFeed(SQLModel, table=True):
    """A stock feed (snapshot or deltas) and its progress; its id makes re-posting harmless."""

    __tablename__ = "stock_feed"

    id: str = Field(primary_key=True, max_length=100)
    source: str = Field(default="", max_length=200)
    mode: str = Field(max_length=16, description="snapshot | delta")
    format: str = Field(max_length=16, description="csv | jsonl")
    location_id: str | None = Field(default=None, max_length=64)
    on_error: str = Field(max_length=16, description="skip | reject")
    status: str = Field(
        index=True,
        max_length=16,
        description="receiving | validating | applying | applied | rejected",
    )
    claim: str = Field(max_length=40, description="token of the request processing it")
    content_sha256: str = Field(default="", max_length=64)
    lines_received: int = 0
    rows_total: int = 0
    rows_bad: int = 0
    rows_applied: int = 0
    rows_changed: int = 0
    resume_line: int = Field(default=0, description="last line applied by a committed chunk")
    zeroed: int = 0
    conflicts_count: int = 0
    errors: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    conflicts: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None


class StockHold(SQLModel, table=True):
    """Stock held for a checkout or for reserve & collect until it expires; one row per
    location and SKU of a hold."""

    __tablename__ = "stock_hold"
    __table_args__ = (
        Index("ix_stock_hold_sku_location", "sku", "location_id", "status"),
        Index("ix_stock_hold_status_expires", "status", "expires_at"),
    )

    hold_id: str = Field(primary_key=True, max_length=100)
    location_id: str = Field(foreign_key="location.id", primary_key=True, max_length=64)
    sku: str = Field(foreign_key="sku.sku", primary_key=True, max_length=64)
    quantity: int = Field(gt=0)
    purpose: str = Field(max_length=32, description="checkout | reserve_collect")
    channel: str = Field(max_length=16)
    order_id: str | None = Field(
        default=None, index=True, max_length=64, description="the order that takes the hold over"
    )
    status: str = Field(
        max_length=16, description="active | released | expired | converted | collected"
    )
    request_hash: str = Field(max_length=64)
    expires_at: datetime
    created_at: datetime
    ended_at: datetime | None = None


class ReplenishmentRule(SQLModel, table=True):
    """Reorder point and order-up-to level of one SKU at one location."""

    __tablename__ = "replenishment_rule"

    location_id: str = Field(foreign_key="location.id", primary_key=True, max_length=64)
    sku: str = Field(foreign_key="sku.sku", primary_key=True, max_length=64)
    reorder_point: int = Field(ge=0)
    target_level: int = Field(ge=0)
    pack_size: int = Field(default=1, ge=1)
    supplier: str = Field(default="", max_length=100)
    lead_time_days: int | None = Field(default=None, ge=0)
    updated_at: datetime


class Voucher(SQLModel, table=True):
    """A voucher the OMS gave a customer (compensation for a broken promise)."""

    code: str = Field(primary_key=True, max_length=100)
    order_id: str = Field(index=True, max_length=64)
    value_cents: int = Field(ge=0)
    valid_until: datetime
    redeemed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


# ---- access: API and portal keys ------------------------------------------------------------


def key_hash(key: str) -> str:
    """How a key is stored: its SHA-256, so a leaked table gives away no usable key."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(SQLModel, table=True):
    """A key that lets a caller in with one role; only its hash is stored. A ``location`` key
    opens the store and vendor portal for that location only."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(unique=True, max_length=64, description="sha256 hex of the key")
    role: str = Field(max_length=32, description="location (later: ops, cs, shop, ...)")
    location_id: str | None = Field(
        default=None, foreign_key="location.id", index=True, max_length=64
    )
    label: str = Field(default="", max_length=200, description="who or what holds it")
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


# ---- returns --------------------------------------------------------------------------------


class ReturnRecord(SQLModel, table=True):
    """Read model of one return (one parcel or counter booking to one destination); its lines
    count against what an order line may still return while the return is not expired."""

    __tablename__ = "return_record"

    return_id: str = Field(primary_key=True, max_length=100)
    order_id: str = Field(index=True, max_length=64)
    channel: str = Field(max_length=16, description="mail | store")
    status: str = Field(index=True, max_length=32)
    requested_by: str = Field(default="", max_length=100)
    store_id: str | None = Field(default=None, max_length=64, description="store that booked it")
    destination_id: str = Field(index=True, max_length=64)
    arrived_at_location: str | None = Field(default=None, max_length=64)
    lines: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    payload: dict[str, Any] = Field(
        sa_column=Column(JSON, nullable=False), description="the workflow input (ReturnInput)"
    )
    goods_cents: int = 0
    shipping_refund_cents: int = 0
    refunded_cents: int = 0
    label_pdf: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    label_issued_at: datetime | None = None
    received_at: datetime | None = None
    refunded_at: datetime | None = None
    closed_at: datetime | None = None


# ---- outbound events: webhook subscribers and the delivery outbox ---------------------------


class WebhookSubscription(SQLModel, table=True):
    """A subscriber (shop, ERP) that receives order events as signed webhooks. The secret is
    stored in the clear because signing needs it (unlike API keys, which are only checked)."""

    __tablename__ = "webhook_subscription"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=200, description="HMAC-SHA256 key of X-OMS-Signature")
    event_types: list[str] = Field(
        sa_column=Column(JSON, nullable=False),
        description="glob patterns of event types (fnmatch): ['*'], ['shipped_*', 'completed']",
    )
    active: bool = True
    label: str = Field(default="", max_length=200, description="who or what receives it")
    created_at: datetime = Field(default_factory=utcnow)


class OutboundDelivery(SQLModel, table=True):
    """One order event for one subscriber: written with the event (outbox), posted by the
    dispatch workflow until delivered or given up. The body is frozen here so every attempt
    sends (and signs) the same bytes."""

    __tablename__ = "outbound_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_key", name="uq_outbound_delivery_event"),
        Index("ix_outbound_delivery_due", "status", "next_attempt_at"),
        Index("ix_outbound_delivery_sequence", "subscription_id", "order_id", "event_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="webhook_subscription.id")
    event_id: int = Field(foreign_key="order_event.id")
    event_key: str = Field(max_length=200)
    event_type: str = Field(max_length=200)
    order_id: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(
        default="pending", max_length=16, description="pending | delivered | failed"
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(description="due from then; a claim pushes it out (lease)")
    last_error: str = Field(default="", max_length=500)
    last_status_code: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class RequestOutcome(SQLModel, table=True):
    """The answer to a state-changing request, kept under its idempotency key (the
    ``Idempotency-Key`` header, or the key a form carries per render): a repeat (a double
    click, a client's retry) gets the same answer instead of doing the work again."""

    __tablename__ = "request_outcome"

    key: str = Field(primary_key=True, max_length=64, description="sha256 of scope and key")
    scope: str = Field(max_length=300, description="method, route and caller")
    request_hash: str = Field(max_length=64, description="sha256 of the body")
    state: str = Field(default="pending", max_length=16, description="pending | done")
    status_code: int | None = None
    headers: list[list[str]] = Field(default=[], sa_column=Column(JSON, nullable=False))
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    completed_at: datetime | None = None


class OpsCase(SQLModel, table=True):
    """Something a person in operations must look at: e.g. a parcel reported shipped for an
    order that was cancelled. Raised once per ``key``; resolved by a person."""

    __tablename__ = "ops_case"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)
    kind: str = Field(index=True, max_length=64)
    order_id: str = Field(index=True, max_length=64)
    shipment_id: str | None = Field(default=None, max_length=100)
    detail: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="open", max_length=16, description="open | resolved")
    created_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None


class CarrierTariff(SQLModel, table=True):
    """One version of the retailer's carriers and tariffs (routing.Carrier list as JSON). New
    plans use the newest version; a planned order keeps the costs and dates it was given."""

    __tablename__ = "carrier_tariff"

    version: int | None = Field(default=None, primary_key=True)
    content_sha256: str = Field(max_length=64, index=True)
    carriers: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    source: str = Field(default="", max_length=200)
    actor: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class MasterDataImport(SQLModel, table=True):
    """An import of catalogue, locations or stock; the content hash makes a re-post a replay."""

    __tablename__ = "masterdata_import"

    id: str = Field(primary_key=True, max_length=100, description="kind:content sha256")
    kind: str = Field(max_length=16, description="catalogue | locations | stock")
    format: str = Field(max_length=8, description="csv | jsonl")
    on_error: str = Field(max_length=8, description="skip | reject")
    status: str = Field(max_length=16, description="applied | rejected")
    source: str = Field(default="", max_length=200)
    actor: str = Field(default="", max_length=200)
    rows_total: int = 0
    rows_bad: int = 0
    rows_created: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    errors: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """Who changed which master data when, with the record before and after."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=200)
    entity: str = Field(max_length=32, description="sku | location | carriers | vat")
    entity_id: str = Field(max_length=100)
    action: str = Field(max_length=16, description="create | update | delete")
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    source: str = Field(default="", max_length=200, description="import id, API route or CLI")


# ---- billing: invoices and credit notes with gap-free numbers -------------------------------


class InvoiceCounter(SQLModel, table=True):
    """The next number of one series (``RE-2026``, ``GS-2026``): locked while a number is given
    so numbers are gap-free and never doubled (activities/billing/numbers.py)."""

    __tablename__ = "invoice_counter"

    series: str = Field(primary_key=True, max_length=32)
    next_number: int = Field(default=1, ge=1)


class Invoice(SQLModel, table=True):
    """An issued invoice or credit note: what §14 UStG needs on it, frozen at issue (lines,
    totals per rate, buyer), under a number from its series and the idempotency key of the step
    that issued it, so a retried step gets this invoice back instead of a new number."""

    __tablename__ = "invoice"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, max_length=48, description="series and number: RE-2026-000001")
    series: str = Field(max_length=32)
    kind: str = Field(max_length=16, description="invoice | credit_note")
    order_id: str = Field(index=True, max_length=64)
    shipment_id: str | None = Field(default=None, max_length=100)
    refers_to: str | None = Field(
        default=None, max_length=48, description="a credit note: the invoice number it corrects"
    )
    issued_on: date
    delivery_date: date | None = Field(default=None, description="Leistungsdatum")
    buyer: dict[str, Any] = Field(
        sa_column=Column(JSON, nullable=False), description="name and address (and VAT id)"
    )
    lines: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    totals: list[dict[str, Any]] = Field(
        sa_column=Column(JSON, nullable=False), description="net, VAT and gross per VAT rate"
    )
    total_gross_cents: int
    currency: str = Field(default="EUR", max_length=3)
    idempotency_key: str = Field(unique=True, max_length=200, description="order id + step")
    pdf: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


# ---- AI agents ------------------------------------------------------------------------------


class AgentVerificationFailure(SQLModel, table=True):
    """A caller an AI agent could not verify (wrong e-mail or postcode, bad link, unknown
    order): counted per order number and per agent key, so guessing is throttled across every
    API replica (``api/mcp/callers.py``). Rows older than the window are deleted as new ones
    come."""

    __tablename__ = "agent_verification_failure"
    __table_args__ = (Index("ix_agent_verification_failure_subject", "subject", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=120, description="order:<order number> or key:<key id>")
    at: datetime = Field(default_factory=utcnow)
