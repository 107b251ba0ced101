"""Turns a shop's order request into a priced, validated workflow input.

Checks that need the catalogue or geography happen here, before anything is created, so a bad
order is answered 422 and leaves no trace.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, col, select

from api.errors import field_error, invalid
from core.db.schema import Sku
from core.geodata import lookup
from core.models import OrderInput, OrderLine, OrderPolicy, OrderRequest


def price_order(s: Session, req: OrderRequest, policy: OrderPolicy,
                now: datetime | None = None) -> OrderInput:
    skus = {row.sku: row for row in s.exec(
        select(Sku).where(col(Sku.sku).in_([ln.sku for ln in req.lines]))).all()}
    errors = [field_error(("lines", i, "sku"), f"unknown SKU {ln.sku!r}", "unknown_sku")
              for i, ln in enumerate(req.lines) if ln.sku not in skus]
    if lookup(req.delivery_address.postcode) is None:
        errors.append(field_error(("delivery_address", "postcode"),
                                  f"unknown postcode {req.delivery_address.postcode!r}",
                                  "unknown_postcode"))
    if errors:
        raise invalid(errors)
    lines = [
        OrderLine(line_id=f"L{i + 1}", sku=ln.sku, name=skus[ln.sku].name, quantity=ln.quantity,
                  unit_price_cents=skus[ln.sku].price_cents, weight_kg=skus[ln.sku].weight_kg,
                  bulky=skus[ln.sku].bulky, hazardous=skus[ln.sku].hazardous)
        for i, ln in enumerate(req.lines)
    ]
    return OrderInput(
        order_id=req.order_id, channel=req.channel, customer=req.customer,
        delivery_address=req.delivery_address, lines=lines, shipping_speed=req.shipping_speed,
        payment_method=req.payment_method,
        shipping_cents=policy.shipping_fee_cents[req.shipping_speed],
        placed_at=now or datetime.now(UTC), policy=policy)
