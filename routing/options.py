"""Shipping options of one order: which location may ship which line with which carrier, when.

Every strategy, the objective and the validator read the hard rules from here, so they cannot
disagree about what is allowed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from routing import carriers as tariffs
from routing.dates import (
    delivery_date,
    is_working_day,
    local_time,
    location_ship_date,
    open_before_cutoff,
)
from routing.geo import haversine_km
from routing.model import (
    PICKUP_CARRIER,
    CandidateLocation,
    Carrier,
    OrderLine,
    RoutingProblem,
    RuleProfile,
)
from routing.profiles import default_profile


@dataclass(frozen=True)
class Option:
    """One location shipping with one carrier: dates are fixed once location and carrier are."""

    location_id: str
    carrier: str
    ship_date: date
    promised: date
    days: int


@dataclass
class Context:
    """Precomputed facts about one routing problem, shared by all strategies."""

    problem: RoutingProblem
    profile: RuleProfile
    local: datetime
    order_date: date
    dest_postcode: str
    dest_city: str
    pickup_id: str | None
    locations: dict[str, CandidateLocation]
    carriers: dict[str, Carrier]
    lines: dict[str, OrderLine]
    distance: dict[str, float]
    excess_backlog: dict[str, int]
    options: dict[str, dict[str, Option]] = field(default_factory=dict)
    allowed: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    cache: dict[str, object] = field(default_factory=dict)
    limits: dict[str, list[int | None]] = field(default_factory=dict)

    @property
    def total_units(self) -> int:
        """Units ordered over all lines."""
        return sum(x.quantity for x in self.problem.lines)

    def line_weight_g(self, line_id: str) -> int:
        """Weight of one unit of a line in grams."""
        return tariffs.grams(self.lines[line_id].weight_kg)

    def parcel_cost(self, location_id: str, carrier: str, weight_g: int, bulky: bool) -> int:
        """Price of a parcel from a location; the pickup store's own shelf costs nothing."""
        if carrier == PICKUP_CARRIER:
            return 0
        tariff = self.carriers[carrier]
        band = next(
            i for i, limit in enumerate(self.limits[carrier]) if limit is None or weight_g <= limit
        )
        return tariff.weight_bands[band].cost_cents + tariffs.surcharge_cents(
            tariff, self.problem.speed, bulky
        )

    def locations_for(self, line_id: str) -> list[str]:
        """Locations that may serve this line under every hard rule, in id order."""
        return sorted(loc for (lid, loc) in self.allowed if lid == line_id)


def _same_town(a: str, b: str) -> bool:
    return bool(a.strip()) and a.strip().casefold() == b.strip().casefold()


def _excess_backlog(locations: list[CandidateLocation]) -> dict[str, int]:
    """Backlog above the mean of the location's zone; locations without a zone have none."""
    zones: dict[str, list[int]] = defaultdict(list)
    for loc in locations:
        if loc.zone:
            zones[loc.zone].append(loc.backlog)
    out: dict[str, int] = {}
    for loc in locations:
        if not loc.zone:
            out[loc.id] = 0
            continue
        members = zones[loc.zone]
        out[loc.id] = max(0, round(loc.backlog - sum(members) / len(members)))
    return out


def _location_options(ctx: Context, loc: CandidateLocation) -> dict[str, Option]:
    """Carriers this location can use for this order's speed, with their dates.

    Ship dates follow the location's own open days and cut-offs; transit counts working days
    at the destination (`problem.holidays`)."""
    problem, holidays = ctx.problem, ctx.problem.holidays
    if loc.id == ctx.pickup_id:
        ready = location_ship_date(loc, ctx.local, holidays)
        days = (ready - ctx.order_date).days
        return {PICKUP_CARRIER: Option(loc.id, PICKUP_CARRIER, ready, ready, days)}
    if not loc.ships_to_customers:
        return {}
    dist = ctx.distance[loc.id]
    next_collection = location_ship_date(loc, ctx.local, holidays)
    same_day_ok = open_before_cutoff(loc, ctx.local, holidays) and is_working_day(
        ctx.order_date, holidays
    )  # the location collects today and couriers deliver today
    out: dict[str, Option] = {}
    for name in sorted(ctx.carriers):
        carrier = ctx.carriers[name]
        if problem.speed not in carrier.speeds:
            continue
        if problem.speed == "same_day":
            eligible = (
                loc.kind == "store"
                and _same_town(loc.city, ctx.dest_city)
                and same_day_ok
                and dist <= carrier.same_day_max_km
            )
            if not eligible:
                continue
            shipped = ctx.order_date
        else:
            shipped = next_collection
        transit = tariffs.transit_days(
            carrier, loc.postcode, ctx.dest_postcode, dist, problem.speed
        )
        promised = delivery_date(shipped, transit, holidays)
        out[name] = Option(loc.id, name, shipped, promised, (promised - ctx.order_date).days)
    return out


def line_carriers(ctx: Context, line: OrderLine, loc: CandidateLocation) -> frozenset[str]:
    """Carriers that may take this line from this location (empty: the location may not)."""
    opts = ctx.options.get(loc.id, {})
    if not opts or loc.stock.get(line.sku, 0) <= 0 or loc.capacity_left <= 0:
        return frozenset()
    if loc.id == ctx.pickup_id:
        return frozenset(opts)  # handed over the counter: no carriage rules apply
    if line.hazardous and not loc.hazardous_certified:
        return frozenset()
    dist = ctx.distance[loc.id]
    ok = set()
    for name in opts:
        carrier = ctx.carriers[name]
        if line.hazardous and not carrier.hazardous_allowed:
            continue
        if line.bulky and not tariffs.bulky_ok(carrier, dist):
            continue
        ok.add(name)
    return frozenset(ok)


def build_context(problem: RoutingProblem) -> Context:
    """Work out distances, dates and every (line, location, carrier) the hard rules allow."""
    local = local_time(problem.order_time, problem.timezone)
    pickup = None
    if problem.pickup_store_id is not None:
        pickup = next(x for x in problem.locations if x.id == problem.pickup_store_id)
    if pickup is not None:
        dest_lat, dest_lon = pickup.latitude, pickup.longitude
        dest_postcode, dest_city = pickup.postcode, pickup.city
    else:
        dest = problem.destination
        dest_lat, dest_lon, dest_postcode, dest_city = (
            dest.latitude,
            dest.longitude,
            dest.postcode,
            dest.city,
        )
    ctx = Context(
        problem=problem,
        profile=problem.profile or default_profile(),
        local=local,
        order_date=local.date(),
        dest_postcode=dest_postcode,
        dest_city=dest_city,
        pickup_id=problem.pickup_store_id,
        locations={x.id: x for x in problem.locations},
        carriers={c.name: c for c in problem.carriers},
        lines={x.line_id: x for x in problem.lines},
        distance={
            x.id: haversine_km(x.latitude, x.longitude, dest_lat, dest_lon)
            for x in problem.locations
        },
        excess_backlog=_excess_backlog(problem.locations),
        limits={c.name: tariffs.band_limits_g(c) for c in problem.carriers},
    )
    for loc in problem.locations:
        opts = _location_options(ctx, loc)
        if opts:
            ctx.options[loc.id] = opts
    for line in problem.lines:
        for loc in problem.locations:
            ok = line_carriers(ctx, line, loc)
            if ok:
                ctx.allowed[(line.line_id, loc.id)] = ok
    return ctx
