"""Check a plan against every hard rule, independently of the strategy that made it.

Re-derives the rules from the problem (not from `options`), so a bug in the shared rule code
shows up as a violation instead of being copied into the check.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from datetime import date, datetime, timedelta

from routing import carriers as tariffs
from routing.dates import add_working_days, is_working_day, local_time
from routing.geo import haversine_km
from routing.model import PICKUP_CARRIER, WEEKDAYS, CandidateLocation, RoutingPlan, RoutingProblem
from routing.profiles import default_profile


def _cutoff(loc: CandidateLocation, day: date, holidays: Collection[date]) -> int | None:
    """Minutes after midnight of the location's cut-off on `day`, None when it is closed:
    its calendar's weekdays minus its closed dates, else Monday to Saturday minus holidays."""
    if loc.calendar is None:
        closed = day.weekday() == 6 or day in holidays
        return None if closed else loc.cutoff_hour * 60
    text = loc.calendar.cutoffs.get(WEEKDAYS[day.weekday()])
    if text is None or day in loc.calendar.closed:
        return None
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _collects_today(loc: CandidateLocation, local: datetime, holidays: Collection[date]) -> bool:
    cutoff = _cutoff(loc, local.date(), holidays)
    return cutoff is not None and local.hour * 60 + local.minute < cutoff


def _first_collection(loc: CandidateLocation, local: datetime, holidays: Collection[date]) -> date:
    """The first day the location is open from the order on, today only before its cut-off."""
    day = local.date()
    if _collects_today(loc, local, holidays):
        return day
    for _ in range(3660):
        day += timedelta(days=1)
        if _cutoff(loc, day, holidays) is not None:
            return day
    raise ValueError(f"location {loc.id} never ships")  # unreachable: calendars name a day


def _delivered(shipped: date, transit: int, holidays: Collection[date]) -> date:
    """Transit in working days; delivery itself only on a working day."""
    day = add_working_days(shipped, transit, holidays)
    while not is_working_day(day, holidays):
        day += timedelta(days=1)
    return day


def _destination(problem: RoutingProblem) -> tuple[float, float, str, str]:
    if problem.pickup_store_id is not None:
        store = next(x for x in problem.locations if x.id == problem.pickup_store_id)
        return store.latitude, store.longitude, store.postcode, store.city
    d = problem.destination
    return d.latitude, d.longitude, d.postcode, d.city


def _quantities(problem: RoutingProblem, plan: RoutingPlan) -> list[str]:
    """Each line is shipped plus uncovered exactly its ordered quantity, nothing else appears."""
    out: list[str] = []
    lines = {x.line_id: x for x in problem.lines}
    shipped: Counter[str] = Counter()
    for s in plan.shipments:
        for pl in s.lines:
            shipped[pl.line_id] += pl.quantity
    uncovered: Counter[str] = Counter()
    for pl in plan.uncovered:
        uncovered[pl.line_id] += pl.quantity
    for pl in [p for s in plan.shipments for p in s.lines] + list(plan.uncovered):
        if pl.line_id not in lines:
            out.append(f"unknown line {pl.line_id}")
        elif pl.sku != lines[pl.line_id].sku:
            ordered = lines[pl.line_id].sku
            out.append(f"line {pl.line_id}: sku {pl.sku} is not the ordered {ordered}")
        if pl.quantity <= 0:
            out.append(f"line {pl.line_id}: non-positive quantity {pl.quantity}")
    for lid, line in lines.items():
        if shipped[lid] + uncovered[lid] != line.quantity:
            out.append(
                f"line {lid}: shipped {shipped[lid]} + uncovered {uncovered[lid]}"
                f" != ordered {line.quantity}"
            )
    profile = problem.profile or default_profile()
    if not profile.allow_line_split:
        for lid in lines:
            sources = sum(1 for s in plan.shipments for pl in s.lines if pl.line_id == lid)
            if sources > 1:
                out.append(f"line {lid}: split over {sources} shipments but splits are off")
    return out


