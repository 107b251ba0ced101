"""What the MCP server writes itself: entries in an order's event log (with the outbox of
subscribed webhooks, as every entry) and the customer-service task of a hand-over to a person.

Changes to an order go through its workflow (``api.services``), which logs them under the
agent's name; only what the workflow does not see is written here: the hand-over and the
verification behind a return.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlmodel import select

from activities.fulfilment.ops_cases import open_case
from activities.messaging.outbound import enqueue_deliveries
from core.db.engine import session_scope
from core.db.schema import OrderEvent
from core.domain.events import step_key

HANDOVER = "customer_handover"
"""Kind of the ops case a hand-over opens (``GET /ops/cases`` lists it for customer service)."""


def note_on_order(
    url: str, order_id: str, step: str, detail: dict[str, str | int | None], actor: str
) -> None:
    """One entry in the order's event log, once per ``step``."""
    key = step_key(order_id, step)
    with session_scope(url) as s:
        if s.exec(select(OrderEvent.id).where(OrderEvent.key == key)).first() is not None:
            return
        event = OrderEvent(
            key=key, order_id=order_id, type=step, detail=detail, actor=actor, at=datetime.now(UTC)
        )
        s.add(event)
        enqueue_deliveries(s, event, None)


def hand_over(
    url: str,
    *,
    actor: str,
    verification: str,
    summary: str,
    callback: str,
    order_id: str | None,
    customer_id: str | None,
) -> int:
    """Open a task for customer service with the conversation's summary; with an order, the
    order's event log says so too. Returns the task's (ops case's) id."""
    detail: dict[str, str | int | None] = {
        "summary": summary,
        "callback": callback,
        "agent": actor,
        "verification": verification,
        "customer_id": customer_id,
    }
    case_id = open_case(
        url, f"{HANDOVER}:{uuid.uuid4().hex}", HANDOVER, order_id or "", None, detail
    )
    if order_id:
        note_on_order(
            url,
            order_id,
            f"handed_to_human_{case_id}",
            {
                "summary": summary,
                "callback": callback,
                "case_id": case_id,
                "verification": verification,
            },
            actor,
        )
    return case_id
