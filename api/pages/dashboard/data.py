"""The live dashboard's numbers: SQL aggregates over the read model, never workflow scans.

"Today" is the local (Europe/Berlin) calendar day for orders and payments; reservations carry
their own UTC ``day``, which is what capacity is counted against.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, col, select

from api.pages.web_session import LOCAL_TZ
from core.db.schema import Location, OrderRecord, PaymentTransaction, Reservation, ShipmentRecord
from core.domain.orders import NOT_REVENUE, OrderStatus
from core.domain.shipments import AT_LOCATION
from core.domain.shipments import ON_THE_WAY as ON_THE_WAY_STATUSES

TO_SHIP = sorted(AT_LOCATION)  # late to ship: released to the location, not left it
ON_THE_WAY = sorted(ON_THE_WAY_STATUSES)
MONEY_IN = ("capture", "incoming")
NOT_GOING_AHEAD = NOT_REVENUE | {OrderStatus.FAILED, OrderStatus.ON_HOLD}
"""Orders left out of revenue today: ended without a sale (cancelled, rejected, failed) or held
for review, which may still be rejected. Revenue counts only orders that are going ahead."""


@dataclass
class LocationLoad:
    location_id: str
    name: str
    backlog_units: int
    reserved_today: int
    daily_capacity: int

    @property
    def use_pct(self) -> float:
        if self.daily_capacity <= 0:
            return 0.0
        return round(100 * self.reserved_today / self.daily_capacity, 1)


@dataclass
class Dashboard:
    as_of: datetime
    orders_today: int
    by_status: dict[str, int]
    by_channel: dict[str, int]
    revenue_cents: int
    payments_cents: int
    awaiting_payment: int
    late_to_ship: int
    late_to_deliver: int
    late: list[dict[str, Any]] = field(default_factory=list)
    locations: list[LocationLoad] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        for out, loc in zip(data["locations"], self.locations, strict=True):
            out["use_pct"] = loc.use_pct
        return data


def day_start(now: datetime) -> datetime:
    """Midnight of today in local time, as UTC."""
    local = now.astimezone(LOCAL_TZ).date()
    return datetime.combine(local, time(), LOCAL_TZ).astimezone(UTC)


def dashboard(s: Session, now: datetime | None = None, top: int = 12) -> Dashboard:
    now = now or datetime.now(UTC)
    since = day_start(now)
    today = OrderRecord.created_at >= since
    by_status = dict(
        s.exec(
            select(OrderRecord.status, func.count()).where(today).group_by(OrderRecord.status)
        ).all()
    )
    by_channel = dict(
        s.exec(
            select(OrderRecord.channel, func.count()).where(today).group_by(OrderRecord.channel)
        ).all()
    )
    revenue = s.exec(
        select(func.coalesce(func.sum(OrderRecord.total_cents), 0)).where(
            today, col(OrderRecord.status).not_in(sorted(NOT_GOING_AHEAD))
        )
    ).one()
    payments = s.exec(
        select(func.coalesce(func.sum(PaymentTransaction.amount_cents), 0)).where(
            PaymentTransaction.created_at >= since,
            PaymentTransaction.status == "succeeded",
            col(PaymentTransaction.kind).in_(MONEY_IN),
        )
    ).one()
    awaiting = s.exec(
        select(func.count())
        .select_from(OrderRecord)
        .where(OrderRecord.status == "awaiting_payment")
    ).one()
    late_ship = and_(col(ShipmentRecord.ship_by) < now, col(ShipmentRecord.status).in_(TO_SHIP))
    late_deliver = and_(
        col(ShipmentRecord.deliver_by) < now, col(ShipmentRecord.status).in_(ON_THE_WAY)
    )
    late_counts = s.exec(
        select(
            func.coalesce(func.sum(case((late_ship, 1), else_=0)), 0),
            func.coalesce(func.sum(case((late_deliver, 1), else_=0)), 0),
        )
    ).one()
    late_rows = s.exec(
        select(ShipmentRecord)
        .where(or_(late_ship, late_deliver))
        .order_by(col(ShipmentRecord.ship_by))
        .limit(10)
    ).all()
    return Dashboard(
        as_of=now,
        orders_today=sum(by_status.values()),
        by_status=by_status,
        by_channel=by_channel,
        revenue_cents=int(revenue),
        payments_cents=int(payments),
        awaiting_payment=int(awaiting),
        late_to_ship=int(late_counts[0]),
        late_to_deliver=int(late_counts[1]),
        late=[
            {
                "shipment_id": r.shipment_id,
                "order_id": r.order_id,
                "location_id": r.location_id,
                "status": r.status,
                "due": (r.ship_by if r.status in TO_SHIP else r.deliver_by),
            }
            for r in late_rows
        ],
        locations=_locations(s, now, top),
    )


def _locations(s: Session, now: datetime, top: int) -> list[LocationLoad]:
    """Backlog (active reservations) and today's reserved units against daily capacity."""
    today = now.astimezone(UTC).date()
    backlog = func.coalesce(
        func.sum(case((col(Reservation.status) == "active", Reservation.quantity), else_=0)), 0
    )
    reserved_today = func.coalesce(
        func.sum(
            case(
                (
                    and_(col(Reservation.day) == today, col(Reservation.status) != "released"),
                    Reservation.quantity,
                ),
                else_=0,
            )
        ),
        0,
    )
    rows = s.exec(
        # sqlmodel types select() for at most four columns
        select(  # type: ignore[call-overload]
            Location.id, Location.name, Location.daily_capacity, backlog, reserved_today
        )
        .join(Reservation, col(Reservation.location_id) == col(Location.id))
        .group_by(col(Location.id), col(Location.name), col(Location.daily_capacity))
    ).all()
    loads = [LocationLoad(r[0], r[1], int(r[3]), int(r[4]), r[2]) for r in rows if r[3] or r[4]]
    loads.sort(key=lambda x: (-x.use_pct, -x.backlog_units, x.location_id))
    return loads[:top]
