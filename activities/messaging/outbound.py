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

import httpx
from pydantic import BaseModel
from sqlalchemy import and_, exists, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from temporalio import activity

from core.db.engine import session_scope
from core.db.schema import OrderEvent, OutboundDelivery, WebhookSubscription
from core.domain.orders import OrderStatus
from core.settings import Settings
from core.signing import sign

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


class OutboundActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.database_url

    @activity.defn
    def claim_deliveries(self, limit: int) -> list[int]:
        """Claim due deliveries, at most one per subscriber and order (the oldest pending one),
        so a subscriber gets an order's events in event order even across retries. A claim is
        a lease: ``next_attempt_at`` moves past the attempt's timeout, so a concurrent
        dispatcher does not post it too, and a crashed one's claim runs out by itself."""
        now = datetime.now(UTC)
        lease = now + timedelta(seconds=self.settings.outbound_timeout_s + LEASE_MARGIN_S)
        earlier = aliased(OutboundDelivery)
        d = OutboundDelivery
        blocked = exists().where(
            and_(
                earlier.subscription_id == d.subscription_id,
                earlier.order_id == d.order_id,
                earlier.status == "pending",
                earlier.event_id < d.event_id,
            )
        )
        with session_scope(self.url) as s:
            due = s.exec(
                select(d.id)
                .join(WebhookSubscription, col(WebhookSubscription.id) == col(d.subscription_id))
                .where(
                    d.status == "pending",
                    col(d.next_attempt_at) <= now,
                    col(WebhookSubscription.active).is_(True),
                    ~blocked,
                )
                .order_by(col(d.event_id), col(d.id))
                .limit(limit)
            ).all()
            claimed: list[int] = []
            for delivery_id in due:
                taken = s.exec(  # type: ignore[call-overload]
                    update(d)
                    .where(
                        col(d.id) == delivery_id,
                        col(d.status) == "pending",
                        col(d.next_attempt_at) <= now,
                    )
                    .values(next_attempt_at=lease)
                )
                if taken.rowcount == 1:
                    assert delivery_id is not None
                    claimed.append(delivery_id)
            return claimed

    @activity.defn
    def deliver(self, delivery_id: int) -> DeliveryOutcome:
        """One attempt: post the frozen body, signed with the subscriber's secret; 2xx is
        delivered, anything else (or no answer) is retried later or, after the last attempt,
        marked failed. HTTP failures are outcomes, not activity errors: Temporal retries only
        what went wrong on our side (the database)."""
        with session_scope(self.url) as s:
            delivery = s.get(OutboundDelivery, delivery_id)
            sub = s.get(WebhookSubscription, delivery.subscription_id) if delivery else None
            if delivery is None or sub is None or delivery.status != "pending" or not sub.active:
                return DeliveryOutcome(delivery_id=delivery_id, status="skipped")
            url, secret = sub.url, sub.secret
            body = body_bytes(delivery.payload)
            event_type = delivery.event_type
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "OMS-Webhooks/1",
            "X-OMS-Event": event_type,
            "X-OMS-Delivery": str(delivery_id),
            "X-OMS-Signature": sign(secret, body),
        }
        code: int | None = None
        try:
            r = httpx.post(
                url, content=body, headers=headers, timeout=self.settings.outbound_timeout_s
            )
            code = r.status_code
            error = "" if r.is_success else f"HTTP {code}: {r.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{exc.__class__.__name__}: {exc}"[:500]
        return self._record(delivery_id, code, error)

    def _record(self, delivery_id: int, code: int | None, error: str) -> DeliveryOutcome:
        now = datetime.now(UTC)
        with session_scope(self.url) as s:
            delivery = s.get(OutboundDelivery, delivery_id)
            if delivery is None or delivery.status != "pending":
                return DeliveryOutcome(delivery_id=delivery_id, status="skipped")
            delivery.attempts += 1
            delivery.last_status_code = code
            delivery.last_error = error
            if not error:
                delivery.status, delivery.delivered_at = "delivered", now
            elif delivery.attempts >= self.settings.outbound_max_attempts:
                delivery.status = "failed"
            else:
                delivery.next_attempt_at = now + backoff(self.settings, delivery.attempts)
            s.add(delivery)
            status = delivery.status if delivery.status != "pending" else "retrying"
            return DeliveryOutcome(delivery_id=delivery_id, status=status)
