"""Stock reservations: atomic conditional updates, safe under concurrency, idempotent by key.

A reservation of a whole plan happens in one transaction: every line's ``UPDATE ... WHERE
on_hand - reserved >= qty`` must hit a row, or nothing is reserved. PostgreSQL re-checks the
condition after waiting for a concurrent writer's row lock, so no interleaving can oversell;
the CHECK constraint ``reserved <= on_hand`` is the last line of defence.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.db.engine import session_scope
from core.db.schema import Reservation, ShipmentRecord
from core.models import ReservationResult, ShipmentPlan

_RESERVE = text(
    "UPDATE stock SET reserved = reserved + :qty "
    "WHERE location_id = :loc AND sku = :sku AND on_hand - reserved >= :qty"
)
_UNRESERVE = text(
    "UPDATE stock SET reserved = reserved - :qty WHERE location_id = :loc AND sku = :sku"
)
_CONSUME = text(
    "UPDATE stock SET reserved = reserved - :qty, on_hand = on_hand - :qty "
    "WHERE location_id = :loc AND sku = :sku"
)


def reservation_key(order_id: str, shipment_id: str, line_id: str) -> str:
    return f"{order_id}:{shipment_id}:{line_id}"


def reserve(url: str, order_id: str, shipments: list[ShipmentPlan]) -> ReservationResult:
    """Reserve exactly the planned stock, all or nothing; a repeat call is a no-op."""
    wanted = [
        (reservation_key(order_id, sh.shipment_id, ln.line_id), sh, ln)
        for sh in shipments for ln in sh.lines
    ]
    # Lock rows in a fixed order so two orders never deadlock on each other.
    wanted.sort(key=lambda w: (w[1].location_id, w[2].sku, w[0]))
    try:
        with session_scope(url) as s:
            existing = set(s.exec(select(Reservation.key).where(
                Reservation.order_id == order_id)).all())
            conflicts = []
            for key, sh, ln in wanted:
                if key in existing:
                    continue
                hit = s.connection().execute(
                    _RESERVE, {"qty": ln.quantity, "loc": sh.location_id, "sku": ln.sku})
                if hit.rowcount != 1:
                    conflicts.append(f"{sh.location_id}/{ln.sku}")
                    continue
                s.add(Reservation(key=key, order_id=order_id, shipment_id=sh.shipment_id,
                                  location_id=sh.location_id, sku=ln.sku, quantity=ln.quantity))
            if conflicts:
                s.rollback()
                return ReservationResult(ok=False, conflicts=conflicts)
            _save_shipments(s, order_id, shipments)
    except IntegrityError as exc:  # the CHECK constraint caught a race: treat as a conflict
        return ReservationResult(ok=False, conflicts=[str(exc.orig)[:200]])
    return ReservationResult(ok=True)


def _save_shipments(s: Session, order_id: str, shipments: list[ShipmentPlan]) -> None:
    for sh in shipments:
        if s.get(ShipmentRecord, sh.shipment_id) is None:
            s.add(ShipmentRecord(
                shipment_id=sh.shipment_id, order_id=order_id, location_id=sh.location_id,
                status="reserved", carrier=sh.carrier,
                lines=[ln.model_dump() for ln in sh.lines], goods_cents=sh.goods_cents,
                ship_date=sh.ship_date, promised_delivery=sh.promised_delivery))


def release(url: str, order_id: str, shipment_id: str | None = None) -> int:
    """Give back the active reservations of an order (or one shipment). Returns units freed."""
    return _settle(url, order_id, shipment_id, _UNRESERVE, "released")


def consume(url: str, order_id: str, shipment_id: str) -> int:
    """A shipment left the building: its reserved units leave on-hand stock too."""
    return _settle(url, order_id, shipment_id, _CONSUME, "shipped")


def _settle(url: str, order_id: str, shipment_id: str | None, stmt: object, status: str) -> int:
    with session_scope(url) as s:
        query = select(Reservation).where(Reservation.order_id == order_id,
                                          Reservation.status == "active")
        if shipment_id is not None:
            query = query.where(Reservation.shipment_id == shipment_id)
        rows = sorted(s.exec(query).all(), key=lambda r: (r.location_id, r.sku))
        for r in rows:
            s.connection().execute(stmt, {"qty": r.quantity, "loc": r.location_id, "sku": r.sku})
            r.status = status
            s.add(r)
        return sum(r.quantity for r in rows)
