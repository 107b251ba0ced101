"""Activities of the return workflow: its read model and the order's event log, the label,
the stock it brings back, and what its refund is booked against. Each is idempotent by the
return number and step, so Temporal's retries never book a unit or a line twice."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, col, select
from temporalio import activity

from activities.returns.label import render
from activities.stock import ledger
from activities.stock.restock import restock
from core.db.engine import session_scope
from core.db.schema import OrderEvent, PaymentTransaction, ReturnRecord, Stock, StockMovement
from core.domain.events import step_key
from core.domain.returns import ReturnInput, ReturnProgress, ReturnStatus, StockBooking
from core.settings import Settings

_STAMP = {
    ReturnStatus.LABEL_ISSUED: "label_issued_at",
    ReturnStatus.RECEIVED: "received_at",
    ReturnStatus.REFUNDED: "refunded_at",
    ReturnStatus.CLOSED: "closed_at",
    ReturnStatus.EXPIRED: "closed_at",
}
_LATER = [
    ReturnStatus.REQUESTED,
    ReturnStatus.LABEL_ISSUED,
    ReturnStatus.IN_TRANSIT,
    ReturnStatus.RECEIVED,
    ReturnStatus.INSPECTED,
    ReturnStatus.REFUNDED,
    ReturnStatus.FORWARDED,
    ReturnStatus.CLOSED,
    ReturnStatus.EXPIRED,
]


class ReturnActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def record_return(self, step: ReturnProgress) -> None:
        """Move the read model on (never back) and log the step on the order, once per key."""
        key = step_key(step.order_id, f"return:{step.return_id}:{step.status.value}")
        with session_scope(self.url) as s:
            rec = s.get(ReturnRecord, step.return_id)
            if rec is None:
                raise LookupError(f"return {step.return_id} was never opened")
            if _LATER.index(step.status) >= _LATER.index(ReturnStatus(rec.status)):
                rec.status = step.status.value
            if (stamp := _STAMP.get(step.status)) and getattr(rec, stamp) is None:
                setattr(rec, stamp, step.at)
            if isinstance(step.detail.get("location_id"), str) and step.status in (
                ReturnStatus.RECEIVED,
                ReturnStatus.CLOSED,
            ):  # where the goods are now
                rec.arrived_at_location = str(step.detail["location_id"])
            if isinstance(refunded := step.detail.get("refunded_cents"), int):
                rec.refunded_cents = int(refunded)
            rec.updated_at = datetime.now(UTC)
            s.add(rec)
            if s.exec(select(OrderEvent.id).where(OrderEvent.key == key)).first() is None:
                s.add(
                    OrderEvent(
                        key=key,
                        order_id=step.order_id,
                        type=f"return_{step.status.value}",
                        detail={"return_id": step.return_id, **step.detail},
                        actor=step.actor,
                        at=step.at,
                    )
                )

    @activity.defn
    def issue_label(self, ret: ReturnInput) -> int:
        """Render the label once and keep it, so every API replica serves the same PDF."""
        with session_scope(self.url) as s:
            rec = s.get(ReturnRecord, ret.return_id)
            if rec is None:
                raise LookupError(f"return {ret.return_id} was never opened")
            if rec.label_pdf is None:
                rec.label_pdf = render(ret)
                s.add(rec)
            return len(rec.label_pdf)

    @activity.defn
    def book_stock(self, booking: StockBooking) -> int:
        """Sellable units become stock exactly where they arrived (ledger kind "return");
        written-off units are booked in and out again there (return + adjustment), so the
        ledger shows them and the level is unchanged. Returns the units restocked."""
        source = f"return:{booking.return_id}"
        added = 0
        if booking.sellable:
            added = restock(
                self.url,
                booking.location_id,
                booking.sellable,
                source=source,
                key=f"{source}:restock",
                reason=f"customer return, order {booking.order_id}: sellable",
            )
        if booking.written_off:
            with session_scope(self.url) as s:
                _write_off(s, booking, source)
        return added

    @activity.defn
    def refund_parent(self, order_id: str, shipment_ids: list[str]) -> str | None:
        """The transaction a return's refund belongs to: the capture of the parcel the goods
        came in, else any capture, the authorisation, or the bank transfer of the order."""
        with session_scope(self.url) as s:
            txs = s.exec(
                select(PaymentTransaction)
                .where(
                    PaymentTransaction.order_id == order_id,
                    PaymentTransaction.status == "succeeded",
                    col(PaymentTransaction.kind).in_(["capture", "authorise", "incoming"]),
                )
                .order_by(col(PaymentTransaction.created_at))
            ).all()
        for sid in shipment_ids:
            for tx in txs:
                if tx.kind == "capture" and tx.idempotency_key == f"{order_id}:capture:{sid}":
                    return tx.id
        for kind in ("capture", "authorise", "incoming"):
            for tx in txs:
                if tx.kind == kind:
                    return tx.id
        return None


def _write_off(s: Session, booking: StockBooking, source: str) -> None:
    first = f"{source}:writeoff:{min(booking.written_off)}:in"
    if s.exec(select(StockMovement.id).where(StockMovement.key == first)).first():
        return
    moves = []
    for sku, qty in sorted(booking.written_off.items()):
        if qty <= 0:
            continue
        if s.get(Stock, (booking.location_id, sku)) is None:
            s.add(Stock(location_id=booking.location_id, sku=sku, on_hand=0))
            s.flush()
        reason = f"customer return, order {booking.order_id}: not sellable, written off"
        moves += [
            ledger.movement(
                booking.location_id,
                sku,
                "return",
                on_hand=qty,
                source=source,
                reason=reason,
                key=f"{source}:writeoff:{sku}:in",
            ),
            ledger.movement(
                booking.location_id,
                sku,
                "adjustment",
                on_hand=-qty,
                source=source,
                reason=reason,
                key=f"{source}:writeoff:{sku}:out",
            ),
        ]
    ledger.record(s.connection(), moves)
