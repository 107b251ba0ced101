"""Turns a shop's order request into a priced, validated workflow input.

Checks that need the catalogue or geography happen here, before anything is created, so a bad
order is answered 422 and leaves no trace.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from activities.pricing import InvalidOrder, price_lines
from api.errors import field_error, invalid
from core.models import OrderInput, OrderRequest
from core.policy import OrderPolicy


def price_order(s: Session, req: OrderRequest, policy: OrderPolicy,
                now: datetime | None = None, placed_by: str | None = None) -> OrderInput:
    if req.payment_method == "cash_on_pickup":
        raise invalid([field_error(("payment_method",), "cash on pickup needs a pickup store "
                                   "(click & collect)", "unsupported")])
    try:
        lines = price_lines(s, req.lines, req.delivery_address)
    except InvalidOrder as exc:
        raise invalid([field_error(loc, msg, kind) for loc, msg, kind in exc.errors]) from exc
    return OrderInput(
        order_id=req.order_id, channel=req.channel, customer=req.customer,
        delivery_address=req.delivery_address, billing_address=req.billing_address,
        lines=lines, shipping_speed=req.shipping_speed, payment_method=req.payment_method,
        shipping_cents=policy.shipping_fee_cents[req.shipping_speed],
        placed_at=now or datetime.now(UTC), policy=policy, placed_by=placed_by)
