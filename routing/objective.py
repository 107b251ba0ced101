"""One objective for every strategy: prioritised tiers folded into a single exact integer.

Tiers are made strictly lexicographic by multiplying each with (upper bound of everything below
it + 1). The bounds come from the problem alone, so the optimiser and `score` agree exactly.
Covering the order comes first; with click & collect the pickup store's own stock comes next,
then the cheapest transfers; then the rule profile's tiers.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.carriers import surcharge_cents
from routing.model import PICKUP_CARRIER, RoutingPlan, RoutingProblem
from routing.options import Context, build_context

UNCOVERED = "uncovered"
TRANSFER_UNITS = "transfer_units"


@dataclass(frozen=True)
class ObjectiveSpec:
    """Weighted tiers, their multipliers and the per-criterion upper bounds they rest on."""

    tiers: list[list[tuple[str, int]]]
    multipliers: list[int]
    bounds: dict[str, int]

    def coefficient(self, criterion: str) -> int:
        """Factor of one unit of a criterion in the folded objective (0 if not used)."""
        for tier, mult in zip(self.tiers, self.multipliers, strict=True):
            for crit, weight in tier:
                if crit == criterion:
                    return weight * mult
        return 0

    def value(self, criteria: dict[str, int]) -> int:
        """The folded objective of a plan's criterion values."""
        return sum(self.coefficient(c) * v for c, v in criteria.items())


def effective_tiers(ctx: Context) -> list[list[tuple[str, int]]]:
    """Coverage first; with click & collect, pickup stock then cheapest transfer; then profile."""
    profile = ctx.profile
    tiers: list[list[tuple[str, int]]] = [[(UNCOVERED, 1)]]
    skip: set[str] = set()
    if ctx.pickup_id is not None:
        tiers += [[(TRANSFER_UNITS, 1)], [("cost", 1)]]
        skip.add("cost")
    for tier in profile.priorities:
        kept: list[tuple[str, int]] = [(c, profile.weight(c)) for c in tier if c not in skip]
        if kept:
            tiers.append(kept)
    return tiers


def max_parcel_cost(ctx: Context, location_id: str) -> int:
    """Most any single parcel from this location can cost under the rules of this order."""
    line_ids = [lid for (lid, loc) in ctx.allowed if loc == location_id]
    if not line_ids:
        return 0
    loc = ctx.locations[location_id]
    weight = sum(
        ctx.line_weight_g(lid) * min(ctx.lines[lid].quantity, loc.stock.get(ctx.lines[lid].sku, 0))
        for lid in line_ids
    )
    bulky = any(ctx.lines[lid].bulky for lid in line_ids)
    worst = 0
    for name in ctx.options[location_id]:
        if name == PICKUP_CARRIER:
            continue
        carrier = ctx.carriers[name]
        limits = ctx.limits[name]
        reachable = [carrier.weight_bands[0].cost_cents] + [
            band.cost_cents
            for band, below in zip(carrier.weight_bands[1:], limits[:-1], strict=True)
            if below is not None and weight > below
        ]
        extra = surcharge_cents(carrier, ctx.problem.speed, bulky)
        worst = max(worst, max(reachable) + extra)
    return worst


def criterion_bounds(ctx: Context) -> dict[str, int]:
    """Upper bounds every valid plan of this problem respects, criterion by criterion."""
    usable = sorted({loc for (_, loc) in ctx.allowed})
    units = ctx.total_units
    parcels = min(len(usable), units)
    costs = sorted((max_parcel_cost(ctx, loc) for loc in usable), reverse=True)
    days = max((opt.days for loc in usable for opt in ctx.options[loc].values()), default=0)
    backlog = sum(
        line.quantity
        * max((ctx.excess_backlog[loc] for loc in ctx.locations_for(line.line_id)), default=0)
        for line in ctx.problem.lines
    )
    return {
        UNCOVERED: units,
        TRANSFER_UNITS: units,
        "parcels": parcels,
        "delivery_days": days,
        "cost": sum(costs[:parcels]),
        "backlog": backlog,
    }


