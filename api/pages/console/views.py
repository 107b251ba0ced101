"""What the customer-service console shows, read from the order read model.

Searching and the order page read only the OMS database (order, shipments, payments, event
log); what the workflow is waiting for comes from its ``state`` query, asked with a short
timeout so a slow or closed workflow never blocks the page.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from core.db.schema import (
    OrderEvent,
    OrderRecord,
    PaymentTransaction,
    ReturnRecord,
    ShipmentRecord,
)
from core.domain.shipments import LEFT_LOCATION
from workflows.order.client import OrderClient

QUERY_TIMEOUT_S = 2.0
SEARCH_LIMIT = 50
POSTCODE = re.compile(r"^\d{5}$")


def search(s: Session, q: str) -> list[OrderRecord]:
    """Orders matching a number (prefix), e-mail, name (part) or postcode; newest first."""
    q = q.strip()
    query = select(OrderRecord)
    if q:
        like = f"%{q.lower()}%"
        conditions: list[ColumnElement[bool]] = [
            func.lower(OrderRecord.order_id).like(f"{q.lower()}%"),
            func.lower(OrderRecord.customer_email).like(like),
            func.lower(OrderRecord.customer_name).like(like),
        ]
        if POSTCODE.match(q):
            conditions.append(col(OrderRecord.postcode) == q)
        query = query.where(or_(*conditions))
    return list(
        s.exec(query.order_by(col(OrderRecord.created_at).desc()).limit(SEARCH_LIMIT)).all()
    )


@dataclass
class OrderPage:
    order: OrderRecord
    lines: list[dict[str, Any]]
    address: dict[str, Any]
    shipments: list[ShipmentRecord]
    payments: list[PaymentTransaction]
    events: list[OrderEvent]
    returns: list[ReturnRecord]
    cancellable: dict[str, int]


def order_page(s: Session, order_id: str) -> OrderPage | None:
    rec = s.get(OrderRecord, order_id)
    if rec is None:
        return None
    shipments = list(
        s.exec(
            select(ShipmentRecord)
            .where(ShipmentRecord.order_id == order_id)
            .order_by(col(ShipmentRecord.shipment_id))
        ).all()
    )
    payments = list(
        s.exec(
            select(PaymentTransaction)
            .where(PaymentTransaction.order_id == order_id)
            .order_by(col(PaymentTransaction.created_at))
        ).all()
    )
    events = list(
        s.exec(
            select(OrderEvent)
            .where(OrderEvent.order_id == order_id)
            .order_by(col(OrderEvent.at), col(OrderEvent.id))
        ).all()
    )
    returns = list(
        s.exec(
            select(ReturnRecord)
            .where(ReturnRecord.order_id == order_id)
            .order_by(col(ReturnRecord.created_at))
        ).all()
    )
    lines = rec.payload.get("lines", [])
    return OrderPage(
        rec,
        lines,
        rec.payload.get("delivery_address", {}),
        shipments,
        payments,
        events,
        returns,
        _unshipped(lines, shipments),
    )


def _unshipped(lines: list[dict[str, Any]], shipments: list[ShipmentRecord]) -> dict[str, int]:
    """Units per line not yet shipped, as the read model sees them (the workflow decides)."""
    left = {ln["line_id"]: int(ln["quantity"]) for ln in lines if "line_id" in ln}
    for sh in shipments:
        if sh.status in LEFT_LOCATION:
            for ln in sh.lines:
                if ln.get("line_id") in left:
                    left[ln["line_id"]] -= int(ln.get("quantity", 0))
    return {k: max(v, 0) for k, v in left.items()}


async def workflow_state(client: Client, order_id: str) -> tuple[bool, str, str]:
    """(running, status, what it waits for) from Temporal, or why it could not be asked."""
    order = OrderClient(client, order_id)
    try:
        desc = await asyncio.wait_for(order.describe(), QUERY_TIMEOUT_S)
        if desc.status != WorkflowExecutionStatus.RUNNING:
            name = desc.status.name.lower() if desc.status else "closed"
            return False, name, f"nothing: the workflow is closed ({name})"
        state = await asyncio.wait_for(
            order.state(timeout=timedelta(seconds=QUERY_TIMEOUT_S)), QUERY_TIMEOUT_S + 0.5
        )
        return True, state.status.value, state.waiting_for or "nothing right now"
    except (TimeoutError, RPCError) as exc:
        reason = "no answer in time" if isinstance(exc, TimeoutError) else exc.message
        return False, "", f"unknown ({reason})"
