"""Shipments: the plan routing makes, the events warehouses and carriers report."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


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
