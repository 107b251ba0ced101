"""Routing as an activity: builds the routing problem from the database and solves it.

The solver's work never runs inside workflow code; the workflow only sees the resulting plan.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

import routing
from activities.masterdata.network import candidate_location, carriers_and_holidays
from core.db.schema import Location, Reservation, Stock, StockHold
from core.domain.orders import OrderInput
from core.domain.shipments import RoutingResult, ShipmentLine, ShipmentPlan
from core.geodata import lookup


def build_problem(
    s: Session, order: OrderInput, exclude: list[str], profile: routing.RuleProfile | None = None
) -> routing.RoutingProblem:
    """Candidate locations = online locations holding available stock of any ordered SKU,
    with what they can still ship today and the backlog they already have."""
    skus = sorted({line.sku for line in order.lines})
    own = {
        (h.location_id, h.sku): h.quantity
        for h in s.exec(
            select(StockHold).where(
                StockHold.order_id == order.order_id,
                StockHold.status == "active",
                StockHold.expires_at > order.placed_at,
            )
        ).all()
    }
    rows = s.exec(
        select(Stock, Location)
        .join(Location, col(Location.id) == Stock.location_id)
        .where(
            col(Stock.sku).in_(skus),
            Stock.on_hand - Stock.reserved > 0,
            Location.online == True,  # noqa: E712  (SQL expression)
            col(Location.id).not_in(exclude or [""]),
        )
    ).all()
    stock: dict[str, dict[str, int]] = defaultdict(dict)
    locations: dict[str, Location] = {}
    for st, loc in rows:
        # held units belong to other checkouts; this order's own holds are its to take
        free = st.on_hand - st.reserved - st.held + own.get((loc.id, st.sku), 0)
        if free > 0:
            stock[loc.id][st.sku] = free
            locations[loc.id] = loc
    if order.pickup_store_id and order.pickup_store_id not in locations:
        store = s.get(Location, order.pickup_store_id)  # the pickup store, even with no stock
        if store is None:
            raise ValueError(f"unknown pickup store {order.pickup_store_id}")
        locations[store.id] = store
    today_reserved = _reserved_today(s, order, list(locations))
    backlog = _backlog(s, list(locations))
    dest = lookup(order.delivery_address.postcode)
    if dest is None:
        raise ValueError(f"unknown postcode {order.delivery_address.postcode}")
    start = order.placed_at.astimezone(BERLIN).date()
    carriers, holidays = carriers_and_holidays(s, dest.postcode, start)
    return routing.RoutingProblem(
        order_id=order.order_id,
        lines=[
            routing.OrderLine(
                line_id=ln.line_id,
                sku=ln.sku,
                quantity=ln.quantity,
                weight_kg=ln.weight_kg,
                bulky=ln.bulky,
                hazardous=ln.hazardous,
            )
            for ln in order.lines
        ],
        destination=routing.Destination(
            postcode=dest.postcode, latitude=dest.latitude, longitude=dest.longitude, city=dest.city
        ),
        speed=order.shipping_speed,
        # cut-offs count from the release: the order waits out its hold first
        order_time=order.placed_at
        + order.policy.release.hold_for(order.channel, order.payment_method),
        customer_group=order.customer.group,
        pickup_store_id=order.pickup_store_id,
        profile=profile,
        locations=[
            candidate_location(
                loc,
                stock=stock[loc.id],
                capacity_left=loc.daily_capacity - today_reserved.get(loc.id, 0),
                backlog=backlog.get(loc.id, 0),
                start=start,
            )
            for loc in sorted(locations.values(), key=lambda x: x.id)
        ],
        carriers=carriers,
        holidays=holidays,
    )


def _reserved_today(s: Session, order: OrderInput, location_ids: list[str]) -> dict[str, int]:
    if not location_ids:
        return {}
    rows = s.exec(
        select(Reservation.location_id, func.sum(Reservation.quantity))
        .where(
            Reservation.day == order.placed_at.date(),
            col(Reservation.location_id).in_(location_ids),
        )
        .group_by(Reservation.location_id)
    ).all()
    return {loc: int(total) for loc, total in rows}


BERLIN = ZoneInfo("Europe/Berlin")


def _backlog(s: Session, location_ids: list[str]) -> dict[str, int]:
    """Units waiting to be shipped at each location (active reservations)."""
    if not location_ids:
        return {}
    rows = s.exec(
        select(Reservation.location_id, func.sum(Reservation.quantity))
        .where(Reservation.status == "active", col(Reservation.location_id).in_(location_ids))
        .group_by(Reservation.location_id)
    ).all()
    return {loc: int(total) for loc, total in rows}


@lru_cache(maxsize=4)
def rule_profiles(path: str) -> dict[str, routing.RuleProfile]:
    """The retailer's routing rule profiles per customer group (empty path: built-in)."""
    return routing.load_profiles(path) if path else {}


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Germany, as an aware datetime (the promise's moment)."""
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def _ship_by(loc: routing.CandidateLocation, day: date) -> datetime:
    """The location's cut-off on the ship date (a 24:00 cut-off counts as 23:00, the last
    collection of the day)."""
    cutoff = routing.cutoff_on(loc, day)
    if cutoff is None:  # not open that day: only a pickup shelf plan can say so
        return _at(day, 23)
    return _at(day, min(cutoff.hour, 23), cutoff.minute if cutoff.hour < 23 else 0)


def to_result(
    order: OrderInput, plan: routing.RoutingPlan, problem: routing.RoutingProblem
) -> RoutingResult:
    """Number the shipments ``<order>-S<n>``, price their goods for per-shipment capture, and
    turn the plan's dates into the promise the workflow watches: ship by the location's cut-off
    on the ship date, deliver by the end of the promised day."""
    prices = {ln.line_id: ln.unit_price_cents for ln in order.lines}
    locations = {loc.id: loc for loc in problem.locations}
    shipments = []
    for n, sh in enumerate(plan.shipments, start=1):
        lines = [ShipmentLine(line_id=p.line_id, sku=p.sku, quantity=p.quantity) for p in sh.lines]
        shipments.append(
            ShipmentPlan(
                shipment_id=f"{order.order_id}-S{n}",
                location_id=sh.location_id,
                lines=lines,
                carrier=sh.carrier,
                ship_date=sh.ship_date,
                promised_delivery=sh.promised_delivery,
                cost_cents=sh.cost_cents,
                goods_cents=sum(prices[ln.line_id] * ln.quantity for ln in lines),
                ship_by=_ship_by(locations[sh.location_id], sh.ship_date),
                deliver_by=_at(sh.promised_delivery, 23, 59),
                transfer_to=sh.transfer_to,
            )
        )
    return RoutingResult(
        shipments=shipments,
        uncovered=[
            ShipmentLine(line_id=u.line_id, sku=u.sku, quantity=u.quantity) for u in plan.uncovered
        ],
        strategy=plan.strategy,
        optimal=plan.optimal,
    )
