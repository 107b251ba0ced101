"""Customer-service actions on running orders, and orders placed on a customer's behalf.

Each action is a Temporal Update: the workflow's validator answers at once. A refusal is 409
with the workflow's reason and changes nothing; malformed requests are 422 as everywhere.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import Field
from sqlmodel import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.orders.pricing import InvalidOrder, price_lines
from api import deps
from api.http.errors import API_ERRORS, field_error, invalid
from api.http.security import CS_OR_LOCATION, CUSTOMER_SERVICE, own_location_only
from api.routes.orders import start_order
from api.routes.schemas import OrderAccepted
from core.db.schema import OrderRecord
from core.domain.commands import (
    ActionResult,
    CancelLinesRequest,
    CancelRequest,
    ModifyRequest,
    PickupConfirmation,
    ReviewDecision,
)
from core.domain.orders import Address, OrderRequest, workflow_id_for
from core.settings import Settings
from workflows.order.workflow import OrderWorkflow

router = APIRouter(tags=["customer service"], responses=API_ERRORS)


class AssistedOrder(OrderRequest):
    """An order a customer-service agent or store clerk places for a customer."""

    agent: str = Field(min_length=1, max_length=64)


async def _update(client: Client, order_id: str, update: Any, arg: object) -> ActionResult:
    handle = client.get_workflow_handle(workflow_id_for(order_id))
    try:
        return await handle.execute_update(update, arg, result_type=ActionResult)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        raise HTTPException(409, detail=getattr(cause, "message", None) or str(cause)) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(409, detail=f"order {order_id} is closed") from exc
        raise


def _known(s: Session, order_id: str) -> OrderRecord:
    rec = s.get(OrderRecord, order_id)
    if rec is None:
        raise HTTPException(404, detail=f"order {order_id} not found")
    return rec


def _release(s: Session) -> None:
    """Give the session's connection back before waiting on Temporal: an update can take
    seconds, and a handler holding a connection meanwhile starves the pool under load."""
    s.close()


@router.post(
    "/orders/{order_id}/cancel",
    dependencies=CUSTOMER_SERVICE,
    response_model=ActionResult,
    summary="Cancel the whole order (refused once anything has shipped)",
)
async def cancel(
    order_id: str,
    body: CancelRequest,
    s: Annotated[Session, Depends(deps.db)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> ActionResult:
    """Idempotent: cancelling a cancelled order answers 200 again, so a retry after a lost
    answer (timeout, restart) reads as the success it was."""
    _known(s, order_id)
    _release(s)
    try:
        return await _update(client, order_id, OrderWorkflow.cancel, body)
    except HTTPException as exc:
        rec = s.get(OrderRecord, order_id) if exc.status_code == 409 else None
        if rec is not None and rec.status == "cancelled":
            return ActionResult(
                message="order already cancelled", status="cancelled", total_cents=rec.total_cents
            )
        raise


@router.post(
    "/orders/{order_id}/cancel-lines",
    dependencies=CUSTOMER_SERVICE,
    response_model=ActionResult,
    summary="Cancel some lines or quantities that have not shipped",
)
async def cancel_lines(
    order_id: str,
    body: CancelLinesRequest,
    s: Annotated[Session, Depends(deps.db)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> ActionResult:
    _known(s, order_id)
    _release(s)
    return await _update(client, order_id, OrderWorkflow.cancel_lines, body)


@router.post(
    "/orders/{order_id}/modify",
    dependencies=CUSTOMER_SERVICE,
    response_model=ActionResult,
    summary="Change address, shipping speed or lines before release",
)
async def modify(
    order_id: str,
    body: ModifyRequest,
    s: Annotated[Session, Depends(deps.db)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> ActionResult:
    rec = _known(s, order_id)
    if body.lines is not None or body.delivery_address is not None:
        address = body.delivery_address or Address.model_validate(rec.payload["delivery_address"])
        try:
            price_lines(s, body.lines or [], address)
        except InvalidOrder as exc:
            raise invalid([field_error(loc, msg, kind) for loc, msg, kind in exc.errors]) from exc
    _release(s)
    return await _update(client, order_id, OrderWorkflow.modify, body)


@router.post(
    "/orders/{order_id}/review",
    dependencies=CUSTOMER_SERVICE,
    response_model=ActionResult,
    summary="Approve or reject an order held for review",
)
async def review(
    order_id: str,
    body: ReviewDecision,
    s: Annotated[Session, Depends(deps.db)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> ActionResult:
    _known(s, order_id)
    _release(s)
    return await _update(client, order_id, OrderWorkflow.decide_review, body)


@router.post(
    "/orders/{order_id}/pickup",
    dependencies=CS_OR_LOCATION,
    response_model=ActionResult,
    summary="Hand a click & collect order over in the store (code checked)",
)
async def confirm_pickup(
    order_id: str,
    body: PickupConfirmation,
    request: Request,
    s: Annotated[Session, Depends(deps.db)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> ActionResult:
    own_location_only(request, body.location_id)
    _known(s, order_id)
    _release(s)
    return await _update(client, order_id, OrderWorkflow.confirm_pickup, body)


@router.post(
    "/cs/orders",
    dependencies=CUSTOMER_SERVICE,
    status_code=202,
    response_model=OrderAccepted,
    summary="Place an order on a customer's behalf (phone or store)",
)
async def place_for_customer(
    body: AssistedOrder,
    response: Response,
    settings: Annotated[Settings, Depends(deps.settings)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> OrderAccepted:
    if body.channel not in ("phone", "store"):
        raise invalid(
            [
                field_error(
                    ("channel",), "orders placed by an agent come by phone or in a store", "channel"
                )
            ]
        )
    req = OrderRequest.model_validate(body.model_dump(exclude={"agent"}))
    return await start_order(req, response, settings, client, placed_by=body.agent)
