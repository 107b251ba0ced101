"""The order read model and event log: what listings, dashboards and customer service read."""

from __future__ import annotations

import hashlib
from typing import Any

from core.db.schema import OrderRecord
from core.domain.orders import CHANNEL_PRICE_FIELDS, OrderInput, OrderRequest


def order_record_for(order: OrderInput, request_hash: str) -> OrderRecord:
    """The read-model row of a newly placed order."""
    return OrderRecord(
        order_id=order.order_id,
        workflow_id=order.workflow_id,
        status="received",
        channel=order.channel,
        customer_id=order.customer.id,
        customer_email=str(order.customer.email),
        customer_name=order.customer.name,
        postcode=order.delivery_address.postcode,
        payment_method=order.payment_method,
        shipping_speed=order.shipping_speed,
        total_cents=order.total_cents,
        request_hash=request_hash,
        payload=order.model_dump(mode="json"),
        created_at=order.placed_at,
    )


def request_hash(req: OrderRequest) -> str:
    """The request's fingerprint; money fields it does not use are left out, so a request
    sent before they existed hashes the same (a retry across the upgrade is no conflict)."""
    unused: dict[str, Any] = {
        name: True for name, empty in CHANNEL_PRICE_FIELDS.items() if getattr(req, name) == empty
    }
    if not any(ln.unit_price_cents is not None or ln.discount_cents for ln in req.lines):
        unused["lines"] = {"__all__": {"unit_price_cents", "discount_cents"}}
    if req.customer.vat_id is None:
        unused["customer"] = {"vat_id"}
    if req.delivery_instructions is None:
        unused["delivery_instructions"] = True
    return hashlib.sha256(req.model_dump_json(exclude=unused).encode()).hexdigest()


def _apply_snapshot(rec: OrderRecord, order: OrderInput) -> None:
    """The order changed (modified, partly cancelled, payment method switched)."""
    rec.payload = order.model_dump(mode="json")
    rec.total_cents = order.total_cents
    rec.payment_method = order.payment_method
    rec.shipping_speed = order.shipping_speed
    rec.postcode = order.delivery_address.postcode