def objective_spec(ctx: Context) -> ObjectiveSpec:
    """Fold the tiers: each tier's multiplier exceeds the largest value all lower tiers reach."""
    cached = ctx.cache.get("objective_spec")
    if isinstance(cached, ObjectiveSpec):
        return cached
    spec = _fold(ctx)
    ctx.cache["objective_spec"] = spec
    return spec


def _fold(ctx: Context) -> ObjectiveSpec:
    tiers = effective_tiers(ctx)
    bounds = criterion_bounds(ctx)
    multipliers = [1] * len(tiers)
    for t in range(len(tiers) - 2, -1, -1):
        below = sum(w * bounds[c] for c, w in tiers[t + 1])
        multipliers[t] = multipliers[t + 1] * (below + 1)
    return ObjectiveSpec(tiers=tiers, multipliers=multipliers, bounds=bounds)


def plan_criteria(ctx: Context, plan: RoutingPlan) -> dict[str, int]:
    """Raw criterion values of a plan, computed from the plan alone (not from the strategy)."""
    transfer = 0
    backlog = 0
    for shipment in plan.shipments:
        units = sum(x.quantity for x in shipment.lines)
        if shipment.location_id != ctx.pickup_id:
            transfer += units
        backlog += units * ctx.excess_backlog.get(shipment.location_id, 0)
    days = max(((s.promised_delivery - ctx.order_date).days for s in plan.shipments), default=0)
    return {
        UNCOVERED: sum(x.quantity for x in plan.uncovered),
        TRANSFER_UNITS: transfer if ctx.pickup_id is not None else 0,
        "parcels": len(plan.shipments),
        "delivery_days": days,
        "cost": sum(s.cost_cents for s in plan.shipments),
        "backlog": backlog,
    }


def assignment_criteria(
    ctx: Context, assignment: dict[str, dict[str, int]], carrier_of: dict[str, str]
) -> dict[str, int]:
    """Criterion values of an assignment before it is turned into a plan (same numbers as
    `plan_criteria` of the plan `assemble.build_plan` would make, only faster)."""
    parcels = transfer = backlog = cost = days = 0
    served: dict[str, int] = {}
    for loc, units in assignment.items():
        total = sum(q for q in units.values() if q > 0)
        if total == 0:
            continue
        parcels += 1
        carrier = carrier_of[loc]
        weight = sum(ctx.line_weight_g(lid) * q for lid, q in units.items() if q > 0)
        bulky = any(ctx.lines[lid].bulky for lid, q in units.items() if q > 0)
        cost += ctx.parcel_cost(loc, carrier, weight, bulky)
        days = max(days, ctx.options[loc][carrier].days)
        backlog += total * ctx.excess_backlog.get(loc, 0)
        if loc != ctx.pickup_id:
            transfer += total
        for lid, q in units.items():
            served[lid] = served.get(lid, 0) + max(0, q)
    uncovered = sum(max(0, x.quantity - served.get(x.line_id, 0)) for x in ctx.problem.lines)
    return {
        UNCOVERED: uncovered,
        TRANSFER_UNITS: transfer if ctx.pickup_id is not None else 0,
        "parcels": parcels,
        "delivery_days": days,
        "cost": cost,
        "backlog": backlog,
    }


def score_context(ctx: Context, plan: RoutingPlan) -> int:
    """Exact integer objective of a plan (lower is better)."""
    return objective_spec(ctx).value(plan_criteria(ctx, plan))


def score(problem: RoutingProblem, plan: RoutingPlan) -> float:
    """The objective of any plan, optimiser or baseline, so that plans are comparable.

    Exact as long as it stays below 2**53; `exact_score` gives the integer itself.
    """
    return float(score_context(build_context(problem), plan))


def exact_score(problem: RoutingProblem, plan: RoutingPlan) -> int:
    """The objective as an exact integer, for comparisons that must never round."""
    return score_context(build_context(problem), plan)
