"""The load bench's audit finds what it is there to find: a second or missing e-mail, money
kept that differs from what was expected, an order recorded twice or in the wrong state.
(The bench's clean result means something only if the audit can fail.)"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from activities.messaging.email import build_message, message_id_for
from activities.messaging.templates import RenderedEmail
from bench import load_audit
from bench.load_day import Outcome
from core.db.engine import session_scope
from core.db.schema import OrderRecord, OutboundEmail, PaymentTransaction


def _prefix() -> str:
    return f"AU-{uuid.uuid4().hex[:6]}-"


def _mail(directory: Path, name: str, order_id: str, key: str, subject: str = "x") -> None:
    msg = EmailMessage()
    msg["To"], msg["Subject"] = "k@example.org", subject
    msg["Message-ID"] = message_id_for(key)
    msg["X-OMS-Order"], msg["X-OMS-Key"] = order_id, key
    msg.set_content("x")
    (directory / f"{name}.eml").write_bytes(bytes(msg))


def test_emails_doubled_missing_or_undecided_are_each_found(
    database_url: str, tmp_path: Path
) -> None:
    p = _prefix()
    with session_scope(database_url) as s:
        for n, status in enumerate(["sent", "sent", "sent", "pending"]):
            s.add(
                OutboundEmail(
                    key=f"{p}1:mail{n}",
                    order_id=f"{p}1",
                    recipient="k@x.org",
                    template="order_confirmation",
                    subject="x",
                    message_id="m",
                    status=status,
                )
            )
    _mail(tmp_path, "a", f"{p}1", f"{p}1:mail0")
    # mail1-3 never received, mail3 still pending
    assert load_audit.emails(database_url, p, tmp_path)["problems"] == 4
    _mail(tmp_path, "b", f"{p}1", f"{p}1:mail1")
    _mail(tmp_path, "c", f"{p}1", f"{p}1:mail2")
    _mail(tmp_path, "d", f"{p}1", f"{p}1:mail3")
    found = load_audit.emails(database_url, p, tmp_path)
    assert found["problems"] == 1 and "still pending" in found["examples"][0]
    with session_scope(database_url) as s:
        s.get(OutboundEmail, f"{p}1:mail3").status = "sent"  # type: ignore[union-attr]
    assert load_audit.emails(database_url, p, tmp_path)["problems"] == 0
    _mail(tmp_path, "e", f"{p}1", f"{p}1:mail0")  # the same message handed over again
    found = load_audit.emails(database_url, p, tmp_path)
    assert found["problems"] == 0 and found["redelivered_copies"] == 1
    assert found["redelivered"] == [f"{p}1:mail0"]
    _mail(tmp_path, "f", f"{p}1", f"{p}1:mail1", subject="other")  # a second, different one
    _mail(tmp_path, "g", f"{p}1", f"{p}1:never-decided")
    found = load_audit.emails(database_url, p, tmp_path)
    assert found["problems"] == 2
    assert any("2 different messages" in e for e in found["examples"])
    assert any("without an outbox entry" in e for e in found["examples"])


def _rendering(order_id: str, key: str) -> bytes:
    """The message as the OMS renders it; rendering again gives other bytes (the MIME
    boundary), which is what a resend must never be."""
    return build_message(
        sender="OMS Shop <orders@oms.example>",
        to="k@example.org",
        key=key,
        order_id=order_id,
        rendered=RenderedEmail(subject="Versandt", text="Hallo,\n", html="<p>Hallo,</p>\n"),
        date=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
    )


def _unbound(message: bytes) -> bytes:
    boundary = re.search(rb'boundary="([^"]+)"', message)
    assert boundary is not None
    return message.replace(boundary.group(1), b"BOUNDARY")


def test_emails_are_compared_by_message_id_and_bytes(database_url: str, tmp_path: Path) -> None:
    """Same Message-ID and the same bytes: a redelivery, counted and shown, not a problem.
    Same Message-ID, different bytes (only the MIME boundary differs, as in the copies
    overload used to produce): a problem. So is a copy that is not the outbox's message."""
    p = _prefix()
    order = f"{p}1"
    stored = {n: _rendering(order, f"{order}:{n}") for n in ("again", "rerendered", "other")}
    with session_scope(database_url) as s:
        for n, message in stored.items():
            s.add(
                OutboundEmail(
                    key=f"{order}:{n}",
                    order_id=order,
                    recipient="k@example.org",
                    template="shipped",
                    subject="Versandt",
                    message_id=message_id_for(f"{order}:{n}"),
                    status="sent",
                    message=message,
                )
            )
    for n, message in stored.items():
        (tmp_path / f"{n}-1.eml").write_bytes(message)
    clean = load_audit.emails(database_url, p, tmp_path)
    assert clean["problems"] == 0 and clean["redelivered_copies"] == 0, clean["examples"]

    (tmp_path / "again-2.eml").write_bytes(stored["again"])  # handed over again, same bytes
    resend = load_audit.emails(database_url, p, tmp_path)
    assert resend["problems"] == 0 and resend["received"] == 4
    assert resend["redelivered_copies"] == 1 and resend["redelivered"] == [f"{order}:again"]

    rerendered = _rendering(order, f"{order}:rerendered")
    assert rerendered != stored["rerendered"]
    assert _unbound(rerendered) == _unbound(stored["rerendered"])  # only the boundary differs
    (tmp_path / "rerendered-2.eml").write_bytes(rerendered)  # same Message-ID, other bytes
    (tmp_path / "other-1.eml").write_bytes(_rendering(order, f"{order}:other"))  # not stored
    found = load_audit.emails(database_url, p, tmp_path)
    assert found["problems"] == 2, found["examples"]
    assert f"{order}:rerendered: 2 different messages under one Message-ID" in found["examples"]
    assert (
        f"{order}:other: received bytes differ from the message in the outbox" in found["examples"]
    )
    assert found["redelivered"] == [f"{order}:again"]


