"""Orders recorded but never started: what the order sweeper (``workflows/ops/order_sweep.py``)
starts.

``POST /orders`` records the order (``order_record``, with its full priced payload) before it
starts the order's workflow, so an accepted order is never lost. When Temporal is away at that
moment the caller gets 503 and the row stays behind, "received" with no workflow. A retry of the
same request starts it; if the retry never comes, the sweeper does, once the row is older than
the grace time (``OMS_ORDER_SWEEP_GRACE_S``), which leaves the API's own start, and its retry,
all the room they need.

A row is a candidate while it is still "received" and nothing was logged for it yet: the first
thing an order's workflow does is log "placed", so a started order leaves the list within a
moment, and a candidate whose workflow does exist after all (a start that went through while
its answer was lost) is simply skipped by the sweeper, since starting is idempotent by
workflow id.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import and_, exists, or_
from sqlmodel import col, select

from core.db.engine import session_scope
from core.db.schema import OrderEvent, OrderRecord
from core.domain.orders import OrderInput, OrderStatus


class SweepCursor(BaseModel):
    """Where a page ended: pages go by (created_at, order_id), oldest first."""

    created_at: datetime
    order_id: str


class UnstartedOrders(BaseModel):
    orders: list[OrderInput]
    next: SweepCursor | None
    """None on the last page."""


def unstarted_orders(
    url: str, placed_before: datetime, limit: int, after: SweepCursor | None = None
) -> UnstartedOrders:
    """Up to ``limit`` recorded orders placed before ``placed_before`` that show no sign of a
    workflow (still "received", nothing logged), oldest first, from after ``after``."""
    logged = exists().where(col(OrderEvent.order_id) == col(OrderRecord.order_id))
    query = select(OrderRecord).where(
        col(OrderRecord.status) == OrderStatus.RECEIVED.value,
        col(OrderRecord.created_at) < placed_before,
        ~logged,
    )
    if after is not None:
        query = query.where(
            or_(
                col(OrderRecord.created_at) > after.created_at,
                and_(
                    col(OrderRecord.created_at) == after.created_at,
                    col(OrderRecord.order_id) > after.order_id,
                ),
            )
        )
    with session_scope(url) as s:
        rows = s.exec(
            query.order_by(col(OrderRecord.created_at), col(OrderRecord.order_id)).limit(limit)
        ).all()
        orders = [OrderInput.model_validate(r.payload) for r in rows]
        last = (
            SweepCursor(created_at=rows[-1].created_at, order_id=rows[-1].order_id)
            if len(rows) == limit
            else None
        )
    return UnstartedOrders(orders=orders, next=last)
