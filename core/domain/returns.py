"""Models of a return that cross the workflow boundary (plain pydantic, no I/O).

A return is one parcel (or one counter booking) going to one destination; a request that mixes
defective and non-defective goods becomes several returns, one per destination.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.domain.inputs import InputModel
from core.domain.orders import Address, Customer
from core.policy import ReturnPolicy

ReturnReason = Literal[
    "defective", "wrong_size", "not_as_described", "changed_mind", "arrived_too_late", "other"
]
REASON_LABELS: dict[str, str] = {
    "wrong_size": "wrong size",
    "changed_mind": "changed my mind",
    "not_as_described": "not as described",
    "defective": "defective",
    "arrived_too_late": "arrived too late",
    "other": "other",
}
ReturnChannel = Literal["mail", "store"]
RETURN_ID_PATTERN = r"^R-[A-Za-z0-9_-]{1,80}$"


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    LABEL_ISSUED = "label_issued"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    INSPECTED = "inspected"
    REFUNDED = "refunded"
    FORWARDED = "forwarded"  # in-store return on its way on to its destination
    CLOSED = "closed"
    EXPIRED = "expired"


OPEN_RETURN_STATUSES = frozenset(s.value for s in ReturnStatus) - {"expired"}


ReturnEventKind = Literal["in_transit", "received", "inspected"]
"""What a warehouse system (or carrier) reports about a return parcel."""


class _Strict(InputModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReturnLineRequest(_Strict):
    line_id: str = Field(min_length=1, max_length=16)
    quantity: int = Field(gt=0, le=10_000)
    reason: ReturnReason
    note: str = Field(default="", max_length=300)


class ReturnRequest(_Strict):
    """What the customer (self-service), an agent or a store asks to send back."""

    lines: list[ReturnLineRequest] = Field(min_length=1, max_length=100)


class AgentReturnRequest(ReturnRequest):
    agent: str = Field(min_length=1, max_length=64)


class ReturnLine(BaseModel):
    """A returned order line, priced as it was sold."""

    line_id: str
    sku: str
    name: str
    quantity: int
    unit_price_cents: int
    weight_kg: float
    bulky: bool = False
    reason: ReturnReason
    shipment_id: str = Field(description="the delivered parcel it came in (refund parent)")
    from_location_id: str = ""

    @property
    def defective(self) -> bool:
        return self.reason == "defective"

    @property
    def total_cents(self) -> int:
        return self.unit_price_cents * self.quantity


class ReturnDestination(BaseModel):
    """Where the goods go and why (the routing rule's answer, kept in the workflow input)."""

    location_id: str
    name: str
    kind: str
    postcode: str
    city: str
    why: str
    stays: bool = Field(default=False, description="in-store return kept by that store")
    carrier: str = ""
    carriage_cents: int = 0
    transit_days: int = 0
    distance_km: float = 0.0
    days_of_cover: float | None = None


class ReturnInput(BaseModel):
    return_id: str
    order_id: str
    channel: ReturnChannel
    requested_by: str
    requested_at: datetime
    customer: Customer
    sender: Address
    lines: list[ReturnLine]
    destination: ReturnDestination
    store_id: str | None = Field(default=None, description="store that booked it (in store)")
    shipping_refund_cents: int = 0
    policy: ReturnPolicy = ReturnPolicy()
    label_url: str = ""
    page_url: str = ""

    @property
    def goods_cents(self) -> int:
        return sum(ln.total_cents for ln in self.lines)

    @property
    def refund_cents(self) -> int:
        return self.goods_cents + self.shipping_refund_cents

    @property
    def workflow_id(self) -> str:
        return return_workflow_id(self.return_id)


def return_workflow_id(return_id: str) -> str:
    return f"return-{return_id}"


class ReturnScan(BaseModel):
    carrier: str = ""
    tracking_number: str = ""


class ReturnReceipt(BaseModel):
    """The parcel arrived (warehouse webhook, or a store's portal)."""

    location_id: str
    by: str = "system"
    at: datetime | None = None


class InspectedLine(BaseModel):
    line_id: str
    sellable: bool


class ReturnInspection(BaseModel):
    lines: list[InspectedLine]
    by: str = "system"


class StockBooking(BaseModel):
    """Where the goods of a return end up: sellable units restocked, the rest written off."""

    return_id: str
    order_id: str
    location_id: str
    sellable: dict[str, int] = {}
    written_off: dict[str, int] = {}


class ReturnProgress(BaseModel):
    """One step of a return, for its read model and the order's event log (once per key)."""

    return_id: str
    order_id: str
    status: ReturnStatus
    at: datetime
    detail: dict[str, str | int | float | bool | None] = {}
    actor: str = "system"


class ReturnState(BaseModel):
    return_id: str
    order_id: str
    status: ReturnStatus
    destination_id: str
    arrived_at: str | None = None
    refunded_cents: int = 0
    waiting_for: str = ""
