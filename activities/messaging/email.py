"""Sends the OMS's e-mails exactly once per key, through any SMTP server.

The outbox row (``outbound_email``, one per key) is the one record of an e-mail, and sending
is exactly-once by design rather than by luck of timing:

1. **Rendered once.** The first attempt renders the message and stores its MIME bytes in the
   same transaction that creates the row (:func:`prepare`). Every later attempt - a retry, a
   second worker - sends those bytes, so a message handed over again is byte-identical: same
   Message-ID, same MIME boundary, same everything.
2. **Claimed before sending.** An attempt sends only while it holds the row's lease: the
   attempt that created the row holds it from then; any other takes it with one conditional
   UPDATE (:func:`take_lease`: still pending and no lease, or the lease ran out).
   An attempt that finds the lease taken waits a little for the holder (``LEASE_WAIT_S``) and
   then fails retryably without sending; once the row is sent, every attempt answers
   "already-sent".
3. **The lease outlasts the attempt.** ``EMAIL_LEASE_S`` (60 s) is longer than the activity's
   start-to-close timeout (30 s, ``workflows/order/options.py`` EMAIL and the returns
   workflow's EMAIL) and than an attempt's send budget plus its patience in recording "sent".
   So an attempt Temporal has timed out but that is still sending on a busy worker keeps the
   lease while the retry waits. Only when a sender died between the SMTP server's "accepted"
   and recording it does the lease run out and the next attempt send again - the same bytes,
   a redelivery that mail clients and the load audit recognise as one message. (SMTP has no
   way to close that window; a resend that differs is what must never happen.)
4. An attempt that knows nothing went out (the server refused, or could not be reached) gives
   its lease back, so the retry does not wait for it to run out.

Leases compare the workers' clocks (kept by NTP); a skew of seconds is well inside the margin.
"""

from __future__ import annotations

import email.policy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib
from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from activities.messaging.templates import RenderedEmail
from core.db.engine import session_scope
from core.db.schema import OutboundEmail
from core.domain.events import EmailRequest

MARK_SENT_PATIENCE_S = 20.0  # within the activity's 30 s start-to-close timeout
EMAIL_LEASE_S = 60.0
"""How long an attempt that took the lease may be sending: longer than the activity's 30 s
start-to-close timeout and than ``SEND_BUDGET_S + MARK_SENT_PATIENCE_S``, so no other attempt
sends while one that timed out is still at it."""
SEND_BUDGET_S = 20.0
"""The SMTP conversation of one attempt is abandoned after this long (at most a third of the
lease), so it ends well before the lease does."""
LEASE_WAIT_S = 5.0
"""How long an attempt that finds the lease taken waits for the holder to finish."""
NOT_SENT = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPResponseException,
    aiosmtplib.SMTPRecipientsRefused,
    aiosmtplib.SMTPNotSupported,
)
"""SMTP failures after which the server certainly did not take the message: it could not be
reached, or it refused. (A timeout or a dropped connection mid-DATA may have delivered it.)"""


def message_id_for(key: str) -> str:
    """A Message-ID derived from the key, so even a resend is recognisable as the same mail."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@oms>"


def address_of(mailbox: str) -> str:
    """The bare address of ``Name <addr>`` (what the SMTP envelope carries)."""
    return parseaddr(mailbox)[1] or mailbox


def needs_smtputf8(sender: str, recipient: str) -> bool:
    return not (sender + recipient).isascii()


def build_message(
    *,
    sender: str,
    to: str,
    key: str,
    order_id: str,
    rendered: RenderedEmail,
    date: datetime,
) -> bytes:
    """The MIME message as it goes on the wire: CRLF line ends, 7-bit clean bodies (quoted-
    printable or base64 where the text needs it), so any SMTP server takes the same bytes."""
    msg = EmailMessage(policy=email.policy.default.clone(cte_type="7bit"))
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(date.astimezone(UTC))
    msg["Message-ID"] = message_id_for(key)
    msg["X-OMS-Key"] = key
    msg["X-OMS-Order"] = order_id
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    for file in rendered.attachments:  # the message becomes multipart/mixed
        maintype, _, subtype = file.mime.partition("/")
        msg.add_attachment(file.content, maintype=maintype, subtype=subtype, filename=file.filename)
    wire = email.policy.SMTPUTF8 if needs_smtputf8(sender, to) else email.policy.SMTP
    return msg.as_bytes(policy=wire)


@dataclass(frozen=True)
class Outgoing:
    """An outbox row as an attempt needs it."""

    key: str
    recipient: str
    message: bytes
    sent: bool


@dataclass(frozen=True)
class Claim:
    """What :func:`take_lease` found: this attempt's number if it holds the lease now."""

    attempt: int | None
    sent: bool
    lease_until: datetime | None


