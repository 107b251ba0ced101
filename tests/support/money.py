"""What the payment provider's ledger says about an order."""

from __future__ import annotations

from sqlmodel import select

from core.db.engine import session_scope
from core.db.schema import PaymentTransaction


def amounts(url: str, order_id: str) -> dict[str, int]:
    """Succeeded amounts per transaction kind (authorise, capture, void, refund, incoming)."""
    totals: dict[str, int] = {}
    with session_scope(url) as s:
        for t in s.exec(
            select(PaymentTransaction).where(
                PaymentTransaction.order_id == order_id, PaymentTransaction.status == "succeeded"
            )
        ).all():
            totals[t.kind] = totals.get(t.kind, 0) + t.amount_cents
    return totals
