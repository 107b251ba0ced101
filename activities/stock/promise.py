"""Delivery promises before checkout: for a postcode and shipping speed, the earliest date a cart
(or one SKU) arrives and the locations it would come from.

The routing package plans it, on ATP for the channel (safety stock, store buffers and active
holds already taken off), with a profile that puts the earliest delivery first.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlmodel import Session, col
from sqlmodel import select as sm_select

import routing
from activities.masterdata.network import candidate_location, carriers_and_holidays
from activities.stock.availability import availability
from core.db.schema import Location, Reservation, Sku
from core.domain.inputs import POSTCODE_PATTERN, Channel, InputModel
from core.domain.orders import Speed
from core.geodata import lookup
from core.policy import load_policy
from core.settings import Settings

BERLIN = ZoneInfo("Europe/Berlin")  # where the locations' calendars are kept
EARLIEST = routing.RuleProfile(
    name="promise-earliest",
    description="earliest delivery, then fewest parcels, then cost",
    priorities=[["delivery_days"], ["parcels"], ["cost", "backlog"]],
)


class _Strict(InputModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CartLine(_Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(default=1, gt=0, le=10_000)


class PromiseRequest(_Strict):
    postcode: str = Field(pattern=POSTCODE_PATTERN)
    speed: Speed = "standard"
    channel: Channel = "web"
    lines: list[CartLine] = Field(min_length=1, max_length=100)


class PromisedShipment(BaseModel):
    location_id: str
    carrier: str
    ship_date: date
    promised_delivery: date
    lines: list[CartLine]


class LinePromise(BaseModel):
    sku: str
    quantity: int
    covered: int
    promised_delivery: date | None
    locations: list[str]


class Promise(BaseModel):
    """Earliest delivery of the whole cart (None when not all of it can be delivered)."""

    postcode: str
    speed: str
    channel: str
    deliverable: bool
    promised_delivery: date | None
    shipments: list[PromisedShipment]
    lines: list[LinePromise]
    uncovered: list[CartLine]
    strategy: str
    optimal: bool


class PromiseInvalid(Exception):
    """Unknown SKU or postcode, duplicate line: errors shaped like FastAPI's 422 details."""

    def __init__(self, errors: list[dict[str, object]]) -> None:
        super().__init__(str(errors))
        self.errors = errors


def _field(loc: tuple[str | int, ...], msg: str, kind: str) -> dict[str, object]:
    return {"loc": ["body", *loc], "msg": msg, "type": kind}


def promise(
    s: Session, req: PromiseRequest, settings: Settings, now: datetime | None = None
) -> Promise:
    """Plan the cart as an order placed now would be, on today's ATP, and report the dates."""
    now = now or datetime.now(UTC)
    problem = _problem(s, req, settings, now)
    plan = routing.solve(
        problem, strategy=settings.promise_strategy, time_limit_s=settings.promise_time_limit_s
    )
    shipments, per_line = [], defaultdict(list)
    for sh in plan.shipments:
        shipments.append(
            PromisedShipment(
                location_id=sh.location_id,
                carrier=sh.carrier,
                ship_date=sh.ship_date,
                promised_delivery=sh.promised_delivery,
                lines=[CartLine(sku=pl.sku, quantity=pl.quantity) for pl in sh.lines],
            )
        )
        for pl in sh.lines:
            per_line[pl.line_id].append((sh, pl.quantity))
    lines = []
    for i, ln in enumerate(req.lines):
        parts = per_line[f"L{i + 1}"]
        covered = sum(q for _, q in parts)
        lines.append(
            LinePromise(
                sku=ln.sku,
                quantity=ln.quantity,
                covered=covered,
                promised_delivery=max(sh.promised_delivery for sh, _ in parts)
                if covered == ln.quantity
                else None,
                locations=sorted({sh.location_id for sh, _ in parts}),
            )
        )
    uncovered = [CartLine(sku=u.sku, quantity=u.quantity) for u in plan.uncovered]
    deliverable = not uncovered
    return Promise(
        postcode=req.postcode,
        speed=req.speed,
        channel=req.channel,
        deliverable=deliverable,
        promised_delivery=max((sh.promised_delivery for sh in shipments), default=None)
        if deliverable
        else None,
        shipments=shipments,
        lines=lines,
        uncovered=uncovered,
        strategy=plan.strategy,
        optimal=plan.optimal,
    )


