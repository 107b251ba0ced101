"""Payment methods and what a payment step answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

PaymentMethod = Literal["card", "wallet", "invoice", "prepayment", "cash_on_pickup"]


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