def _tx(order_id: str, kind: str, amount: int, status: str = "succeeded") -> PaymentTransaction:
    return PaymentTransaction(
        id=f"t_{uuid.uuid4().hex[:16]}",
        idempotency_key=uuid.uuid4().hex,
        order_id=order_id,
        kind=kind,
        amount_cents=amount,
        status=status,
    )


def _order(order_id: str, status: str, method: str = "card") -> OrderRecord:
    return OrderRecord(
        order_id=order_id,
        workflow_id=f"order-{order_id}",
        status=status,
        channel="web",
        customer_id="c",
        customer_email="k@example.org",
        customer_name="K",
        postcode="50667",
        payment_method=method,
        shipping_speed="standard",
        total_cents=5000,
        request_hash="h",
        payload={},
    )


def test_money_kept_must_equal_money_expected_per_order(database_url: str) -> None:
    p = _prefix()
    done, cancelled, returned = f"{p}done", f"{p}cancelled", f"{p}returned"
    with session_scope(database_url) as s:
        s.add(_order(done, "completed"))
        s.add(_order(cancelled, "cancelled"))
        s.add(_order(returned, "completed"))
        s.add_all(
            [
                _tx(done, "authorise", 5000),
                _tx(done, "capture", 5000),
                _tx(cancelled, "authorise", 5000),
                _tx(cancelled, "void", 5000),
                _tx(returned, "authorise", 5000),
                _tx(returned, "capture", 5000),
                _tx(returned, "refund", 1500),
            ]
        )
    outcomes = [
        Outcome(order_id=done, accepted=True, expected_status="completed", total_cents=5000),
        Outcome(order_id=cancelled, accepted=True, expected_status="cancelled", total_cents=5000),
        Outcome(
            order_id=returned,
            accepted=True,
            expected_status="completed",
            total_cents=5000,
            expected_refund_cents=1500,
        ),
    ]
    clean = load_audit.money(database_url, p, outcomes)
    assert clean["problems"] == 0 and clean["money_kept_cents"] == 5000 + 3500
    assert load_audit.orders(database_url, p, outcomes)["problems"] == 0

    with session_scope(database_url) as s:
        s.add(_tx(done, "capture", 5000))  # charged twice
        s.add(_tx(cancelled, "authorise", 5000))  # authorised twice
        s.add(_tx(returned, "refund", 10, status="pending"))  # never finished
        s.get(OrderRecord, cancelled).status = "completed"  # type: ignore[union-attr]
        s.add(_order(f"{p}ghost", "completed"))  # an order nobody placed
    found = load_audit.money(database_url, p, outcomes)
    assert found["problems"] == 4, found["examples"]  # pending, kept, over-captured, 2 auths
    assert any(e.startswith(f"{done}: kept 10000, expected 5000") for e in found["examples"])
    wrong = load_audit.orders(database_url, p, outcomes)
    assert wrong["problems"] == 2, wrong["examples"]
