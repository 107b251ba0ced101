"""After a load run: is every order where it should be, and is nothing lost or doubled?

Reads the OMS database, the mail catcher's files and Temporal directly, never the API, and
compares with what the bench's outside world did (:class:`bench.load_day.Outcome`). Each check
yields a count of problems and a few examples; the run is clean when every count is zero.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from temporalio.client import Client, WorkflowExecutionStatus

from bench.load_day import Outcome
from core.db.engine import session_scope
from core.db.schema import OrderRecord, OutboundEmail, PaymentTransaction, Reservation
from core.domain.payments import AUTHORISING
from core.domain.returns import return_workflow_id

Finding = dict[str, Any]


def _finding(problems: list[str], **figures: Any) -> Finding:
    return {"problems": len(problems), "examples": problems[:5], **figures}


def orders(url: str, prefix: str, outcomes: list[Outcome]) -> Finding:
    """Every accepted order recorded once, in the state the outside world expects."""
    accepted = {o.order_id: o for o in outcomes if o.accepted}
    with session_scope(url) as s:
        records = {
            r.order_id: r.status
            for r in s.exec(
                select(OrderRecord).where(col(OrderRecord.order_id).startswith(prefix))
            ).all()
        }
    problems = [f"{oid}: not recorded" for oid in accepted if oid not in records]
    problems += [f"{oid}: recorded but never accepted" for oid in records if oid not in accepted]
    problems += [
        f"{oid}: {records[oid]}, expected {o.expected_status}"
        for oid, o in accepted.items()
        if oid in records and records[oid] != o.expected_status
    ]
    problems += [f"{o.order_id}: bench error {o.error}" for o in outcomes if o.error]
    shed = [o.order_id for o in outcomes if o.shed]
    problems += [f"{oid}: shed (503 busy) yet recorded" for oid in shed if oid in records]
    return _finding(
        problems,
        orders=len(records),
        shed_at_the_door=len(shed),
        by_status=dict(Counter(records.values())),
    )


async def workflows(client: Client, url: str, prefix: str, outcomes: list[Outcome]) -> Finding:
    """Temporal has exactly one order workflow per accepted order, each completed, except a
    cancelled prepayment order's, which stays open for the policy's late-payment window (money
    that still arrives is refunded); every return workflow has completed."""
    accepted = sum(o.accepted for o in outcomes)
    base = f'WorkflowId STARTS_WITH "order-{prefix}"'
    total = (await client.count_workflows(base)).count
    completed = (await client.count_workflows(f'{base} AND ExecutionStatus = "Completed"')).count
    running = [
        wf.id async for wf in client.list_workflows(f'{base} AND ExecutionStatus = "Running"')
    ]
    with session_scope(url) as s:
        records = {
            f"order-{r.order_id}": r
            for r in s.exec(
                select(OrderRecord).where(col(OrderRecord.order_id).startswith(prefix))
            ).all()
        }
    waiting = [
        wid
        for wid in running
        if (rec := records.get(wid)) is not None
        and rec.status == "cancelled"
        and rec.payment_method == "prepayment"
    ]
    problems = []
    if total != accepted:
        problems.append(f"{total} order workflows for {accepted} accepted orders")
    problems += [f"still running: {wid}" for wid in running if wid not in waiting]
    if completed + len(running) != total:
        problems.append(
            f"{total - completed - len(running)} order workflows failed, terminated or timed out"
        )
    returns = [rid for o in outcomes for rid in o.returns]
    for rid in returns:
        status = (await client.get_workflow_handle(return_workflow_id(rid)).describe()).status
        if status != WorkflowExecutionStatus.COMPLETED:
            problems.append(f"return workflow of {rid}: {status.name if status else '?'}")
    return _finding(
        problems,
        order_workflows=total,
        completed=completed,
        open_for_late_payments=len(waiting),
        return_workflows=len(returns),
    )


def stock(url: str) -> Finding:
    """The ledger explains every level; reserved units are exactly the active reservations;
    no reservation belongs to an unknown or finished order."""
    with session_scope(url) as s:
        conn = s.connection()
        unexplained = conn.execute(
            text(
                "SELECT s.location_id, s.sku, s.on_hand, s.reserved, s.held, "
                "COALESCE(m.on_hand, 0), COALESCE(m.reserved, 0), COALESCE(m.held, 0) "
                "FROM stock s LEFT JOIN (SELECT location_id, sku, SUM(on_hand_delta) AS on_hand, "
                "SUM(reserved_delta) AS reserved, SUM(held_delta) AS held FROM stock_movement "
                "GROUP BY location_id, sku) m ON m.location_id = s.location_id AND m.sku = s.sku "
                "WHERE s.on_hand <> COALESCE(m.on_hand, 0) "
                "OR s.reserved <> COALESCE(m.reserved, 0) "
                "OR s.held <> COALESCE(m.held, 0)"
            )
        ).all()
        reserved_off = conn.execute(
            text(
                "SELECT s.location_id, s.sku, s.reserved, COALESCE(r.q, 0) FROM stock s "
                "LEFT JOIN (SELECT location_id, sku, SUM(quantity) AS q FROM reservation "
                "WHERE status = 'active' GROUP BY location_id, sku) r "
                "ON r.location_id = s.location_id AND r.sku = s.sku "
                "WHERE s.reserved <> COALESCE(r.q, 0)"
            )
        ).all()
        orphans = conn.execute(
            text(
                "SELECT r.key FROM reservation r LEFT JOIN order_record o "
                "ON o.order_id = r.order_id WHERE o.order_id IS NULL"
            )
        ).all()
        finished_holding = conn.execute(
            text(
                "SELECT r.key, o.status FROM reservation r JOIN order_record o "
                "ON o.order_id = r.order_id WHERE r.status = 'active' "
                "AND o.status IN ('completed', 'cancelled', 'rejected', 'failed')"
            )
        ).all()
        movements = conn.execute(text("SELECT COUNT(*) FROM stock_movement")).scalar_one()
        active = s.exec(select(Reservation).where(Reservation.status == "active")).all()
    problems = [
        f"{r[0]}/{r[1]}: level {tuple(r[2:5])} but ledger {tuple(r[5:8])}" for r in unexplained
    ]
    problems += [
        f"{r[0]}/{r[1]}: reserved {r[2]} but active reservations {r[3]}" for r in reserved_off
    ]
    problems += [f"reservation {r[0]} has no order" for r in orphans]
    problems += [f"reservation {r[0]} still active for a {r[1]} order" for r in finished_holding]
    return _finding(problems, ledger_movements=movements, active_reservations=len(active))


def emails(url: str, prefix: str, mail_dir: Path) -> Finding:
    """Every e-mail the OMS decided to send arrived as exactly one message, none arrived
    undecided, nothing is left pending.

    Copies are compared by Message-ID (RFC 5322 3.6.4, derived from the event's key) and by
    their bytes. The OMS renders each e-mail once and stores the bytes; every attempt sends
    those. A worker killed between the SMTP server's "250 accepted" and recording it makes the
    next attempt (once the dead one's lease ran out) hand over the same message again: same
    Message-ID, byte for byte the same, so mail clients show it once. SMTP has no way to close
    that window; such copies are counted and shown (``redelivered_copies``, ``redelivered``).
    Two copies under one Message-ID whose bytes differ (say, only in their MIME boundary) are
    two different messages: a problem, as is a copy that is not the message in the outbox."""
    copies: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    parser = BytesHeaderParser()
    for path in mail_dir.glob("*.eml"):
        raw = path.read_bytes()
        headers = parser.parsebytes(raw)
        if str(headers.get("X-OMS-Order", "")).startswith(prefix):
            copies[str(headers["X-OMS-Key"])][
                (str(headers.get("Message-ID", "")), hashlib.sha256(raw).hexdigest())
            ] += 1
    with session_scope(url) as s:
        outbox = s.exec(
            select(OutboundEmail).where(col(OutboundEmail.order_id).startswith(prefix))
        ).all()
    keys = {m.key for m in outbox}
    stored = {m.key: hashlib.sha256(m.message).hexdigest() for m in outbox if m.message}
    problems: list[str] = []
    for k, c in copies.items():
        ids = {message_id for message_id, _ in c}
        if len(c) > 1 and len(ids) == 1:
            problems.append(f"{k}: {len(c)} different messages under one Message-ID")
        elif len(c) > 1:
            problems.append(f"{k}: {len(c)} different messages, {len(ids)} Message-IDs")
        elif k in stored and next(iter(c))[1] != stored[k]:
            problems.append(f"{k}: received bytes differ from the message in the outbox")
    problems += [f"{m.key}: decided but never received" for m in outbox if m.key not in copies]
    problems += [f"{m.key}: still {m.status} in the outbox" for m in outbox if m.status != "sent"]
    problems += [f"{k}: received without an outbox entry" for k in copies if k not in keys]
    redelivered = {
        k: sum(c.values()) - 1 for k, c in copies.items() if len(c) == 1 and sum(c.values()) > 1
    }
    return _finding(
        problems,
        decided=len(outbox),
        received=sum(sum(c.values()) for c in copies.values()),
        redelivered_copies=sum(redelivered.values()),
        redelivered=sorted(redelivered)[:5],
        by_template=dict(Counter(m.template for m in outbox)),
    )


def money(url: str, prefix: str, outcomes: list[Outcome]) -> Finding:
    """Per order: one authorisation of the total (card, wallet, invoice), money kept = total
    minus what the customer sent back (completed) or nothing (cancelled); nothing pending."""
    sums: dict[str, Counter[str]] = defaultdict(Counter)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    pending: list[str] = []
    with session_scope(url) as s:
        for t in s.exec(
            select(PaymentTransaction).where(col(PaymentTransaction.order_id).startswith(prefix))
        ).all():
            if t.status == "succeeded":
                sums[t.order_id][t.kind] += t.amount_cents
                counts[t.order_id][t.kind] += 1
            elif t.status == "pending":
                pending.append(t.idempotency_key)
        methods = {
            r.order_id: r.payment_method
            for r in s.exec(
                select(OrderRecord).where(col(OrderRecord.order_id).startswith(prefix))
            ).all()
        }
    problems = [f"{key}: still pending" for key in pending]
    kept_total = expected_total = 0
    for o in outcomes:
        if not o.accepted:
            continue
        got, n = sums[o.order_id], counts[o.order_id]
        kept = got["capture"] + got["incoming"] - got["refund"]
        expected = (
            0 if o.expected_status == "cancelled" else o.total_cents - o.expected_refund_cents
        )
        kept_total += kept
        expected_total += expected
        if kept != expected:
            problems.append(f"{o.order_id}: kept {kept}, expected {expected} ({dict(got)})")
        if methods.get(o.order_id) in AUTHORISING and (
            n["authorise"] != 1 or got["authorise"] != o.total_cents
        ):
            problems.append(f"{o.order_id}: authorisations {dict(n)} {dict(got)}")
        if got["capture"] + got["void"] > got["authorise"] and got["authorise"]:
            problems.append(f"{o.order_id}: captured and voided more than authorised")
    return _finding(
        problems,
        money_kept_cents=kept_total,
        money_expected_cents=expected_total,
        captured_cents=sum(c["capture"] for c in sums.values()),
        refunded_cents=sum(c["refund"] for c in sums.values()),
    )
