"""The adapter interface every payment provider implements.

Every call carries an idempotency key (order id + step); a provider must answer a repeated key
with the original transaction, never a second one. Real providers (Stripe, Adyen, PayPal...)
support exactly this, which is why the OMS can let Temporal retry freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Transaction:
    id: str
    kind: str
    amount_cents: int
    succeeded: bool
    reason: str = ""


class PaymentProvider(Protocol):
    name: str

    def authorise(self, key: str, order_id: str, amount_cents: int, method: str) -> Transaction:
        """Reserve money on a card/wallet; invoices are 'authorised' by accepting them."""
        ...

    def capture(
        self, key: str, order_id: str, authorisation_id: str, amount_cents: int
    ) -> Transaction:
        """Take part of an authorisation (one parcel's worth)."""
        ...

    def void(
        self, key: str, order_id: str, authorisation_id: str, amount_cents: int
    ) -> Transaction:
        """Give back part of an authorisation that will never be captured."""
        ...

    def refund(
        self, key: str, order_id: str, amount_cents: int, parent_id: str | None
    ) -> Transaction:
        """Pay money back (after a capture, or a bank transfer received)."""
        ...

    def record_incoming(
        self, key: str, order_id: str, amount_cents: int, reference: str
    ) -> Transaction:
        """Book money that arrived by bank transfer (prepayment)."""
        ...
