"""What the order workflow records and sends: event-log entries and e-mail requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from core.domain.inputs import Locale
from core.domain.orders import OrderInput, OrderStatus


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