def _shipment(
    problem: RoutingProblem, loc: CandidateLocation, s_index: int, plan: RoutingPlan
) -> list[str]:
    """Rules of one shipment: who may ship, what, with which carrier, when and at what price."""
    s = plan.shipments[s_index]
    out: list[str] = []
    where = f"shipment from {loc.id}"
    lines = {x.line_id: x for x in problem.lines}
    planned = [pl for pl in s.lines if pl.line_id in lines]
    lat, lon, postcode, city = _destination(problem)
    dist = haversine_km(loc.latitude, loc.longitude, lat, lon)
    local = local_time(problem.order_time, problem.timezone)
    holidays = problem.holidays
    units = sum(pl.quantity for pl in planned)
    weight_g = sum(tariffs.grams(lines[pl.line_id].weight_kg) * pl.quantity for pl in planned)
    bulky = any(lines[pl.line_id].bulky for pl in planned)
    hazardous = any(lines[pl.line_id].hazardous for pl in planned)
    if not s.lines:
        out.append(f"{where}: empty shipment")
    if s.carrier == PICKUP_CARRIER:
        if loc.id != problem.pickup_store_id:
            out.append(f"{where}: only the pickup store may hand over without a carrier")
        ready = _first_collection(loc, local, holidays)
        if (s.ship_date, s.promised_delivery) != (ready, ready):
            out.append(f"{where}: pickup should be ready on {ready}")
        if s.cost_cents != 0:
            out.append(f"{where}: pickup from the shelf costs nothing, not {s.cost_cents}")
        return out
    if loc.id == problem.pickup_store_id:
        out.append(f"{where}: the pickup store does not ship to itself")
    if not loc.ships_to_customers:
        out.append(f"{where}: location does not ship to customers")
    carrier = next((c for c in problem.carriers if c.name == s.carrier), None)
    if carrier is None:
        return [*out, f"{where}: unknown carrier {s.carrier}"]
    if problem.speed not in carrier.speeds:
        out.append(f"{where}: carrier {carrier.name} has no {problem.speed} service")
    if hazardous and not loc.hazardous_certified:
        out.append(f"{where}: hazardous goods from an uncertified location")
    if hazardous and not carrier.hazardous_allowed:
        out.append(f"{where}: carrier {carrier.name} does not take hazardous goods")
    if bulky and not carrier.bulky_allowed:
        out.append(f"{where}: carrier {carrier.name} does not take bulky goods")
    if bulky and carrier.bulky_max_km is not None and dist > carrier.bulky_max_km:
        out.append(f"{where}: bulky goods over {dist:.0f} km > {carrier.bulky_max_km} km")
    if problem.speed == "same_day":
        same_town = bool(city.strip()) and loc.city.strip().casefold() == city.strip().casefold()
        if loc.kind != "store" or not same_town:
            out.append(f"{where}: same-day only from a store in the customer's town")
        if not is_working_day(local.date(), holidays) or not _collects_today(loc, local, holidays):
            out.append(f"{where}: same-day ordered after the store's cut-off or on a rest day")
        if dist > carrier.same_day_max_km:
            out.append(f"{where}: same-day over {dist:.0f} km")
        expected_ship = local.date()
    else:
        expected_ship = _first_collection(loc, local, holidays)
    if s.ship_date != expected_ship:
        out.append(f"{where}: ship date {s.ship_date}, cut-off rules give {expected_ship}")
    transit = tariffs.transit_days(carrier, loc.postcode, postcode, dist, problem.speed)
    promised = _delivered(expected_ship, transit, holidays)
    if s.promised_delivery != promised:
        out.append(f"{where}: promised {s.promised_delivery}, carrier transit gives {promised}")
    price = tariffs.parcel_cost_cents(carrier, weight_g, problem.speed, bulky)
    if s.cost_cents != price:
        out.append(f"{where}: cost {s.cost_cents}, tariff gives {price}")
    if units and s.transfer_to != problem.pickup_store_id:
        out.append(f"{where}: transfer_to {s.transfer_to}, expected {problem.pickup_store_id}")
    return out


def violations(problem: RoutingProblem, plan: RoutingPlan) -> list[str]:
    """Every broken hard rule of the plan, as readable sentences; empty means valid."""
    out = _quantities(problem, plan)
    if plan.order_id != problem.order_id:
        out.append(f"plan is for order {plan.order_id}, not {problem.order_id}")
    locations = {x.id: x for x in problem.locations}
    lines = {x.line_id: x for x in problem.lines}
    seen: Counter[str] = Counter(s.location_id for s in plan.shipments)
    out += [
        f"location {loc} ships {n} parcels; one per location" for loc, n in seen.items() if n > 1
    ]
    used_stock: dict[tuple[str, str], int] = defaultdict(int)
    used_capacity: dict[str, int] = defaultdict(int)
    for i, s in enumerate(plan.shipments):
        loc = locations.get(s.location_id)
        if loc is None:
            out.append(f"unknown location {s.location_id}")
            continue
        out += _shipment(problem, loc, i, plan)
        for pl in s.lines:
            if pl.line_id in lines:
                used_stock[(loc.id, lines[pl.line_id].sku)] += pl.quantity
                used_capacity[loc.id] += pl.quantity
    for (loc_id, sku), units in sorted(used_stock.items()):
        have = locations[loc_id].stock.get(sku, 0)
        if units > have:
            out.append(f"location {loc_id}: {units} x {sku} planned, only {have} in stock")
    for loc_id, units in sorted(used_capacity.items()):
        cap = locations[loc_id].capacity_left
        if units > cap:
            out.append(f"location {loc_id}: {units} units planned, capacity left {cap}")
    return out