def _problem(
    s: Session, req: PromiseRequest, settings: Settings, now: datetime
) -> routing.RoutingProblem:
    dest = lookup(req.postcode)
    skus = {
        row.sku: row
        for row in s.exec(sm_select(Sku).where(col(Sku.sku).in_([ln.sku for ln in req.lines])))
    }
    errors = [
        _field(("lines", i, "sku"), f"unknown SKU {ln.sku!r}", "unknown_sku")
        for i, ln in enumerate(req.lines)
        if ln.sku not in skus
    ]
    errors += [
        _field(("lines", i, "sku"), f"SKU {ln.sku!r} is not sold any more", "inactive_sku")
        for i, ln in enumerate(req.lines)
        if ln.sku in skus and not skus[ln.sku].active
    ]
    errors += [
        _field(("lines", i, "sku"), f"{ln.sku!r} appears twice in the cart", "duplicate")
        for i, ln in enumerate(req.lines)
        if ln.sku in {x.sku for x in req.lines[:i]}
    ]
    if dest is None:
        errors.append(
            _field(("postcode",), f"unknown postcode {req.postcode!r}", "unknown_postcode")
        )
    if errors:
        raise PromiseInvalid(errors)
    assert dest is not None
    atp = availability(s, sorted(skus), req.channel, settings, now)
    stock: dict[str, dict[str, int]] = defaultdict(dict)
    for sku_atp in atp.values():
        for loc in sku_atp.locations:
            if loc.counts_for_network and loc.available > 0:
                stock[loc.location_id][sku_atp.sku] = loc.available
    locations = (
        list(s.exec(sm_select(Location).where(col(Location.id).in_(list(stock))))) if stock else []
    )
    busy = _reserved_today(s, now.date(), [loc.id for loc in locations])
    start = now.astimezone(BERLIN).date()
    carriers, holidays = carriers_and_holidays(s, dest.postcode, start)
    return routing.RoutingProblem(
        order_id="promise",
        lines=[
            routing.OrderLine(
                line_id=f"L{i + 1}",
                sku=ln.sku,
                quantity=ln.quantity,
                weight_kg=skus[ln.sku].weight_kg,
                bulky=skus[ln.sku].bulky,
                hazardous=skus[ln.sku].hazardous,
            )
            for i, ln in enumerate(req.lines)
        ],
        destination=routing.Destination(
            postcode=dest.postcode, latitude=dest.latitude, longitude=dest.longitude, city=dest.city
        ),
        speed=req.speed,
        # as the order will be planned: from the end of the channel's release hold
        order_time=now + load_policy(settings.policy_file).release.hold_for(req.channel, ""),
        profile=EARLIEST,
        locations=[
            candidate_location(
                loc,
                stock=stock[loc.id],
                capacity_left=loc.daily_capacity - busy.get(loc.id, 0),
                start=start,
            )
            for loc in sorted(locations, key=lambda x: x.id)
        ],
        carriers=carriers,
        holidays=holidays,
    )


def _reserved_today(s: Session, day: date, location_ids: list[str]) -> dict[str, int]:
    """Units already reserved per location today: what is left of its daily capacity."""
    if not location_ids:
        return {}
    rows = (
        s.connection()
        .execute(
            select(col(Reservation.location_id), func.sum(Reservation.quantity))
            .where(col(Reservation.day) == day, col(Reservation.location_id).in_(location_ids))
            .group_by(Reservation.location_id)
        )
        .all()
    )
    return {loc: int(total) for loc, total in rows}
