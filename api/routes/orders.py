"""Shop-facing order endpoints: place (idempotent), look up, list.

Store and vendor keys (role ``location``) read orders too, but only those routed to their
location (a shipment from there, or transferred there for pickup): any other order is 404,
exactly like an unknown one, and listings leave it out (``api.http.security.location_scope``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

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
    InvoiceRateView,
    InvoiceView,
    OrderAccepted,
    OrderList,
    OrderSummary,
    OrderView,
    PaymentView,
    ShipmentView,
)
from api.services.invoices import invoice_path, order_invoices
from api.services.order_intake import start_order
from core.db.schema import OrderEvent, OrderRecord, PaymentTransaction, ShipmentRecord
from core.domain.orders import TERMINAL_STATUSES, OrderInput, OrderRequest
from core.rules.vat import GrossLine, breakdown, main_rate, rate_for
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
    summary="An order with its history, payments and invoices (a location key: orders routed "
    "to it)",
)
def get_order(
    order_id: str,
    request: Request,
    s: Annotated[Session, Depends(deps.db)],
    settings: Annotated[Settings, Depends(deps.settings)],
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
        delivery_instructions=rec.payload.get("delivery_instructions"),
        shipments=[ShipmentView.model_validate(sh, from_attributes=True) for sh in shipments],
        events=[EventView(type=e.type, at=e.at, actor=e.actor, detail=e.detail) for e in events],
        payments=payment_views(s, order_id),
        invoices=invoice_views(s, order_id, settings.base_url),
        vat=vat_view(rec.payload, settings.vat_rates),
        **release_hold(rec.status, events),
    )


def release_hold(status: str, events: Sequence[OrderEvent]) -> dict[str, datetime | None]:
    """The release hold as the event log tells it: its end (the ``placed`` entry names it),
    and whether it still holds (not over, not released, not lifted by "release now", not
    ended)."""
    until = next(
        (e.detail.get("hold_until") for e in events if e.type == "placed"),
        None,
    )
    if not until:
        return {"release_hold_until": None, "changes_until": None}
    end = datetime.fromisoformat(until)
    over = (
        end <= datetime.now(UTC)
        or status in TERMINAL_STATUSES
        or any(e.type in ("released", "release_now") for e in events)
    )
    return {"release_hold_until": end, "changes_until": None if over else end}


def vat_view(payload: dict[str, Any], rates: dict[str, float]) -> list[InvoiceRateView]:
    """Net, VAT and gross per rate of the order as it stands (lines at what the customer pays
    for them, the shipping fee at the rate of the larger goods share): the rule the invoices
    use (core.rules.vat)."""
    goods = [
        GrossLine(
            ln["unit_price_cents"], ln["quantity"], rate_for(ln.get("vat_class", "standard"), rates)
        )
        for ln in payload.get("lines", [])
    ]
    fee = int(payload.get("shipping_cents", 0))
    lines = [*goods, GrossLine(fee, 1, main_rate(goods))] if fee else goods
    return [
        InvoiceRateView(
            vat_rate=str(r.rate),
            net_cents=r.net_cents,
            vat_cents=r.vat_cents,
            gross_cents=r.gross_cents,
        )
        for r in breakdown(lines).rates
    ]


def payment_views(s: Session, order_id: str) -> list[PaymentView]:
    """Every booking of the order's money, oldest first, failed and pending ones included
    (a declined capture is exactly what customer service is asked about)."""
    rows = s.exec(
        select(PaymentTransaction)
        .where(PaymentTransaction.order_id == order_id)
        .order_by(col(PaymentTransaction.created_at), col(PaymentTransaction.id))
    ).all()
    return [
        PaymentView(
            transaction_id=t.id,
            provider=t.provider,
            kind=t.kind,
            amount_cents=t.amount_cents,
            status=t.status,
            succeeded=t.status == "succeeded",
            parent_id=t.parent_id,
            step=t.idempotency_key,
            created_at=t.created_at,
        )
        for t in rows
    ]


def invoice_views(s: Session, order_id: str, base_url: str) -> list[InvoiceView]:
    """The order's invoices and credit notes; ``pdf_url`` only once the PDF is stored, so the
    link never leads to a 404."""
    return [
        InvoiceView(
            number=d.number,
            kind=d.kind,
            shipment_id=d.shipment_id,
            refers_to=d.refers_to,
            issued_on=d.issued_on,
            delivery_date=d.delivery_date,
            total_gross_cents=d.total_gross_cents,
            currency=d.currency,
            totals=[
                InvoiceRateView(
                    vat_rate=str(t["vat_rate"]),
                    net_cents=int(t["net_cents"]),
                    vat_cents=int(t["vat_cents"]),
                    gross_cents=int(t["gross_cents"]),
                )
                for t in d.totals
            ],
            pdf_url=base_url + invoice_path(order_id, d.number) if d.has_pdf else None,
        )
        for d in order_invoices(s, order_id)
    ]


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
