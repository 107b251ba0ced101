"""Takes an order in: prices and validates the request, records it, starts its workflow.

Checks that need the catalogue or geography happen here, before anything is created, so a bad
order is answered 422 and leaves no trace. Placing the same order twice is harmless.

The order is recorded (its read-model row, with the whole priced payload) before its workflow
starts: once recorded it is never lost. When the start fails because Temporal is away, the
caller gets 503 + Retry-After and the row stays; the row is not removed, since the start may
have gone through with only its answer lost, or a concurrent retry may have started it. The
caller's retry starts it, and otherwise the order sweep does after its grace time
(``workflows/ops/order_sweep.py``, ``OMS_ORDER_SWEEP_GRACE_S``).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.orders.log import order_record_for, request_hash
from activities.orders.pricing import (
    InvalidOrder,
    channel_priced,
    instructions_problems,
    price_lines,
)
from activities.stock.availability import shortfalls
from api.http.errors import field_error, invalid
from core.db.engine import session_scope
from core.db.schema import Location, OrderRecord
from core.domain.orders import OrderInput, OrderLine, OrderRequest
from core.policy import OrderPolicy, load_policy
from core.settings import Settings
from workflows.order.client import OrderClient


def _pickup_problems(s: Session, req: OrderRequest) -> list[dict[str, object]]:
    if req.pickup_store_id is None:
        if req.payment_method == "cash_on_pickup":
            return [
                field_error(
                    ("payment_method",),
                    "cash on pickup needs a pickup store (pickup_store_id)",
                    "needs_pickup_store",
                )
            ]
        return []
    store = s.get(Location, req.pickup_store_id)
    if store is None or store.kind != "store" or not store.pickup_point:
        return [
            field_error(
                ("pickup_store_id",),
                f"{req.pickup_store_id!r} is not a pickup store",
                "unknown_pickup_store",
            )
        ]
    if not store.online:
        return [
            field_error(
                ("pickup_store_id",),
                f"{store.name} takes no orders at the moment",
                "pickup_store_offline",
            )
        ]
    return []


def price_order(
    s: Session,
    req: OrderRequest,
    policy: OrderPolicy,
    now: datetime | None = None,
    placed_by: str | None = None,
) -> OrderInput:
    errors = _pickup_problems(s, req)
    errors += [
        field_error(loc, msg, kind)
        for loc, msg, kind in instructions_problems(req.pickup_store_id, req.delivery_instructions)
    ]
    lines: list[OrderLine] = []
    try:
        lines = price_lines(s, req.lines, req.delivery_address)
        if req.channel_priced:
            lines = channel_priced(lines, req.lines, req.discounts, policy.pricing)
    except InvalidOrder as exc:
        errors += [field_error(loc, msg, kind) for loc, msg, kind in exc.errors]
    if errors:
        raise invalid(errors)
    fee = (
        req.shipping_cents
        if req.shipping_cents is not None
        else policy.pickup.fee_cents
        if req.pickup_store_id
        else policy.shipping_fee_cents[req.shipping_speed]
    )
    store = s.get(Location, req.pickup_store_id) if req.pickup_store_id else None
    return OrderInput(
        order_id=req.order_id,
        channel=req.channel,
        customer=req.customer,
        delivery_address=req.delivery_address,
        billing_address=req.billing_address,
        pickup_store_id=req.pickup_store_id,
        pickup_store_label=f"{store.name}, {store.postcode} {store.city}" if store else "",
        lines=lines,
        shipping_speed=req.shipping_speed,
        payment_method=req.payment_method,
        shipping_cents=fee,
        placed_at=now or datetime.now(UTC),
        policy=policy,
        placed_by=placed_by,
        discounts=req.discounts,
        delivery_instructions=req.delivery_instructions,
    )


def refuse_uncovered(s: Session, req: OrderRequest, settings: Settings) -> None:
    """409 naming each line the network's available stock cannot cover now, with what is
    available, before anything is recorded (policy ``fulfilment.uncovered = "refuse"``)."""
    wanted: dict[str, int] = {}
    for ln in req.lines:
        wanted[ln.sku] = wanted.get(ln.sku, 0) + ln.quantity
    short = shortfalls(s, wanted, req.channel, settings, req.order_id)
    if not short:
        return
    raise HTTPException(
        409,
        detail=[
            {
                "loc": ["body", "lines", i, "quantity"],
                "msg": f"{ln.sku}: {wanted[ln.sku]} wanted, {short[ln.sku]} available",
                "type": "uncovered",
                "available": short[ln.sku],
            }
            for i, ln in enumerate(req.lines)
            if ln.sku in short
        ],
    )


def _accept(
    settings: Settings, req: OrderRequest, placed_by: str | None, now: datetime | None = None
) -> OrderInput:
    """Price and record the order; the same order id with another body is a conflict."""
    digest = request_hash(req)
    policy = load_policy(settings.policy_file)
    with session_scope(settings.database_url) as s:
        order = price_order(s, req, policy, now=now, placed_by=placed_by)
        if policy.fulfilment.uncovered == "refuse" and s.get(OrderRecord, req.order_id) is None:
            refuse_uncovered(s, req, settings)
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


async def start_order(
    req: OrderRequest,
    settings: Settings,
    client: Client,
    placed_by: str | None = None,
    now: datetime | None = None,
) -> OrderInput:
    """Record the order and start its workflow; safe to repeat with the same request."""
    order = await run_in_threadpool(_accept, settings, req, placed_by, now)
    # a repeat while it runs joins it; after it ended, the id is taken for good
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await OrderClient.start(client, order, settings.task_queue)
    return order
