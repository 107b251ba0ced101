"""Customer-service and store commands to a running order (Temporal Updates) and
their answer."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.domain.inputs import _Strict
from core.domain.orders import Address, DeliveryInstructions, OrderLineRequest, Speed


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
    delivery_instructions: DeliveryInstructions | None = Field(
        default=None, description='new delivery instructions; "" removes them'
    )

    @property
    def changes(self) -> list[str]:
        """The fields this request changes, by name (none: nothing to change)."""
        return [name for name in MODIFIABLE if getattr(self, name) is not None]

    @property
    def instructions_only(self) -> bool:
        """Only the delivery instructions change: nothing to re-price, re-authorise or
        re-route; the parcels go where and when they would have gone."""
        return self.changes == ["delivery_instructions"]


MODIFIABLE = ("delivery_address", "shipping_speed", "lines", "delivery_instructions")
"""What a ``ModifyRequest`` can change."""


class ReleaseNowRequest(AgentAction):
    """Lift the release hold: the order goes to fulfilment now (once it is paid)."""


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
