"""Shop-facing order endpoints: place (idempotent), look up, list.

Store and vendor keys (role ``location``) read orders too, but only those routed to their
location (a shipment from there, or transferred there for pickup): any other order is 404,
exactly like an unknown one, and listings leave it out (``api.http.security.location_scope``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlalchemy import ColumnElement, exists, or_
from sqlmodel import Session, col, func, select
from temporalio.client import Client

from api import deps
from api.http.admission import ADMISSION
from api.http.errors import API_ERRORS
from api.http.security import ORDER_READERS, SHOP, location_scope
from api.routes.schemas import (
    EventView,
    OrderAccepted,
    OrderList,
    OrderSummary,
    OrderView,
    ShipmentView,
)
from api.services.order_intake import start_order
from core.db.schema import OrderEvent, OrderRecord, ShipmentRecord
from core.domain.orders import OrderInput, OrderRequest
from core.settings import Settings

router = APIRouter(tags=["orders"], responses=API_ERRORS)


@router.post(
    "/orders",
    dependencies=[*SHOP, *ADMISSION],
    status_code=202,
    response_model=OrderAccepted,
    summary="Place an order (idempotent by order_id)",
)
async def place_order(
    req: OrderRequest,
    response: Response,
    settings: Annotated[Settings, Depends(deps.settings)],
    client: Annotated[Client, Depends(deps.temporal)],
    now: Annotated[datetime, Depends(deps.now)],
) -> OrderAccepted:
    return accepted_answer(await start_order(req, settings, client, now=now), response, settings)


def accepted_answer(order: OrderInput, response: Response, settings: Settings) -> OrderAccepted:
    """The 202 answer to a placed order: where to follow it."""
    status_url = f"{settings.base_url}/orders/{order.order_id}"
    response.headers["Location"] = status_url
    return OrderAccepted(
        order_id=order.order_id, workflow_id=order.workflow_id, status_url=status_url
    )


def routed_to(location_id: str) -> ColumnElement[bool]:
    """An order (``OrderRecord``) has a shipment from ``location_id`` or transferred there."""
    return exists().where(
        col(ShipmentRecord.order_id) == col(OrderRecord.order_id),
        or_(
            col(ShipmentRecord.location_id) == location_id,
            col(ShipmentRecord.transfer_to) == location_id,
        ),
    )


def visible_order(s: Session, request: Request, order_id: str) -> OrderRecord:
    """The order as the caller may see it: 404 when it is unknown, and for a location key also
    when it is not routed to its location (the same answer: nothing is revealed)."""
    query = select(OrderRecord).where(OrderRecord.order_id == order_id)
    if (scope := location_scope(request)) is not None:
        query = query.where(routed_to(scope))
    rec = s.exec(query).first()
    if rec is None:
        raise HTTPException(404, detail=f"order {order_id} not found")
    return rec


@router.get(
    "/orders/{order_id}",
    dependencies=ORDER_READERS,
    response_model=OrderView,
    summary="An order with its history (a location key: orders routed to it)",
)
def get_order(
    order_id: str, request: Request, s: Annotated[Session, Depends(deps.db)]
) -> OrderView:
    rec = visible_order(s, request, order_id)
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
    "/orders",
    dependencies=ORDER_READERS,
    response_model=OrderList,
    summary="List orders, newest first (a location key: orders routed to it)",
)
def list_orders(
    request: Request,
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
    if (scope := location_scope(request)) is not None:
        query = query.where(routed_to(scope))
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
