"""Shipments: the plan routing makes, the events warehouses and carriers report."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class ShipmentStatus(StrEnum):
    """How far a shipment has got. The one list of shipment states: every other module reads
    the forward order and the sets below instead of typing the names again."""

    RESERVED = "reserved"  # stock reserved at the location; not yet told to ship
    RELEASED = "released"  # handed to the location's system
    ACCEPTED = "accepted"
    PICKED = "picked"
    PACKED = "packed"  # a pickup store's own-shelf shipment is ready for the customer here
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"  # a transfer into a pickup store is "delivered" there first
    PICKED_UP = "picked_up"  # handed over in the pickup store
    REROUTED = "rerouted"  # replaced by shipments elsewhere
    CANCELLED = "cancelled"  # not wanted any more
    LOST = "lost"
    RETURNED = "returned"  # came back to us undelivered


S = ShipmentStatus
FORWARD: tuple[ShipmentStatus, ...] = (
    S.RESERVED, S.RELEASED, S.ACCEPTED, S.PICKED, S.PACKED,
    S.SHIPPED, S.IN_TRANSIT, S.DELIVERED, S.PICKED_UP,
)  # fmt: skip
"""The forward order: a shipment event only ever moves a shipment along it."""
OPEN = frozenset({S.RESERVED, S.RELEASED, S.ACCEPTED, S.PICKED, S.PACKED})
"""Not shipped: may still be cancelled, resized or moved (re-routed) to another location. An
outage of a location moves exactly these (decided in tests/unit/test_shipment_vocabulary.py)."""
AT_LOCATION = OPEN - {S.RESERVED}
"""Released to the location and not yet left it: the location's open work."""
ON_THE_WAY = frozenset({S.SHIPPED, S.IN_TRANSIT})
GONE = frozenset({S.REROUTED, S.CANCELLED})
"""Replaced by other shipments, or not wanted any more: no longer part of the order."""
ENDED = frozenset({S.DELIVERED, S.PICKED_UP, S.LOST, S.RETURNED})
"""What finally happened to a parcel."""
DONE = ENDED | GONE
LEFT_LOCATION = ON_THE_WAY | ENDED
"""Left its location (a handed-over pickup counts as shipped)."""
ARRIVED = frozenset({S.DELIVERED, S.PICKED_UP})
"""With the customer: what a return can be made of."""
MOVING = frozenset({S.SHIPPED, S.IN_TRANSIT, S.DELIVERED})
"""Events that say a parcel physically left its location: never dropped silently."""
CONSUMES_STOCK = frozenset({S.SHIPPED, S.PICKED_UP})
"""The events at which a shipment's reserved units leave the location's on-hand stock."""
del S


def steps_done(status: str) -> int | None:
    """How many steps along the forward order a shipment is once released (released 0, ...,
    delivered 6; picked up, the other end, also 6); None before release or off the path. An
    event at or below the recorded step is a resend."""
    if status not in FORWARD or status == ShipmentStatus.RESERVED:
        return None
    end = FORWARD.index(ShipmentStatus.DELIVERED)
    return min(FORWARD.index(ShipmentStatus(status)), end) - 1


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
PartnerEventKind = Literal[
    "accepted", "picked", "packed", "rejected", "shipped", "in_transit", "delivered", "exception"
]
"""What a warehouse system or carrier may report by webhook (a handover is the store's)."""
LocationEventKind = Literal["accepted", "picked", "packed", "shipped", "rejected"]
"""What store or vendor staff report from the portal's queue."""


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
