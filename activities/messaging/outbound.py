"""Outbound events: the outbox of order events for webhook subscribers, and posting them.

``enqueue_deliveries`` runs inside ``record_progress``'s transaction, so an event and its
deliveries are written together or not at all. The dispatch workflow then claims due
deliveries and posts them here, one attempt per activity call, with exponential backoff
between attempts; the receiver dedupes by ``X-OMS-Delivery``.
"""

from __future__ import annotations

import fnmatch
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from core.db.schema import OrderEvent, OutboundDelivery, WebhookSubscription
from core.domain.orders import OrderStatus
from core.settings import Settings

LEASE_MARGIN_S = 30.0
"""A claimed delivery is not claimed again for its HTTP timeout plus this margin."""


class DeliveryOutcome(BaseModel):
    delivery_id: int
    status: str
    """delivered | retrying | failed | skipped (already done, or its subscription is off)"""


def matches(patterns: list[str], event_type: str) -> bool:
    """Whether a subscription's glob patterns (``*``, ``shipped_*``) select an event type."""
    return any(fnmatch.fnmatchcase(event_type, p) for p in patterns)


def event_payload(event: OrderEvent, status: OrderStatus | None) -> dict[str, Any]:
    """The JSON body subscribers receive for one event."""
    return {
        "id": event.id,
        "key": event.key,
        "type": event.type,
        "order_id": event.order_id,
        "at": event.at.isoformat(),
        "detail": event.detail,
        "status": status.value if status is not None else None,
    }


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes posted and signed; deterministic, so every attempt sends the same."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def enqueue_deliveries(s: Session, event: OrderEvent, status: OrderStatus | None) -> int:
    """Add one delivery per active subscription that wants this event, in the caller's
    transaction (the outbox). Returns how many."""
    subs = [
        sub
        for sub in s.exec(
            select(WebhookSubscription).where(col(WebhookSubscription.active).is_(True))
        ).all()
        if matches(sub.event_types, event.type)
    ]
    if not subs:
        return 0
    s.flush()  # the event's id orders deliveries and goes into the body
    payload = event_payload(event, status)
    now = datetime.now(UTC)
    for sub in subs:
        assert sub.id is not None and event.id is not None
        s.add(
            OutboundDelivery(
                subscription_id=sub.id,
                event_id=event.id,
                event_key=event.key,
                event_type=event.type,
                order_id=event.order_id,
                payload=payload,
                next_attempt_at=now,
            )
        )
    return len(subs)


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed ones: base, 2 base, 4 base..."""
    return timedelta(
        seconds=min(
            settings.outbound_retry_max_s,
            settings.outbound_retry_base_s * 2 ** max(attempts - 1, 0),
        )
    )
