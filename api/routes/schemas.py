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
    released_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None


class EventView(BaseModel):
    type: str
    at: datetime
    actor: str
    detail: dict[str, Any]


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
    shipments: list[ShipmentView]
    events: list[EventView]


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
