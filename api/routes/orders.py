"""Shop-facing order endpoints: place (idempotent), look up, list."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.orders.log import order_record_for, request_hash
from api import deps
from api.http.errors import API_ERRORS
from api.http.security import READERS, SHOP
from api.routes.order_intake import price_order
from api.routes.schemas import (
    EventView,
    OrderAccepted,
    OrderList,
    OrderSummary,
    OrderView,
    ShipmentView,
)
from core.db.engine import session_scope
from core.db.schema import OrderEvent, OrderRecord, ShipmentRecord
from core.domain.orders import OrderInput, OrderRequest
from core.policy import load_policy
from core.settings import Settings
from workflows.order.workflow import OrderWorkflow
from workflows.search_attributes import (
    CHANNEL,
    CUSTOMER_ID,
    LATE,
    ORDER_STATUS,
    ORDER_TOTAL,
    PAYMENT_METHOD,
)

router = APIRouter(tags=["orders"], responses=API_ERRORS)


def _accept(settings: Settings, req: OrderRequest, placed_by: str | None) -> OrderInput:
    """Price and record the order; the same order id with another body is a conflict."""
    digest = request_hash(req)
    with session_scope(settings.database_url) as s:
        order = price_order(s, req, load_policy(settings.policy_file), placed_by=placed_by)
    try:
        with session_scope(settings.database_url) as s:
            s.add(order_record_for(order, digest))
    except IntegrityError:
        with session_scope(settings.database_url) as s:
            existing = s.get(OrderRecord, req.order_id)
            if existing is None or existing.request_hash != digest:
                raise HTTPException(
                    409, detail=f"order {req.order_id} exists with other content"
                ) from None
            order = OrderInput.model_validate(existing.payload)
    return order


def initial_search_attributes(order: OrderInput) -> TypedSearchAttributes:
    """What ops can filter on from the first moment (the workflow keeps them current)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(ORDER_STATUS, "received"),
            SearchAttributePair(CHANNEL, order.channel),
            SearchAttributePair(CUSTOMER_ID, order.customer.id),
            SearchAttributePair(PAYMENT_METHOD, order.payment_method),
            SearchAttributePair(ORDER_TOTAL, order.total_cents),
            SearchAttributePair(LATE, False),
        ]
    )


@router.post(
    "/orders",
    dependencies=SHOP,
    status_code=202,
    response_model=OrderAccepted,
    summary="Place an order (idempotent by order_id)",
)
async def place_order(
    req: OrderRequest,
    response: Response,
    settings: Annotated[Settings, Depends(deps.settings)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> OrderAccepted:
    return await start_order(req, response, settings, client)


async def start_order(
    req: OrderRequest,
    response: Response,
    settings: Settings,
    client: Client,
    placed_by: str | None = None,
) -> OrderAccepted:
    """Record the order and start its workflow; safe to repeat with the same request."""
    order = await run_in_threadpool(_accept, settings, req, placed_by)
    # USE_EXISTING: a repeat while it runs joins it; after it ended, the id is taken for good.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            OrderWorkflow.run,
            order,
            id=order.workflow_id,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=initial_search_attributes(order),
            static_summary=f"Order {order.order_id}: {len(order.lines)} line(s), "
            f"{order.total_cents / 100:.2f} EUR, {order.payment_method}, "
            f"{order.channel}",
            static_details=f"Customer {order.customer.id} ({order.customer.email}), "
            f"{order.delivery_address.postcode} {order.delivery_address.city}"
            + (f"; pickup at {order.pickup_store_label}" if order.pickup_store_id else ""),
        )
    status_url = f"{settings.base_url}/orders/{order.order_id}"
    response.headers["Location"] = status_url
    return OrderAccepted(
        order_id=order.order_id, workflow_id=order.workflow_id, status_url=status_url
    )


@router.get(
    "/orders/{order_id}",
    dependencies=READERS,
    response_model=OrderView,
    summary="An order with its history",
)
def get_order(order_id: str, s: Annotated[Session, Depends(deps.db)]) -> OrderView:
    rec = s.get(OrderRecord, order_id)
    if rec is None:
        raise HTTPException(404, detail=f"order {order_id} not found")
    shipments = s.exec(
        select(ShipmentRecord)
        .where(ShipmentRecord.order_id == order_id)
        .order_by(col(ShipmentRecord.shipment_id))
    ).all()
    events = s.exec(
        select(OrderEvent)
        .where(OrderEvent.order_id == order_id)
        .order_by(col(OrderEvent.at), col(OrderEvent.id))
    ).all()
    return OrderView(
        order_id=rec.order_id,
        workflow_id=rec.workflow_id,
        status=rec.status,
        channel=rec.channel,
        customer_id=rec.customer_id,
        customer_email=rec.customer_email,
        payment_method=rec.payment_method,
        shipping_speed=rec.shipping_speed,
        total_cents=rec.total_cents,
        created_at=rec.created_at,
        updated_at=rec.updated_at,
        lines=rec.payload.get("lines", []),
        delivery_address=rec.payload.get("delivery_address", {}),
        shipments=[ShipmentView.model_validate(sh, from_attributes=True) for sh in shipments],
        events=[EventView(type=e.type, at=e.at, actor=e.actor, detail=e.detail) for e in events],
    )


@router.get(
    "/orders", dependencies=READERS, response_model=OrderList, summary="List orders, newest first"
)
def list_orders(
    s: Annotated[Session, Depends(deps.db)],
    status: str | None = None,
    channel: str | None = None,
    customer_id: str | None = None,
    email: str | None = None,
    postcode: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=deps.DB_INT_MAX)] = 0,
) -> OrderList:
    query = select(OrderRecord)
    for column, value in (
        (OrderRecord.status, status),
        (OrderRecord.channel, channel),
        (OrderRecord.customer_id, customer_id),
        (OrderRecord.customer_email, email),
        (OrderRecord.postcode, postcode),
    ):
        if value is not None:
            query = query.where(column == value)
    total = s.exec(select(func.count()).select_from(query.subquery())).one()
    rows = s.exec(
        query.order_by(col(OrderRecord.created_at).desc()).offset(offset).limit(limit)
    ).all()
    return OrderList(
        total=total, orders=[OrderSummary.model_validate(r, from_attributes=True) for r in rows]
    )
