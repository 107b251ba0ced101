"""Turn an assignment (units of each line per location, a carrier per location) into a plan."""

from __future__ import annotations

from routing.model import PICKUP_CARRIER, PlannedLine, PlannedShipment, RoutingPlan
from routing.objective import objective_spec, plan_criteria
from routing.options import Context

Assignment = dict[str, dict[str, int]]
"""location id -> line id -> units shipped from there."""


def build_plan(
    ctx: Context,
    assignment: Assignment,
    carrier_of: dict[str, str],
    strategy: str,
    optimal: bool = False,
    solve_ms: float = 0.0,
) -> RoutingPlan:
    """Price and date every shipment, list what is left uncovered, and score the result."""
    shipments: list[PlannedShipment] = []
    served: dict[str, int] = {}
    for loc_id in sorted(assignment):
        units = {lid: q for lid, q in assignment[loc_id].items() if q > 0}
        if not units:
            continue
        carrier = carrier_of[loc_id]
        option = ctx.options[loc_id][carrier]
        weight_g = sum(ctx.line_weight_g(lid) * q for lid, q in units.items())
        bulky = any(ctx.lines[lid].bulky for lid in units)
        lines = [
            PlannedLine(line_id=line.line_id, sku=line.sku, quantity=units[line.line_id])
            for line in ctx.problem.lines
            if line.line_id in units
        ]
        for lid, q in units.items():
            served[lid] = served.get(lid, 0) + q
        shipments.append(
            PlannedShipment(
                location_id=loc_id,
                lines=lines,
                carrier=carrier,
                ship_date=option.ship_date,
                promised_delivery=option.promised,
                cost_cents=ctx.parcel_cost(loc_id, carrier, weight_g, bulky),
                transfer_to=(
                    ctx.pickup_id
                    if ctx.pickup_id is not None and carrier != PICKUP_CARRIER
                    else None
                ),
                distance_km=round(ctx.distance[loc_id], 3),
                weight_kg=weight_g / 1000,
            )
        )
    uncovered = [
        PlannedLine(
            line_id=line.line_id, sku=line.sku, quantity=line.quantity - served.get(line.line_id, 0)
        )
        for line in ctx.problem.lines
        if line.quantity > served.get(line.line_id, 0)
    ]
    plan = RoutingPlan(
        order_id=ctx.problem.order_id,
        shipments=shipments,
        uncovered=uncovered,
        objective=0.0,
        optimal=optimal,
        strategy=strategy,
        solve_ms=solve_ms,
    )
    criteria = plan_criteria(ctx, plan)
    plan.criteria = criteria
    plan.objective = float(objective_spec(ctx).value(criteria))
    return plan
