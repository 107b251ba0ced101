"""Database tables. They stay inside activities and the API; workflows never see them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Location(SQLModel, table=True):
    """A warehouse, store or drop-ship vendor that can hold stock and ship."""

    id: str = Field(primary_key=True, max_length=64)
    name: str
    kind: str = Field(description="warehouse | store | vendor")
    postcode: str = Field(max_length=5)
    city: str
    latitude: float
    longitude: float
    zone: str = Field(default="", description="region used to balance backlog")
    ships_to_customers: bool = True
    pickup_point: bool = False
    hazardous_certified: bool = False
    online: bool = Field(default=True, description="ops take a location offline to re-route")
    daily_capacity: int = Field(default=1000, ge=0, description="units it can ship per day")
    priority: int = 100
    cutoff_hour: int = 16


class Sku(SQLModel, table=True):
    sku: str = Field(primary_key=True, max_length=64)
    name: str
    price_cents: int = Field(ge=0)
    weight_kg: float = 0.5
    bulky: bool = False
    hazardous: bool = False


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
    status: str = Field(default="planned", index=True)
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    lines: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    goods_cents: int = 0
    ship_date: date | None = None
    promised_delivery: date | None = None
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
