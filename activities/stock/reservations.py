"""Stock reservations: atomic conditional updates, safe under concurrency, idempotent by key.

A reservation of a whole plan happens in one transaction: every line's ``UPDATE ... WHERE
on_hand - reserved >= qty`` must hit a row, or nothing is reserved. PostgreSQL re-checks the
condition after waiting for a concurrent writer's row lock, so no interleaving can oversell;
the CHECK constraint ``reserved <= on_hand`` is the last line of defence.

Units held for checkouts (``held``) are not reservable by other orders; the order named by a
hold takes it over when it reserves. Every change writes its stock-ledger movement in the same
transaction.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable
from sqlmodel import Session, col, select

from activities.stock import holds, ledger
from core.db.engine import session_scope
from core.db.schema import Reservation, ShipmentRecord
from core.domain.shipments import OPEN, ReservationResult, ShipmentPlan, ShipmentStatus

_RESERVE = text(
    "UPDATE stock SET reserved = reserved + :qty "
    "WHERE location_id = :loc AND sku = :sku AND on_hand - reserved - held >= :qty"
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
        for sh in shipments
        for ln in sh.lines
    ]
    try:
        with session_scope(url) as s:
            existing = set(
                s.exec(select(Reservation.key).where(Reservation.order_id == order_id)).all()
            )
            conn, now = s.connection(), datetime.now(UTC)
            by_row: dict[tuple[str, str], list] = defaultdict(list)
            for key, sh, ln in wanted:
                if key not in existing:
                    by_row[(sh.location_id, ln.sku)].append((key, sh, ln))
            for row in holds.own_hold_rows(conn, order_id):
                by_row.setdefault(row, [])
            conflicts, moves = [], []
            # Lock rows in a fixed order so two orders never deadlock on each other.
            for (loc, sku), lines in sorted(by_row.items()):
                moves += holds.settle_row(conn, loc, sku, now, order_id=order_id)
                for key, sh, ln in sorted(lines, key=lambda w: w[0]):
                    hit = conn.execute(_RESERVE, {"qty": ln.quantity, "loc": loc, "sku": sku})
                    if hit.rowcount != 1:
                        conflicts.append(f"{loc}/{sku}")
                        continue
                    s.add(
                        Reservation(
                            key=key,
                            order_id=order_id,
                            shipment_id=sh.shipment_id,
                            location_id=loc,
                            sku=sku,
                            quantity=ln.quantity,
                        )
                    )
                    moves.append(
                        ledger.movement(
                            loc,
                            sku,
                            "reservation",
                            reserved=ln.quantity,
                            source=f"order:{order_id}",
                            reason=key,
                            at=now,
                        )
                    )
            if conflicts:
                s.rollback()
                return ReservationResult(ok=False, conflicts=conflicts)
            ledger.record(conn, moves)
            _save_shipments(s, order_id, shipments)
    except IntegrityError as exc:  # the CHECK constraint caught a race: treat as a conflict
        return ReservationResult(ok=False, conflicts=[str(exc.orig)[:200]])
    return ReservationResult(ok=True)


def _save_shipments(s: Session, order_id: str, shipments: list[ShipmentPlan]) -> None:
    for sh in shipments:
        if s.get(ShipmentRecord, sh.shipment_id) is None:
            s.add(
                ShipmentRecord(
                    shipment_id=sh.shipment_id,
                    order_id=order_id,
                    location_id=sh.location_id,
                    status=ShipmentStatus.RESERVED.value,
                    carrier=sh.carrier,
                    lines=[ln.model_dump() for ln in sh.lines],
                    goods_cents=sh.goods_cents,
                    carriage_cents=sh.cost_cents,
                    ship_date=sh.ship_date,
                    promised_delivery=sh.promised_delivery,
                    ship_by=sh.ship_by,
                    deliver_by=sh.deliver_by,
                    transfer_to=sh.transfer_to,
                )
            )


def shrink(url: str, order_id: str, shipment_id: str, keep: dict[str, int]) -> int:
    """Reduce a shipment's reservations to ``keep`` units per line (absent line = 0).

    Target-based, so a retry changes nothing. Returns the units given back."""
    freed = 0
    with session_scope(url) as s:
        rows = s.exec(
            select(Reservation).where(
                Reservation.order_id == order_id,
                Reservation.shipment_id == shipment_id,
                Reservation.status == "active",
            )
        ).all()
        now, moves = datetime.now(UTC), []
        for r in sorted(rows, key=lambda r: (r.location_id, r.sku)):
            line_id = r.key.rsplit(":", 1)[-1]
            target = keep.get(line_id, 0)
            if r.quantity <= target:
                continue
            give_back = r.quantity - target
            s.connection().execute(
                _UNRESERVE, {"qty": give_back, "loc": r.location_id, "sku": r.sku}
            )
            freed += give_back
            moves.append(
                ledger.movement(
                    r.location_id,
                    r.sku,
                    "release",
                    reserved=-give_back,
                    source=f"order:{order_id}",
                    reason=f"{r.key} reduced to {target}",
                    at=now,
                )
            )
            if target == 0:
                r.status = "released"
            else:
                r.quantity = target
            s.add(r)
        ledger.record(s.connection(), moves)
    return freed


def release(url: str, order_id: str, shipment_id: str | None = None) -> int:
    """Give back the active reservations of an order (or one shipment). Returns units freed."""
    return _settle(url, order_id, shipment_id, _UNRESERVE, "released")


def release_order(url: str, order_id: str) -> int:
    """The order ends: give back all its stock, and its shipments not yet shipped are
    cancelled in the read model (none of them will leave). Otherwise an order that ended
    before release (payment declined) would keep showing parcels ``reserved``. Returns units
    freed."""
    freed = release(url, order_id)
    with session_scope(url) as s:
        for rec in s.exec(
            select(ShipmentRecord).where(
                ShipmentRecord.order_id == order_id,
                col(ShipmentRecord.status).in_(sorted(OPEN)),
            )
        ).all():
            rec.status = ShipmentStatus.CANCELLED.value
            s.add(rec)
    return freed


def consume(url: str, order_id: str, shipment_id: str) -> int:
    """A shipment left the building: its reserved units leave on-hand stock too."""
    return _settle(url, order_id, shipment_id, _CONSUME, "shipped")


_MOVEMENT = {"released": "release", "shipped": "shipment"}


def _settle(url: str, order_id: str, shipment_id: str | None, stmt: Executable, status: str) -> int:
    with session_scope(url) as s:
        query = select(Reservation).where(
            Reservation.order_id == order_id, Reservation.status == "active"
        )
        if shipment_id is not None:
            query = query.where(Reservation.shipment_id == shipment_id)
        rows = sorted(s.exec(query).all(), key=lambda r: (r.location_id, r.sku))
        now, moves = datetime.now(UTC), []
        for r in rows:
            s.connection().execute(stmt, {"qty": r.quantity, "loc": r.location_id, "sku": r.sku})
            r.status = status
            s.add(r)
            moves.append(
                ledger.movement(
                    r.location_id,
                    r.sku,
                    _MOVEMENT[status],
                    reserved=-r.quantity,
                    on_hand=-r.quantity if status == "shipped" else 0,
                    source=f"order:{order_id}",
                    reason=r.key,
                    at=now,
                )
            )
        ledger.record(s.connection(), moves)
        return sum(r.quantity for r in rows)
