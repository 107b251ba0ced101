"""What customer service (and a store, for pickups) can do to a running order, shared by the
JSON routes and the console: the read-model checks around ``OrderClient``.

Each action is a Temporal Update: the workflow's validator answers at once. A refusal comes
back as ``OrderRefused`` with the workflow's reason and changes nothing (the API answers 409);
malformed requests are 422 as everywhere. ``request_id`` (the request's idempotency key,
``api.http.idempotency.request_key``) becomes the Update id, so a repeat of the same request is
answered by Temporal with the first result, never carried out twice.
"""

from __future__ import annotations

from fastapi import HTTPException
from pydantic import Field
from sqlmodel import Session
from temporalio.client import Client

from activities.orders.pricing import InvalidOrder, instructions_problems, price_lines
from api.http.errors import field_error, invalid
from api.services.order_intake import start_order
from core.db.schema import OrderRecord
from core.domain.commands import (
    ActionResult,
    CancelLinesRequest,
    CancelRequest,
    ModifyRequest,
    PickupConfirmation,
    ReleaseNowRequest,
    ReviewDecision,
)
from core.domain.orders import Address, OrderInput, OrderRequest, OrderStatus
from core.settings import Settings
from workflows.order.client import OrderClient, OrderRefused


class AssistedOrder(OrderRequest):
    """An order a customer-service agent or store clerk places for a customer."""

    agent: str = Field(min_length=1, max_length=64)


def known(s: Session, order_id: str) -> OrderRecord:
    rec = s.get(OrderRecord, order_id)
    if rec is None:
        raise HTTPException(404, detail=f"order {order_id} not found")
    return rec


def _release(s: Session) -> None:
    """Give the session's connection back before waiting on Temporal: an update can take
    seconds, and a handler holding a connection meanwhile starves the pool under load."""
    s.close()


async def cancel(
    s: Session, client: Client, order_id: str, body: CancelRequest, request_id: str | None = None
) -> ActionResult:
    """Idempotent: cancelling a cancelled order answers success again, so a retry after a lost
    answer (timeout, restart) reads as the success it was."""
    known(s, order_id)
    _release(s)
    try:
        return await OrderClient(client, order_id).cancel(body, request_id)
    except OrderRefused:
        rec = s.get(OrderRecord, order_id)
        if rec is not None and rec.status == OrderStatus.CANCELLED:
            return ActionResult(
                message="order already cancelled",
                status=OrderStatus.CANCELLED.value,
                total_cents=rec.total_cents,
            )
        raise


async def cancel_lines(
    s: Session,
    client: Client,
    order_id: str,
    body: CancelLinesRequest,
    request_id: str | None = None,
) -> ActionResult:
    known(s, order_id)
    _release(s)
    return await OrderClient(client, order_id).cancel_lines(body, request_id)


async def modify(
    s: Session, client: Client, order_id: str, body: ModifyRequest, request_id: str | None = None
) -> ActionResult:
    """New lines or a new address are priced first, so a bad one is 422 before the order is
    asked (and delivery instructions for a pickup order)."""
    rec = known(s, order_id)
    if problems := instructions_problems(
        rec.payload.get("pickup_store_id"), body.delivery_instructions
    ):
        raise invalid([field_error(loc, msg, kind) for loc, msg, kind in problems])
    if body.lines is not None or body.delivery_address is not None:
        address = body.delivery_address or Address.model_validate(rec.payload["delivery_address"])
        try:
            ordered = {ln["sku"] for ln in rec.payload.get("lines", [])}
            price_lines(s, body.lines or [], address, already_ordered=ordered)
        except InvalidOrder as exc:
            raise invalid([field_error(loc, msg, kind) for loc, msg, kind in exc.errors]) from exc
    _release(s)
    return await OrderClient(client, order_id).modify(body, request_id)


async def release_now(
    s: Session,
    client: Client,
    order_id: str,
    body: ReleaseNowRequest,
    request_id: str | None = None,
) -> ActionResult:
    known(s, order_id)
    _release(s)
    return await OrderClient(client, order_id).release_now(body, request_id)


async def review(
    s: Session, client: Client, order_id: str, body: ReviewDecision, request_id: str | None = None
) -> ActionResult:
    known(s, order_id)
    _release(s)
    return await OrderClient(client, order_id).decide_review(body, request_id)


async def confirm_pickup(
    s: Session,
    client: Client,
    order_id: str,
    body: PickupConfirmation,
    request_id: str | None = None,
) -> ActionResult:
    known(s, order_id)
    _release(s)
    return await OrderClient(client, order_id).confirm_pickup(body, request_id)


async def place_for_customer(body: AssistedOrder, settings: Settings, client: Client) -> OrderInput:
    """An order taken on the phone or in a store, with the agent recorded as who placed it."""
    if body.channel not in ("phone", "store"):
        raise invalid(
            [
                field_error(
                    ("channel",), "orders placed by an agent come by phone or in a store", "channel"
                )
            ]
        )
    req = OrderRequest.model_validate(body.model_dump(exclude={"agent"}))
    return await start_order(req, settings, client, placed_by=body.agent)
