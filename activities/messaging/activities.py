"""The messaging context's Temporal face: sending e-mails and partner webhooks."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiosmtplib
import httpx
from sqlalchemy import and_, exists, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.messaging.email import (
    EMAIL_LEASE_S,
    LEASE_WAIT_S,
    MARK_SENT_PATIENCE_S,
    NOT_SENT,
    SEND_BUDGET_S,
    Claim,
    Outgoing,
    address_of,
    mark_sent,
    needs_smtputf8,
    prepare,
    release_lease,
    take_lease,
)
from activities.messaging.outbound import LEASE_MARGIN_S, DeliveryOutcome, backoff, body_bytes
from activities.messaging.templates import Attachment, RenderedEmail, render
from core.db.engine import session_scope
from core.db.schema import Invoice, Location, OutboundDelivery, WebhookSubscription
from core.domain.events import EmailRequest
from core.order_tokens import self_service_url
from core.settings import Settings
from core.signing import sign


class EmailActivities:
    """Sends each e-mail once: rendered once into the outbox, sent only under the row's lease
    (see :mod:`activities.messaging.email`). ``lease_s`` is ``EMAIL_LEASE_S`` except in tests
    that let a lease run out."""

    def __init__(self, settings: Settings, lease_s: float = EMAIL_LEASE_S) -> None:
        self.settings = settings
        self.lease = timedelta(seconds=lease_s)
        self.send_budget_s = min(SEND_BUDGET_S, lease_s / 3)

    @activity.defn
    async def send_email(self, req: EmailRequest) -> str:
        """Send the e-mail of ``req.key`` unless the outbox says it was sent: the bytes stored
        by the first attempt, and only by the attempt holding the lease."""
        url = self.settings.database_url
        outgoing, claim = await asyncio.to_thread(
            prepare, url, req, self.settings.mail_from, lambda: self._render(req), self.lease
        )
        if outgoing.sent:
            return "already-sent"
        if claim is None:  # not the attempt that created the row: take the lease first
            claim = await self._claim(req.key)
            if claim is None:
                return "already-sent"
        await self._send(outgoing, claim)
        await self._mark_sent_persistently(req.key)
        return "sent"

    def _render(self, req: EmailRequest) -> RenderedEmail:
        """Every link to the order is the signed self-service link: ``GET /orders/{id}`` needs
        an API key, so a customer would get 401. ``status_url`` stays only as another name
        for it, for a retailer's own templates that still use it."""
        link = self_service_url(self.settings, req.order_id)
        context = {**req.context, "self_service_url": link, "status_url": link}
        if "location_id" in req.context:  # a workflow knows a location's id, not its name
            context["location"], context["location_kind"] = self._location(
                str(req.context["location_id"])
            )
        rendered = render(
            req.template, req.locale, context, self.settings.email_template_dir or None
        )
        if not req.invoices:
            return rendered
        return replace(rendered, attachments=invoice_attachments(self.settings, req.invoices))

    def _location(self, location_id: str) -> tuple[str, str]:
        """(``Lager München``, ``warehouse``) for ``WH-MUENCHEN``: the customer reads the name
        and what kind of place it is, not our code."""
        with session_scope(self.settings.database_url) as s:
            location = s.get(Location, location_id)
            if location is None:
                return location_id, ""
            return location.name, location.kind

    async def _claim(self, key: str) -> Claim | None:
        """This attempt's lease, or None when the e-mail is sent. An attempt holding the lease
        is sending: wait a little for it, then fail retryably rather than send too."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LEASE_WAIT_S
        while True:
            claim = await asyncio.to_thread(take_lease, self.settings.database_url, key, self.lease)
            if claim.sent:
                return None
            if claim.attempt is not None:
                return claim
            if loop.time() + 0.5 > deadline:
                raise ApplicationError(
                    f"e-mail {key} is being sent by another attempt "
                    f"(its lease runs until {claim.lease_until})",
                    type="EmailBeingSent",
                )
            await asyncio.sleep(0.5)

    async def _send(self, outgoing: Outgoing, claim: Claim) -> None:
        """Hand the stored bytes to the SMTP server within the send budget, which ends well
        before the lease does. When nothing can have gone out, the lease is given back."""
        assert claim.attempt is not None and claim.lease_until is not None
        sender = address_of(self.settings.mail_from)
        recipient = address_of(outgoing.recipient)
        left = (claim.lease_until - datetime.now(UTC)).total_seconds()
        if left < self.send_budget_s:  # the attempt stalled after taking the lease
            await self._release(outgoing.key, claim.attempt)
            raise ApplicationError(
                f"e-mail {outgoing.key}: lease ran short before sending; not sent",
                type="EmailLeaseShort",
            )
        try:
            async with asyncio.timeout(self.send_budget_s):
                await aiosmtplib.send(
                    outgoing.message,
                    sender=sender,
                    recipients=[recipient],
                    hostname=self.settings.smtp_host,
                    port=self.settings.smtp_port,
                    timeout=10,
                    mail_options=["SMTPUTF8"] if needs_smtputf8(sender, recipient) else None,
                )
        except NOT_SENT:
            await self._release(outgoing.key, claim.attempt)
            raise

    async def _release(self, key: str, attempt: int) -> None:
        """Best effort: if the database is away too, the lease simply runs out."""
        try:
            await asyncio.to_thread(release_lease, self.settings.database_url, key, attempt)
        except SQLAlchemyError:
            activity.logger.warning("e-mail %s not sent; its lease runs out by itself", key)

    async def _mark_sent_persistently(self, key: str) -> None:
        """The mail is out: failing now would make the retry send it again. So a database
        that is briefly away (a restart, a full pool) is waited for, within the activity's
        time, instead of failing the attempt."""
        wait, deadline = 0.2, asyncio.get_running_loop().time() + MARK_SENT_PATIENCE_S
        while True:
            try:
                await asyncio.to_thread(mark_sent, self.settings.database_url, key)
                return
            except (OperationalError, PoolTimeout):
                if asyncio.get_running_loop().time() + wait > deadline:
                    raise
                activity.logger.warning("e-mail %s sent; recording it waits for the database", key)
                await asyncio.sleep(wait)
                wait = min(wait * 2, 3.0)


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


def invoice_attachments(settings: Settings, numbers: list[str]) -> tuple[Attachment, ...]:
    """The stored PDFs of the invoices an e-mail carries. One not stored yet fails the attempt
    (retried): an invoice promised in the text is never left out."""
    with session_scope(settings.database_url) as s:
        rows = {
            row.number: row.pdf
            for row in s.exec(select(Invoice).where(col(Invoice.number).in_(numbers))).all()
        }
    missing = [n for n in numbers if not rows.get(n)]
    if missing:
        raise ApplicationError(f"invoice PDF not stored yet: {', '.join(missing)}")
    return tuple(Attachment(f"{n}.pdf", rows[n] or b"") for n in numbers)
