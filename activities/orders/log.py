"""The order read model and event log: what listings, dashboards and customer service read."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlmodel import select
from temporalio import activity

from activities.messaging.outbound import enqueue_deliveries
from core.db.engine import session_scope
from core.db.schema import OrderEvent, OrderRecord
from core.domain.events import ProgressEvent
from core.domain.orders import OrderInput, OrderRequest
from core.metrics import count_progress
from core.settings import Settings


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
    return hashlib.sha256(req.model_dump_json().encode()).hexdigest()


class OrderLogActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def register_order(self, order: OrderInput) -> None:
        """Make sure the read model has the order (the API normally wrote it already)."""
        with session_scope(self.url) as s:
            if s.get(OrderRecord, order.order_id) is None:
                s.add(order_record_for(order, request_hash=""))

    @activity.defn
    def record_progress(self, ev: ProgressEvent) -> None:
        """Append to the event log once per key and move the read model's status."""
        if self._append(ev):
            count_progress(ev)  # metrics: once per event, after it is committed

    def _append(self, ev: ProgressEvent) -> bool:
        with session_scope(self.url) as s:
            if s.exec(select(OrderEvent.id).where(OrderEvent.key == ev.key)).first() is not None:
                return False
            event = OrderEvent(
                key=ev.key,
                order_id=ev.order_id,
                type=ev.type,
                detail=ev.detail,
                actor=ev.actor,
                at=ev.at,
            )
            s.add(event)
            enqueue_deliveries(s, event, ev.status)  # the outbox, in the same transaction
            rec = s.get(OrderRecord, ev.order_id)
            if rec is None:
                return True
            if ev.status is not None:
                rec.status = ev.status.value
            if ev.snapshot is not None:
                _apply_snapshot(rec, ev.snapshot)
            rec.updated_at = datetime.now(UTC)
        return True


def _apply_snapshot(rec: OrderRecord, order: OrderInput) -> None:
    """The order changed (modified, partly cancelled, payment method switched)."""
    rec.payload = order.model_dump(mode="json")
    rec.total_cents = order.total_cents
    rec.payment_method = order.payment_method
    rec.shipping_speed = order.shipping_speed
    rec.postcode = order.delivery_address.postcode
