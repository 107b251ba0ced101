"""Customer-service actions on running orders, and orders placed on a customer's behalf.

The rules live in ``api.services.order_actions`` (shared with the console); a refusal is 409
with the workflow's reason and changes nothing; malformed requests are 422 as everywhere. With
an ``Idempotency-Key`` the action's Temporal Update id is the key, so a retry is done once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import Session
from temporalio.client import Client

from api import deps
from api.http.admission import ADMISSION
from api.http.errors import API_ERRORS
from api.http.idempotency import request_key
from api.http.security import CS_OR_LOCATION, CUSTOMER_SERVICE, own_location_only
from api.routes.orders import accepted_answer
from api.routes.schemas import OrderAccepted
from api.services import order_actions
from api.services.order_actions import AssistedOrder
from core.domain.commands import (
    ActionResult,
    CancelLinesRequest,
    CancelRequest,
    ModifyRequest,
    PickupConfirmation,
    ReleaseNowRequest,
    ReviewDecision,
)
from core.settings import Settings

router = APIRouter(tags=["customer service"], responses=API_ERRORS)


@router.post(
    "/orders/{order_id}/cancel",
    dependencies=CUSTOMER_SERVICE,
    response_model=ActionResult,
    summary="Cancel the whole order (refused once anything has shipped)",
)
async def cancel(
    order_id: str,
    body: CancelRequest,
    request: Request,
    s: Annotated[Session, Depends(deps.db)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> ActionResult:
    """Idempotent: cancelling a cancelled order answers 200 again, so a retry after a lost
    answer (timeout, restart) reads as the success it was."""
    return await order_actions.cancel(s, client, order_id, body, request_key(request))


@router.post(
    "/orders/{order_id}/cancel-lines",
    dependencies=CUSTOMER_SERVICE,
    response_model=ActionResult,
    summary="Cancel some lines or quantities that have not shipped",
)
async def cancel_lines(
    order_id: str,
    body: CancelLinesRequest,
    request: Request,
    s: Annotated[Session, Depends(deps.db)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> ActionResult:
    return await order_actions.cancel_lines(s, client, order_id, body, request_key(request))


@router.post(
    "/orders/{order_id}/modify",
    dependencies=CUSTOMER_SERVICE,
    response_model=ActionResult,
    summary="Change address, shipping speed or lines before release",
)
async def modify(
    order_id: str,
    body: ModifyRequest,
    request: Request,
    s: Annotated[Session, Depends(deps.db)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> ActionResult:
    return await order_actions.modify(s, client, order_id, body, request_key(request))


@router.post(
    "/orders/{order_id}/release-now",
    dependencies=CUSTOMER_SERVICE,
    response_model=ActionResult,
    summary="Lift the release hold: the order goes to fulfilment now (once paid)",
)
async def release_now(
    order_id: str,
    body: ReleaseNowRequest,
    request: Request,
    s: Annotated[Session, Depends(deps.db)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> ActionResult:
    return await order_actions.release_now(s, client, order_id, body, request_key(request))


@router.post(
    "/orders/{order_id}/review",
    dependencies=CUSTOMER_SERVICE,
    response_model=ActionResult,
    summary="Approve or reject an order held for review",
)
async def review(
    order_id: str,
    body: ReviewDecision,
    request: Request,
    s: Annotated[Session, Depends(deps.db)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> ActionResult:
    return await order_actions.review(s, client, order_id, body, request_key(request))


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
    return await order_actions.confirm_pickup(s, client, order_id, body, request_key(request))


@router.post(
    "/cs/orders",
    dependencies=[*CUSTOMER_SERVICE, *ADMISSION],
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
    order = await order_actions.place_for_customer(body, settings, client)
    return accepted_answer(order, response, settings)
