"""What the customer-service console shows, read from the order read model.

Searching and the order page read only the OMS database (order, shipments, payments, event
log); what the workflow is waiting for comes from its ``state`` query, asked with a short
timeout so a slow or closed workflow never blocks the page.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from activities.returns.requests import returnable
from core.db.schema import (
    OrderEvent,
    OrderRecord,
    PaymentTransaction,
    ReturnRecord,
    ShipmentRecord,
)
from core.domain.orders import OrderInput
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


DETAIL_LABELS = {
    "total_cents": "total",
    "previous_total_cents": "previous total",
    "amount_cents": "amount",
    "voided_cents": "voided",
    "refunded_cents": "refunded",
    "refund_cents": "refund",
    "shipping_refund_cents": "shipping refund",
    "voucher_cents": "voucher",
    "voucher_code": "voucher code",
    "captured_cents": "captured",
    "paid_cents": "paid",
    "received_cents": "received",
    "expected_cents": "expected",
    "goods_cents": "goods",
    "shipping_cents": "shipping",
    "capture_ok": "captured",
    "shipment_id": "shipment",
    "tracking_number": "tracking number",
    "tracking_url": "tracking",
    "invoice_number": "invoice",
    "credit_note": "credit note",
    "credit_notes": "credit notes",
    "decide_by": "decide by",
    "new_estimate": "new estimate",
    "new_promise": "new promise",
    "old_promise": "old promise",
    "promised_delivery": "promised delivery",
    "payment_method": "payment method",
    "previous_method": "previous method",
    "pickup_store": "pickup store",
    "location_id": "location",
    "line_id": "line",
    "return_id": "return",
    "payment_id": "payment",
    "transaction_id": "transaction",
    "order_id": "order",
    "customer_name": "customer",
    "label_url": "label",
    "page_url": "page",
    "lost_in_forwarding": "lost in forwarding",
    "why": "why",
    "for": "replaces",
}
"""What an agent reads for an event-log detail key; unknown keys lose ``_cents`` and
underscores."""


def euro(cents: int) -> str:
    """Cents as the console writes money (the ``euro`` template filter's format)."""
    return f"{cents / 100:,.2f} €".replace(",", " ")


def detail_items(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """An event's detail as (label, text) for people: amounts in euros, flags as yes/no,
    empty values left out. The event log keeps the raw keys for machines."""
    out = []
    for key, value in detail.items():
        if value in ("", None):
            continue
        label = DETAIL_LABELS.get(key) or key.removesuffix("_cents").replace("_", " ")
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif key.endswith("_cents") and isinstance(value, int):
            text = euro(value)
        else:
            text = str(value)
        out.append((label, text))
    return out


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
    returnable: dict[str, int] = field(default_factory=dict)
    """Units per line that a return may take now (the return rules' own count)."""

    def details(self, event: OrderEvent) -> list[tuple[str, str]]:
        return detail_items(event.detail)


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
    order = OrderInput.model_validate(rec.payload)
    left = returnable(s, order, datetime.now(UTC))
    return OrderPage(
        rec,
        lines,
        rec.payload.get("delivery_address", {}),
        shipments,
        payments,
        events,
        returns,
        _unshipped(lines, shipments),
        {line_id: r.left for line_id, r in left.items() if r.left},
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


@dataclass
class WorkflowView:
    """What the order's workflow says now: running or not, its status, what it waits for, and
    per customer-service action why it would refuse it ("" = it would take it; an action not
    named is not offered)."""

    running: bool
    status: str
    waiting: str
    actions: dict[str, str] = field(default_factory=dict)

    def offers(self, action: str) -> bool:
        return self.actions.get(action) == ""


async def workflow_state(client: Client, order_id: str) -> WorkflowView:
    """Asked of Temporal (``state`` and ``actions`` queries), or why it could not be asked:
    then no action is offered, since nobody knows what the order would take."""
    order = OrderClient(client, order_id)
    timeout = timedelta(seconds=QUERY_TIMEOUT_S)
    try:
        desc = await asyncio.wait_for(order.describe(), QUERY_TIMEOUT_S)
        if desc.status != WorkflowExecutionStatus.RUNNING:
            name = desc.status.name.lower() if desc.status else "closed"
            return WorkflowView(False, name, f"nothing: the workflow is closed ({name})")
        state, actions = await asyncio.wait_for(
            asyncio.gather(order.state(timeout=timeout), order.actions(timeout=timeout)),
            QUERY_TIMEOUT_S + 0.5,
        )
        return WorkflowView(
            True, state.status.value, state.waiting_for or "nothing right now", actions
        )
    except (TimeoutError, RPCError) as exc:
        reason = "no answer in time" if isinstance(exc, TimeoutError) else exc.message
        return WorkflowView(False, "", f"unknown ({reason})")
