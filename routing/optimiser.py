"""The CP-SAT optimiser: exact routing under every hard rule, best plan found within a time limit.

The best greedy plan is the starting point: a complete hint, an upper bound on the objective
and the source of exact cuts. So the optimiser is never worse than the baselines, and falls
back to that plan if the solver fails.
"""

from __future__ import annotations

from collections import defaultdict

from ortools.sat.python import cp_model

from routing.assemble import Assignment, build_plan
from routing.cpsat_model import RoutingModel
from routing.greedy import GREEDY, run_greedy, single_location_covers
from routing.model import RoutingPlan
from routing.objective import objective_spec
from routing.options import Context

SEED = 20240611
"""Fixed random seed: with one search worker the search, and so the plan, is reproducible."""

TUNING: dict[str, object] = {
    "max_presolve_iterations": 1,
    "cp_model_probing_level": 0,
    "symmetry_level": 0,
    "add_lp_constraints_lazily": False,
}
"""CP-SAT parameters found by running bench/routing.py: these models are small, so a long
presolve costs more than it saves, and the full LP from the start pays off on big orders."""

DETERMINISTIC_SHARE = 0.5
"""The search stops after this share of the time limit in CP-SAT's deterministic time (a
measure of work done, not of the clock), so the same input stops at the same point and gives
the same plan. Deterministic time runs slower than the clock here, so the wall-clock limit only
cuts in first on a heavily loaded machine."""


def best_greedy(ctx: Context) -> RoutingPlan:
    """The best baseline plan by objective (ties: the order of GREEDY)."""
    spec = objective_spec(ctx)
    plans = [run_greedy(ctx, name) for name in GREEDY]
    return min(plans, key=lambda p: spec.value(p.criteria))


def _assignment_of(plan: RoutingPlan) -> tuple[Assignment, dict[str, str]]:
    assignment = {
        s.location_id: {pl.line_id: pl.quantity for pl in s.lines} for s in plan.shipments
    }
    return assignment, {s.location_id: s.carrier for s in plan.shipments}


def _solver(time_limit_s: float) -> cp_model.CpSolver:
    """One worker and a fixed seed for reproducible plans; a deterministic-time limit so the
    same input stops at the same point; the wall-clock limit as the hard guarantee."""
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = 1
    params.random_seed = SEED
    params.max_time_in_seconds = max(0.001, time_limit_s)
    params.max_deterministic_time = max(0.001, time_limit_s * DETERMINISTIC_SHARE)
    for key, value in TUNING.items():
        setattr(params, key, value)
    return solver


def optimise(ctx: Context, time_limit_s: float = 0.5) -> RoutingPlan:
    """Solve with CP-SAT; fall back to the best greedy plan if the solver brings nothing better."""
    return optimise_detailed(ctx, time_limit_s)[0]


def optimise_detailed(
    ctx: Context, time_limit_s: float = 0.5, use_greedy: bool = True
) -> tuple[RoutingPlan, float | None]:
    """The optimiser's plan and the solver's own objective value (None when it fell back).

    `use_greedy=False` drops the greedy bound, cuts and hint, so tests can check that the
    model alone reaches the same optimum.
    """
    spec = objective_spec(ctx)
    greedy = best_greedy(ctx)
    builder = RoutingModel(ctx, spec)
    if not builder.pairs:  # nothing coverable: the all-uncovered plan is trivially optimal
        plan = build_plan(ctx, {}, {}, "optimiser", optimal=True)
        return plan, plan.objective
    objective = builder.build()
    model = builder.model
    if use_greedy:
        model.add(objective <= spec.value(greedy.criteria))
        builder.greedy_cuts(greedy, single_location_covers(ctx))
        builder.hint(*_assignment_of(greedy))
    model.minimize(objective)
    solver = _solver(time_limit_s)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        greedy.strategy = "optimiser"
        greedy.note = f"greedy fallback (solver: {solver.status_name(status)})"
        return greedy, None
    v = builder.v
    assignment: Assignment = defaultdict(dict)
    for (lid, loc), q in v.q.items():
        units = solver.value(q)
        if units > 0:
            assignment[loc][lid] = units
    carrier_of = {
        loc: name for (loc, name), z in v.z.items() if loc in assignment and solver.value(z)
    }
    plan = build_plan(
        ctx, dict(assignment), carrier_of, "optimiser", optimal=status == cp_model.OPTIMAL
    )
    if spec.value(plan.criteria) > spec.value(greedy.criteria):  # guard; the bound prevents it
        greedy.strategy = "optimiser"
        greedy.note = "greedy plan kept: better than the solver's best within the time limit"
        return greedy, None
    return plan, float(solver.value(objective))
