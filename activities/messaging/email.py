"""Sends the OMS's e-mails exactly once per key, through any SMTP server."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio import activity

from activities.messaging.templates import render
from core.db.engine import session_scope
from core.db.schema import OutboundEmail
from core.domain.events import EmailRequest
from core.order_tokens import self_service_url
from core.settings import Settings

MARK_SENT_PATIENCE_S = 20.0  # within the activity's 30 s start-to-close timeout


def message_id_for(key: str) -> str:
    """A Message-ID derived from the key, so even a resend is recognisable as the same mail."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@oms>"


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
