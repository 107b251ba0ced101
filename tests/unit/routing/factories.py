"""Builders and hypothesis strategies for routing problems, plus an exhaustive reference solver."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from routing import (
    CandidateLocation,
    Carrier,
    Destination,
    DistanceBand,
    OrderLine,
    RoutingProblem,
    RuleProfile,
    WeightBand,
)
from routing.objective import assignment_criteria, objective_spec
from routing.options import Context

BERLIN = ZoneInfo("Europe/Berlin")
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=BERLIN)

# (postcode, city, latitude, longitude): real places from shared/data/de-postcodes.csv
PLACES = [
    ("10115", "Berlin", 52.53214, 13.38468),
    ("10969", "Berlin", 52.5025, 13.40112),
    ("14974", "Ludwigsfelde", 52.29144, 13.26351),
    ("20095", "Hamburg", 53.55139, 10.00034),
    ("04109", "Leipzig", 51.33857, 12.36511),
    ("36251", "Ludwigsau", 50.90665, 9.69122),
    ("80331", "München", 48.13596, 11.57293),
    ("50667", "Köln", 50.9405, 6.94405),
]


def place(index: int) -> tuple[str, str, float, float]:
    """A real postcode by index into PLACES."""
    return PLACES[index % len(PLACES)]


def customer(index: int = 0) -> Destination:
    """A destination at one of the PLACES."""
    postcode, city, lat, lon = place(index)
    return Destination(postcode=postcode, city=city, latitude=lat, longitude=lon)


def location(
    loc_id: str, where: int = 0, kind: str = "warehouse", **fields: object
) -> CandidateLocation:
    """A location at one of the PLACES; stock, capacity and flags as given."""
    postcode, city, lat, lon = place(where)
    base: dict[str, object] = {
        "id": loc_id,
        "kind": kind,
        "postcode": postcode,
        "city": city,
        "latitude": lat,
        "longitude": lon,
        "capacity_left": 100,
    }
    return CandidateLocation.model_validate(base | fields)


def problem(
    lines: list[OrderLine], locations: list[CandidateLocation], **fields: object
) -> RoutingProblem:
    """A problem to the Berlin customer on a Tuesday morning unless told otherwise."""
    base: dict[str, object] = {
        "order_id": "T1",
        "lines": lines,
        "destination": customer(0),
        "order_time": TUESDAY_10,
        "locations": locations,
    }
    return RoutingProblem.model_validate(base | fields)


def line(line_id: str, sku: str, quantity: int = 1, **fields: object) -> OrderLine:
    """An order line."""
    return OrderLine.model_validate({"line_id": line_id, "sku": sku, "quantity": quantity} | fields)


PROFILES = [
    None,
    RuleProfile(name="premium", priorities=[["delivery_days"], ["parcels"], ["cost", "backlog"]]),
    RuleProfile(
        name="budget",
        priorities=[["cost", "delivery_days", "parcels"], ["backlog"]],
        weights={"delivery_days": 150, "parcels": 200},
    ),
    RuleProfile(
        name="b2b",
        priorities=[["parcels"], ["backlog", "cost"], ["delivery_days"]],
        weights={"backlog": 2},
        allow_line_split=False,
    ),
    RuleProfile(name="backlog", priorities=[["backlog"], ["cost"]]),
]

SMALL_CARRIERS = [
    Carrier(
        name="fast",
        speeds=["standard", "express"],
        weight_bands=[WeightBand(max_kg=1, cost_cents=600), WeightBand(cost_cents=900)],
        transit_bands=[DistanceBand(max_km=300, days=1), DistanceBand(days=2)],
        bulky_max_km=400,
        bulky_surcharge_cents=500,
        express_surcharge_cents=300,
        hazardous_allowed=False,
    ),
    Carrier(
        name="slow",
        speeds=["standard"],
        weight_bands=[WeightBand(max_kg=2, cost_cents=400), WeightBand(cost_cents=700)],
        transit_bands=[DistanceBand(days=3)],
        region_days={"04": 2, "20-10": 1},
        bulky_allowed=False,
    ),
    Carrier(
        name="city",
        speeds=["same_day"],
        weight_bands=[WeightBand(cost_cents=1000)],
        same_day_max_km=60,
        bulky_max_km=60,
        hazardous_allowed=True,
    ),
]


@st.composite
def problems(
    draw: st.DrawFn, max_lines: int = 4, max_locations: int = 5, max_quantity: int = 3
) -> RoutingProblem:
    """Random small problems over real places, with every rule switch exercised."""
    skus = ["A", "B", "C", "D"]
    n_lines = draw(st.integers(1, max_lines))
    lines = [
        line(
            f"L{i}",
            draw(st.sampled_from(skus)),
            draw(st.integers(1, max_quantity)),
            weight_kg=draw(st.sampled_from([0.3, 0.8, 1.5, 4.0])),
            bulky=draw(st.booleans()) and draw(st.booleans()),
            hazardous=draw(st.booleans()) and draw(st.booleans()),
        )
        for i in range(n_lines)
    ]
    n_locations = draw(st.integers(1, max_locations))
    near = st.sampled_from([0, 0, 1, 1, 2, 3, 4, 5, 6, 7])  # Berlin-heavy, like demand
    locations = []
    for j in range(n_locations):
        kind = draw(st.sampled_from(["warehouse", "store", "store", "vendor"]))
        stock = {s: draw(st.integers(1, 4)) for s in skus if draw(st.integers(0, 4)) > 1}
        locations.append(
            location(
                f"{kind[0].upper()}{j}",
                draw(near),
                kind,
                stock=stock,
                capacity_left=draw(st.sampled_from([0, 1, 2, 3, 5, 8, 8, 8])),
                backlog=draw(st.integers(0, 50)),
                zone=draw(st.sampled_from(["", "N", "S"])),
                ships_to_customers=kind != "store" or draw(st.integers(0, 3)) > 0,
                hazardous_certified=draw(st.booleans()),
                priority=draw(st.integers(1, 5)),
                cutoff_hour=draw(st.sampled_from([12, 16, 20])),
            )
        )
    stores = [x.id for x in locations if x.kind == "store"]
    pickup = draw(st.sampled_from([None, *stores])) if stores and draw(st.booleans()) else None
    speed = draw(st.sampled_from(["standard", "standard", "express", "same_day"]))
    when = TUESDAY_10 + timedelta(
        days=draw(st.sampled_from([0, 0, 1, 3, 4, 5])),
        hours=draw(st.sampled_from([-4, 0, 0, 1, 4, 7, 11])),
    )
    return problem(
        lines,
        locations,
        destination=customer(draw(near)),
        pickup_store_id=pickup,
        speed=speed,
        order_time=when,
        profile=draw(st.sampled_from(PROFILES)),
        carriers=draw(st.sampled_from([None, SMALL_CARRIERS])) or _default(),
    )


def _default() -> list[Carrier]:
    from routing.carriers import default_carriers

    return default_carriers()


def exhaustive_best(ctx: Context) -> int:
    """Best objective over every assignment and carrier choice the rules allow (slow, small)."""
    spec = objective_spec(ctx)
    lines = ctx.problem.lines
    split = ctx.profile.allow_line_split
    choices: list[list[dict[str, int]]] = []
    for ln in lines:
        locs = ctx.locations_for(ln.line_id)
        options: list[dict[str, int]] = [{}]
        for counts in itertools.product(range(ln.quantity + 1), repeat=len(locs)):
            if 0 < sum(counts) <= ln.quantity and (split or sum(c > 0 for c in counts) <= 1):
                options.append({loc: c for loc, c in zip(locs, counts, strict=True) if c})
        choices.append(options)
    best: int | None = None
    for combo in itertools.product(*choices):
        assignment: dict[str, dict[str, int]] = {}
        stock: dict[tuple[str, str], int] = {}
        for ln, per_loc in zip(lines, combo, strict=True):
            for loc, units in per_loc.items():
                assignment.setdefault(loc, {})[ln.line_id] = units
                key = (loc, ln.sku)
                stock[key] = stock.get(key, 0) + units
        if any(units > ctx.locations[loc].stock.get(sku, 0) for (loc, sku), units in stock.items()):
            continue
        if any(sum(u.values()) > ctx.locations[loc].capacity_left for loc, u in assignment.items()):
            continue
        carrier_sets = []
        for loc, units in sorted(assignment.items()):
            names = set(ctx.options[loc])
            for lid in units:
                names &= ctx.allowed[(lid, loc)]
            carrier_sets.append([(loc, n) for n in sorted(names)])
        for pick in itertools.product(*carrier_sets):
            value = spec.value(assignment_criteria(ctx, assignment, dict(pick)))
            best = value if best is None else min(best, value)
    assert best is not None  # the empty assignment is always allowed
    return best
