"""Payment methods and what a payment step answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

PaymentMethod = Literal["card", "wallet", "invoice", "prepayment", "cash_on_pickup"]

AUTHORISING: frozenset[str] = frozenset({"card", "wallet", "invoice"})
"""Methods authorised when the order is placed and captured per parcel as it ships."""
PAID_UP_FRONT: frozenset[str] = frozenset({"prepayment", "cash_on_pickup"})
"""Methods where money is received (by transfer, or in cash at pickup) rather than captured."""


def payment_step(operation: str, *detail: str) -> str:
    """The step name of a payment operation (``void:final``, ``refund:late:<payment id>``):
    with the order id it is the provider's idempotency key (``core.domain.events.step_key``)."""
    return ":".join([operation, *detail])


class PaymentResult(BaseModel):
    ok: bool
    transaction_id: str = ""
    amount_cents: int = 0
    reason: str = ""


class PaymentNotice(BaseModel):
    """Money received for a prepayment order (bank transfer), from the payment webhook."""

    payment_id: str
    amount_cents: int
    reference: str = ""
    received_at: datetime | None = None
