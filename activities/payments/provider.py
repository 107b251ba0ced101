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


class PaymentDeclined(Exception):
    """The provider said no (as opposed to being unreachable, which is retried)."""


class PaymentProvider(Protocol):
    name: str

    def authorise(self, key: str, order_id: str, amount_cents: int, method: str) -> Transaction:
        ...

    def capture(self, key: str, order_id: str, authorisation_id: str,
                amount_cents: int) -> Transaction:
        ...

    def void(self, key: str, order_id: str, authorisation_id: str) -> Transaction:
        ...
