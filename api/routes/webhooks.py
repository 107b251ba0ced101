"""Webhooks from warehouse systems and carriers, delivered to the order workflow as signals."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import Field
from sqlmodel import Session
from temporalio.client import Client

from api import deps
from api.http.errors import API_ERRORS
from api.http.security import CARRIER_OR_WAREHOUSE, PAYMENT_PROVIDER
from api.routes.schemas import ShipmentEventIn
from api.services.shipment_events import check_event, send_shipment_event
from core.db.schema import OrderRecord, ShipmentRecord
from core.domain.inputs import InputModel
from core.domain.payments import PaymentNotice
from core.domain.shipments import ShipmentEvent
from core.settings import Settings
from workflows.order.client import OrderClient

router = APIRouter(tags=["webhooks"], responses=API_ERRORS)


@router.post(
    "/webhooks/shipments",
    dependencies=CARRIER_OR_WAREHOUSE,
    status_code=202,
    summary="Shipment event (shipped, ...)",
)
async def shipment_event(
    body: ShipmentEventIn,
    s: Annotated[Session, Depends(deps.db)],
    settings: Annotated[Settings, Depends(deps.settings)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> dict[str, str]:
    """202 once the order took the news; 409 when it refuses it (a closed order, a withdrawn
    or not yet released shipment), and then a parcel that moved is also an ops case."""
    event = ShipmentEvent(
        shipment_id=body.shipment_id,
        kind=body.event,
        carrier=body.carrier,
        tracking_number=body.tracking_number,
        reason=body.reason,
        exception=body.exception,
        at=body.at,
    )
    check_event(event, settings.event_clock_skew)  # 422 before we look anything up
    rec = s.get(ShipmentRecord, body.shipment_id)
    if rec is None:
        raise HTTPException(404, detail=f"shipment {body.shipment_id} not found")
    s.close()  # the connection goes back to the pool before we wait on Temporal
    await send_shipment_event(client, settings.database_url, rec, event, settings.event_clock_skew)
    return {"status": "accepted", "order_id": rec.order_id}


class PaymentIn(InputModel):
    """A payment provider's or bank's notice that money for an order arrived."""

    order_id: str = Field(min_length=1, max_length=64)
    payment_id: str = Field(min_length=1, max_length=100, description="unique per payment")
    amount_cents: int = Field(gt=0, le=100_000_000)
    reference: str = Field(default="", max_length=140)
    received_at: datetime | None = None


@router.post(
    "/webhooks/payments",
    dependencies=PAYMENT_PROVIDER,
    status_code=202,
    summary="Money received (bank transfer)",
)
async def payment_received(
    body: PaymentIn,
    s: Annotated[Session, Depends(deps.db)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> dict[str, str]:
    """Delivered to the order, which books it once per payment id. Money for an order whose
    workflow is gone entirely is answered 409, so the sender keeps it and retries or escalates:
    it is never silently dropped."""
    if s.get(OrderRecord, body.order_id) is None:
        raise HTTPException(404, detail=f"order {body.order_id} not found")
    s.close()  # the connection goes back to the pool before we wait on Temporal
    await OrderClient(client, body.order_id).payment_received(
        PaymentNotice(
            payment_id=body.payment_id,
            amount_cents=body.amount_cents,
            reference=body.reference,
            received_at=body.received_at,
        )
    )
    return {"status": "accepted", "order_id": body.order_id}
