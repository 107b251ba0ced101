"""The messaging context's Temporal face: sending e-mails and partner webhooks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
import httpx
from sqlalchemy import and_, exists, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from temporalio import activity

from activities.messaging.email import MARK_SENT_PATIENCE_S, message_id_for
from activities.messaging.outbound import LEASE_MARGIN_S, DeliveryOutcome, backoff, body_bytes
from activities.messaging.templates import render
from core.db.engine import session_scope
from core.db.schema import OutboundDelivery, OutboundEmail, WebhookSubscription
from core.domain.events import EmailRequest
from core.order_tokens import self_service_url
from core.settings import Settings
from core.signing import sign


class EmailActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn
    async def send_email(self, req: EmailRequest) -> str:
        """Render and send one e-mail unless the outbox says this key was already sent."""
        context = {
            "status_url": f"{self.settings.base_url}/orders/{req.order_id}",
            "self_service_url": self_service_url(self.settings, req.order_id),
            **req.context,
        }
        rendered = render(
            req.template, req.locale, context, self.settings.email_template_dir or None
        )
        already_sent = await asyncio.to_thread(self._claim, req, rendered.subject)
        if already_sent:
            return "already-sent"
        msg = EmailMessage()
        msg["From"] = self.settings.mail_from
        msg["To"] = req.to
        msg["Subject"] = rendered.subject
        msg["Message-ID"] = message_id_for(req.key)
        msg["X-OMS-Key"] = req.key
        msg["X-OMS-Order"] = req.order_id
        msg.set_content(rendered.text)
        msg.add_alternative(rendered.html, subtype="html")
        await aiosmtplib.send(
            msg, hostname=self.settings.smtp_host, port=self.settings.smtp_port, timeout=10
        )
        await self._mark_sent_persistently(req.key)
        return "sent"

    async def _mark_sent_persistently(self, key: str) -> None:
        """The mail is out: failing now would make the retry send it again. So a database
        that is briefly away (a restart, a full pool) is waited for, within the activity's
        time, instead of failing the attempt."""
        wait, deadline = 0.2, asyncio.get_running_loop().time() + MARK_SENT_PATIENCE_S
        while True:
            try:
                await asyncio.to_thread(self._mark_sent, key)
                return
            except (OperationalError, PoolTimeout):
                if asyncio.get_running_loop().time() + wait > deadline:
                    raise
                activity.logger.warning("e-mail %s sent; recording it waits for the database", key)
                await asyncio.sleep(wait)
                wait = min(wait * 2, 3.0)

    def _claim(self, req: EmailRequest, subject: str) -> bool:
        with session_scope(self.settings.database_url) as s:
            row = s.get(OutboundEmail, req.key)
            if row is None:
                s.add(
                    OutboundEmail(
                        key=req.key,
                        order_id=req.order_id,
                        recipient=req.to,
                        template=req.template,
                        subject=subject,
                        message_id=message_id_for(req.key),
                    )
                )
                return False
            return row.status == "sent"

    def _mark_sent(self, key: str) -> None:
        with session_scope(self.settings.database_url) as s:
            row = s.get(OutboundEmail, key)
            if row is not None:
                row.status = "sent"
                row.sent_at = datetime.now(UTC)


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
                col(earlier.subscription_id) == col(d.subscription_id),
                col(earlier.order_id) == col(d.order_id),
                col(earlier.status) == "pending",
                col(earlier.event_id) < col(d.event_id),
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
                taken = s.exec(
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
