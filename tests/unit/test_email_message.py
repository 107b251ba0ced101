"""The e-mail as stored in the outbox and handed to SMTP: every header the OMS relies on, bytes
any server takes unchanged (CRLF, 7-bit bodies), and a lease that outlasts an attempt."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

from activities.messaging.email import (
    EMAIL_LEASE_S,
    MARK_SENT_PATIENCE_S,
    SEND_BUDGET_S,
    build_message,
    message_id_for,
)
from activities.messaging.templates import RenderedEmail
from workflows.order.options import EMAIL as ORDER_EMAIL
from workflows.returns.workflow import EMAIL as RETURN_EMAIL

RENDERED = RenderedEmail(
    subject="Ihre Bestellung A-1 wurde storniert – schade",
    text="Hallo Jürgen,\n\nleider ist Ihr Artikel nicht mehr verfügbar.\n" + "ä" * 120 + "\n",
    html="<p>Hallo Jürgen,</p>\n<p>Grüße</p>\n",
)


def _build(to: str = "erika@example.org") -> bytes:
    return build_message(
        sender="OMS Shop <orders@oms.example>",
        to=to,
        key="A-1:cancelled",
        order_id="A-1",
        rendered=RENDERED,
        date=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
    )


def test_the_stored_message_carries_key_order_and_a_message_id_derived_from_the_key() -> None:
    msg = email.message_from_bytes(_build(), policy=email.policy.default)
    assert msg["Message-ID"] == message_id_for("A-1:cancelled")
    assert msg["X-OMS-Key"] == "A-1:cancelled" and msg["X-OMS-Order"] == "A-1"
    assert msg["From"] == "OMS Shop <orders@oms.example>" and msg["To"] == "erika@example.org"
    assert msg["Subject"] == RENDERED.subject
    assert msg["Date"] == "Tue, 24 Nov 2026 09:30:00 +0000"
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    # text parts travel with CRLF line ends (RFC 2046), as a mail client reads them
    assert plain.get_content().replace("\r\n", "\n") == RENDERED.text
    assert html.get_content().replace("\r\n", "\n") == RENDERED.html


def test_the_bytes_are_what_goes_on_the_wire() -> None:
    """CRLF line ends and 7-bit bodies: the SMTP client sends them as they are (no 8BITMIME
    needed), so what the receiver gets is what the outbox holds."""
    raw = _build()
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.endswith(b"\r\n")


def test_a_non_ascii_address_keeps_its_utf8_headers() -> None:
    raw = _build(to="jürgen@exämple.org")
    assert "To: jürgen@exämple.org\r\n".encode() in raw
    assert email.message_from_bytes(raw, policy=email.policy.default)["To"] == "jürgen@exämple.org"


def test_the_lease_outlasts_every_attempt_of_the_send_activity() -> None:
    """A timed-out attempt still sending must keep the lease while the retry waits: longer
    than the activity's start-to-close timeout (order and returns workflows) and than an
    attempt's send budget plus its patience in recording "sent"."""
    for options in (ORDER_EMAIL, RETURN_EMAIL):
        assert options["start_to_close_timeout"].total_seconds() < EMAIL_LEASE_S
    assert EMAIL_LEASE_S > SEND_BUDGET_S + MARK_SENT_PATIENCE_S
    assert SEND_BUDGET_S <= EMAIL_LEASE_S / 3
