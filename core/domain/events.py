"""What the order workflow records and sends: event-log entries and e-mail requests, and the
one derivation of their idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from core.domain.inputs import Locale
from core.domain.orders import OrderInput, OrderStatus


def step_key(order_id: str, step: str) -> str:
    """The idempotency key of one step of one order, derived here only: the event-log entry,
    the e-mail and the payment operation of a step, retried or replayed, keep their key."""
    return f"{order_id}:{step}"


class ProgressEvent(BaseModel):
    """One entry of an order's event log (``type`` is the step), keyed for idempotency."""

    order_id: str
    key: str = Field(default="", description="derived from order id and type when not given")
    type: str
    status: OrderStatus | None = None
    detail: dict[str, str | int | float | bool | None] = {}
    actor: str = "system"
    at: datetime
    snapshot: OrderInput | None = Field(
        default=None, description="the order as it now stands, when it changed (read model)"
    )

    @model_validator(mode="after")
    def _derive_key(self) -> ProgressEvent:
        self.key = self.key or step_key(self.order_id, self.type)
        return self


class EmailRequest(BaseModel):
    """An e-mail to send once: its key (order id + step) makes retries harmless. The step is
    the name of the event-log entry it belongs to, so a step has one name everywhere."""

    order_id: str
    step: str = ""
    key: str = Field(default="", description="derived from order id and step when not given")
    to: str
    template: str
    locale: Locale = "de"
    context: dict[str, Any] = {}
    invoices: list[str] = Field(
        default_factory=list, description="numbers of invoices whose PDFs go with it"
    )

    @model_validator(mode="after")
    def _derive_key(self) -> EmailRequest:
        if not self.key:
            if not self.step:
                raise ValueError("an e-mail needs its step (or, recorded earlier, its key)")
            self.key = step_key(self.order_id, self.step)
        return self
