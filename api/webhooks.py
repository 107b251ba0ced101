"""Webhooks from warehouse systems and carriers, delivered to the order workflow as signals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from sqlmodel import Session
from temporalio.client import Client

from api import deps
from api.schemas import ShipmentEventIn
from core.db.schema import ShipmentRecord
from core.models import ShipmentEvent, workflow_id_for
from workflows.order import OrderWorkflow

router = APIRouter(tags=["webhooks"])


@router.post("/webhooks/shipments", status_code=202, summary="Shipment event (shipped, ...)")
async def shipment_event(body: ShipmentEventIn, s: Annotated[Session, Depends(deps.db)],
                         client: Annotated[Client, Depends(deps.temporal)]) -> dict[str, str]:
    rec = s.get(ShipmentRecord, body.shipment_id)
    if rec is None:
        raise HTTPException(404, detail=f"shipment {body.shipment_id} not found")
    if body.event == "shipped" and not body.tracking_number:
        raise HTTPException(422, detail=[{"loc": ["body", "tracking_number"], "type": "missing",
                                          "msg": "a shipped event needs a tracking number"}])
    await client.get_workflow_handle(workflow_id_for(rec.order_id)).signal(
        OrderWorkflow.shipment_event,
        ShipmentEvent(shipment_id=body.shipment_id, kind=body.event, carrier=body.carrier,
                      tracking_number=body.tracking_number, reason=body.reason, at=body.at))
    return {"status": "accepted", "order_id": rec.order_id}
