"""Property tests over random problems: validity, comparability, optimality."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from routing import STRATEGIES, PlannedLine, RoutingPlan, RoutingProblem, score, solve, violations
from routing.assemble import build_plan
from routing.carriers import grams
from routing.greedy import GREEDY, choose_carriers
from routing.model import PICKUP_CARRIER, PlannedShipment
from routing.objective import assignment_criteria, plan_criteria
from routing.optimiser import optimise_detailed
from routing.options import build_context
from tests.unit.routing.factories import exhaustive_best, problems

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(problems())
def test_every_strategy_obeys_every_hard_rule(problem: RoutingProblem) -> None:
    for strategy in STRATEGIES:
        plan = solve(problem, strategy)
        assert violations(problem, plan) == [], strategy
        assert plan.strategy == strategy
        assert plan.objective == score(problem, plan)


@FAST
@given(problems())
def test_optimiser_never_worse_than_a_baseline_and_reports_its_score(
    problem: RoutingProblem,
) -> None:
    plan = solve(problem, "optimiser", time_limit_s=5)
    assert plan.optimal
    assert plan.note == ""
    for name in GREEDY:
        assert plan.objective <= solve(problem, name).objective, name


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_lines=3, max_locations=4, max_quantity=2))
def test_optimiser_matches_exhaustive_search_on_small_problems(problem: RoutingProblem) -> None:
    ctx = build_context(problem)
    plan, solver_value = optimise_detailed(ctx, time_limit_s=5)
    assert plan.optimal
    assert plan.objective == exhaustive_best(ctx)
    assert solver_value == plan.objective


@FAST
@given(problems())
def test_model_alone_finds_the_same_optimum_as_with_greedy_help(problem: RoutingProblem) -> None:
    """Guards the greedy bound and cuts: they must never cut off the true optimum, and the
    bare model must accept what the greedy plan does (else the hint would be infeasible)."""
    ctx = build_context(problem)
    helped, helped_value = optimise_detailed(ctx, time_limit_s=5)
    bare, bare_value = optimise_detailed(build_context(problem), time_limit_s=5, use_greedy=False)
    assert helped.optimal and bare.optimal
    assert helped.objective == bare.objective == helped_value == bare_value


@FAST
@given(problems())
def test_fast_criteria_agree_with_plan_criteria(problem: RoutingProblem) -> None:
    ctx = build_context(problem)
    for name, strategy in GREEDY.items():
        assignment = strategy(ctx)
        carriers = choose_carriers(ctx, assignment)
        plan = build_plan(ctx, assignment, carriers, name)
        assert assignment_criteria(ctx, assignment, carriers) == plan_criteria(ctx, plan)


@settings(max_examples=150, deadline=None)
@given(problems(max_lines=2, max_locations=4))
def test_rule_table_agrees_with_the_independent_validator(problem: RoutingProblem) -> None:
    """options.py (used by all strategies) and validate.py derive the rules separately: a
    one-unit parcel of any line from any location by any carrier is valid for one exactly
    when the other allows it."""
    ctx = build_context(problem)
    carriers = [c.name for c in problem.carriers] + [PICKUP_CARRIER]
    for ln in problem.lines:
        for loc in problem.locations:
            if loc.stock.get(ln.sku, 0) <= 0 or loc.capacity_left <= 0:
                continue
            for name in carriers:
                option = ctx.options.get(loc.id, {}).get(name)
                if option is None:
                    assert name not in ctx.allowed.get((ln.line_id, loc.id), frozenset())
                    continue
                others = [
                    PlannedLine(line_id=x.line_id, sku=x.sku, quantity=x.quantity)
                    for x in problem.lines
                    if x.line_id != ln.line_id
                ]
                if ln.quantity > 1:
                    others.append(
                        PlannedLine(line_id=ln.line_id, sku=ln.sku, quantity=ln.quantity - 1)
                    )
                cost = ctx.parcel_cost(loc.id, name, grams(ln.weight_kg), ln.bulky)
                shipment = PlannedShipment(
                    location_id=loc.id,
                    carrier=name,
                    ship_date=option.ship_date,
                    promised_delivery=option.promised,
                    cost_cents=cost,
                    lines=[PlannedLine(line_id=ln.line_id, sku=ln.sku, quantity=1)],
                    transfer_to=problem.pickup_store_id if name != PICKUP_CARRIER else None,
                )
                plan = RoutingPlan(
                    order_id=problem.order_id,
                    shipments=[shipment],
                    uncovered=others,
                    objective=0,
                    optimal=False,
                    strategy="probe",
                    solve_ms=0,
                )
                allowed = name in ctx.allowed.get((ln.line_id, loc.id), frozenset())
                assert (violations(problem, plan) == []) == allowed, (ln, loc.id, name)
