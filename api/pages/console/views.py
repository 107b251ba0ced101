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
from api.pages.translations import ENGLISH_WORDS, N_, Words
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
    "total_cents": N_("total"),
    "previous_total_cents": N_("previous total"),
    "amount_cents": N_("amount"),
    "voided_cents": N_("voided"),
    "refunded_cents": N_("refunded"),
    "refund_cents": N_("refund"),
    "shipping_refund_cents": N_("shipping refund"),
    "voucher_cents": N_("voucher"),
    "voucher_code": N_("voucher code"),
    "captured_cents": N_("captured"),
    "paid_cents": N_("paid"),
    "received_cents": N_("received"),
    "expected_cents": N_("expected"),
    "goods_cents": N_("goods"),
    "shipping_cents": N_("shipping"),
    "capture_ok": N_("captured"),
    "shipment_id": N_("shipment"),
    "tracking_number": N_("tracking number"),
    "tracking_url": N_("tracking"),
    "invoice_number": N_("invoice"),
    "credit_note": N_("credit note"),
    "credit_notes": N_("credit notes"),
    "decide_by": N_("decide by"),
    "new_estimate": N_("new estimate"),
    "new_promise": N_("new promise"),
    "old_promise": N_("old promise"),
    "promised_delivery": N_("promised delivery"),
    "payment_method": N_("payment method"),
    "previous_method": N_("previous method"),
    "pickup_store": N_("pickup store"),
    "location_id": N_("location"),
    "line_id": N_("line"),
    "return_id": N_("return"),
    "payment_id": N_("payment"),
    "transaction_id": N_("transaction"),
    "order_id": N_("order"),
    "customer_name": N_("customer"),
    "label_url": N_("label"),
    "page_url": N_("page"),
    "lost_in_forwarding": N_("lost in forwarding"),
    "why": N_("why"),
    "for": N_("replaces"),
    "lines": N_("lines"),
    "reason": N_("reason"),
    "reasons": N_("reasons"),
    "until": N_("until"),
    "deadline": N_("deadline"),
    "held_until": N_("held until"),
    "quantity": N_("quantity"),
    "sku": N_("SKU"),
    "items": N_("items"),
    "shipments": N_("shipments"),
    "replacements": N_("replacements"),
    "locations": N_("locations"),
    "store": N_("store"),
    "destination": N_("destination"),
    "from": N_("from"),
    "to": N_("to"),
    "channel": N_("channel"),
    "carrier": N_("carrier"),
    "reminder": N_("reminder"),
    "promised": N_("promised"),
    "strategy": N_("strategy"),
    "optimal": N_("optimal"),
    "score": N_("score"),
    "outcome": N_("outcome"),
    "approved": N_("approved"),
    "sellable": N_("sellable"),
    "moved": N_("moved"),
    "missing": N_("missing"),
    "conflicts": N_("conflicts"),
    "exception": N_("exception"),
    "reference": N_("reference"),
    "delivery_instructions": N_("delivery instructions"),
    "address": N_("address"),
    "by": N_("by"),
}
"""What an agent reads for an event-log detail key (translated where shown); unknown keys lose
``_cents`` and underscores."""


def detail_items(detail: dict[str, Any], words: Words = ENGLISH_WORDS) -> list[tuple[str, str]]:
    """An event's detail as (label, text) for people, in their language: amounts in euros,
    flags as yes/no, empty values left out. The event log keeps the raw keys for machines."""
    out = []
    for key, value in detail.items():
        if value in ("", None):
            continue
        known = DETAIL_LABELS.get(key)
        label = words.gettext(known) if known else key.removesuffix("_cents").replace("_", " ")
        if isinstance(value, bool):
            text = words.gettext("yes") if value else words.gettext("no")
        elif key.endswith("_cents") and isinstance(value, int):
            text = words.money(value)
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
    delivery_instructions: str = ""
    """The customer's instructions for the delivery as they stand ("" = none); what each
    parcel was released with is on its shipment record."""

    def details(self, event: OrderEvent, words: Words = ENGLISH_WORDS) -> list[tuple[str, str]]:
        return detail_items(event.detail, words)


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
        order.delivery_instructions or "",
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
    hold_until: datetime | None = None
    """The release hold's end, while the order waits for it (changes possible until then)."""

    def offers(self, action: str) -> bool:
        return self.actions.get(action) == ""


async def workflow_state(
    client: Client, order_id: str, words: Words = ENGLISH_WORDS
) -> WorkflowView:
    """Asked of Temporal (``state`` and ``actions`` queries), or why it could not be asked:
    then no action is offered, since nobody knows what the order would take. What the
    workflow says it waits for is in its words; the rest in the agent's."""
    order = OrderClient(client, order_id)
    timeout = timedelta(seconds=QUERY_TIMEOUT_S)
    try:
        desc = await asyncio.wait_for(order.describe(), QUERY_TIMEOUT_S)
        if desc.status != WorkflowExecutionStatus.RUNNING:
            name = desc.status.name.lower() if desc.status else "closed"
            closed = words.gettext(
                "nothing: the workflow is closed (%(status)s)",
                status=words.label(name, "workflow status"),
            )
            return WorkflowView(False, name, closed)
        state, actions = await asyncio.wait_for(
            asyncio.gather(order.state(timeout=timeout), order.actions(timeout=timeout)),
            QUERY_TIMEOUT_S + 0.5,
        )
        waiting = state.waiting_for or words.gettext("nothing right now")
        return WorkflowView(True, state.status.value, waiting, actions, state.hold_until)
    except (TimeoutError, RPCError) as exc:
        if isinstance(exc, TimeoutError):
            reason = words.gettext("no answer in time")
        else:
            reason = exc.message
        return WorkflowView(False, "", words.gettext("unknown (%(reason)s)", reason=reason))