def _outgoing(row: OutboundEmail) -> Outgoing:
    return Outgoing(
        key=row.key,
        recipient=row.recipient,
        message=row.message or b"",
        sent=row.status == "sent",
    )


def prepare(
    url: str,
    req: EmailRequest,
    sender: str,
    render: Callable[[], RenderedEmail],
    lease: timedelta,
) -> tuple[Outgoing, Claim | None]:
    """The outbox row of ``req``, created with the rendered message on the first attempt -
    which holds the lease from that moment (its claim is returned; other attempts get None
    and take the lease with :func:`take_lease`).

    Later attempts read the stored bytes and render nothing. Two first attempts at once both
    render, one row wins (the primary key), and both go on with the winner's bytes. A row
    recorded before messages were stored (schema 0007) gets its message now, once."""
    with session_scope(url) as s:
        row = s.get(OutboundEmail, req.key)
        if row is not None and (row.message is not None or row.status == "sent"):
            return _outgoing(row), None
        exists = row is not None
    rendered = render()
    message = build_message(
        sender=sender,
        to=req.to,
        key=req.key,
        order_id=req.order_id,
        rendered=rendered,
        date=datetime.now(UTC),
    )
    try:
        with session_scope(url) as s:
            if not exists:
                until = datetime.now(UTC) + lease
                s.add(
                    OutboundEmail(
                        key=req.key,
                        order_id=req.order_id,
                        recipient=req.to,
                        template=req.template,
                        subject=rendered.subject,
                        message_id=message_id_for(req.key),
                        message=message,
                        lease_until=until,
                        attempts=1,
                    )
                )
                outgoing = Outgoing(key=req.key, recipient=req.to, message=message, sent=False)
                return outgoing, Claim(attempt=1, sent=False, lease_until=until)
            t = OutboundEmail
            s.exec(
                update(t)
                .where(col(t.key) == req.key, col(t.message).is_(None))
                .values(message=message, subject=rendered.subject)
            )
    except IntegrityError:
        pass  # a concurrent first attempt created the row: its bytes are the message
    with session_scope(url) as s:
        row = s.get(OutboundEmail, req.key)
        assert row is not None
        return _outgoing(row), None


def take_lease(url: str, key: str, lease: timedelta) -> Claim:
    """Take the row's lease if it is pending and nobody holds it (or the holder's ran out):
    one conditional UPDATE, so of any number of attempts at most one gets it."""
    now = datetime.now(UTC)
    until = now + lease
    t = OutboundEmail
    with session_scope(url) as s:
        taken = s.exec(
            update(t)
            .where(
                col(t.key) == key,
                col(t.status) == "pending",
                or_(col(t.lease_until).is_(None), col(t.lease_until) < now),
            )
            .values(lease_until=until, attempts=col(t.attempts) + 1)
        )
        row = s.get(t, key)
        assert row is not None
        if taken.rowcount == 1:
            return Claim(attempt=row.attempts, sent=False, lease_until=until)
        return Claim(attempt=None, sent=row.status == "sent", lease_until=row.lease_until)


def release_lease(url: str, key: str, attempt: int) -> None:
    """Give back the lease attempt ``attempt`` holds (it knows nothing was sent)."""
    t = OutboundEmail
    with session_scope(url) as s:
        s.exec(
            update(t)
            .where(col(t.key) == key, col(t.status) == "pending", col(t.attempts) == attempt)
            .values(lease_until=None)
        )


def mark_sent(url: str, key: str) -> None:
    with session_scope(url) as s:
        row = s.get(OutboundEmail, key)
        if row is not None:
            row.status = "sent"
            row.sent_at = datetime.now(UTC)
