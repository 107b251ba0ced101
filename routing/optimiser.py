"""The CP-SAT optimiser: exact routing under every hard rule, best plan found within a time limit.

Decision variables: units of each line per location (`q`), whether a line uses a location
(`x`), whether a location ships (`used`), its carrier (`z`) and the carrier's weight band
(`band`). The objective is the folded tier objective of `objective.py`, so the solver's value
and `score()` of the returned plan coincide. The best greedy plan is given as a complete hint
and its value as an upper bound, so the optimiser is never worse than the baselines.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from routing import carriers as tariffs
from routing.assemble import Assignment, build_plan
from routing.greedy import GREEDY, run_greedy, single_location_covers
from routing.model import PICKUP_CARRIER, RoutingPlan
from routing.objective import TRANSFER_UNITS, UNCOVERED, ObjectiveSpec, objective_spec
from routing.options import Context

SEED = 20240611
"""Fixed random seed: with one search worker the search, and so the plan, is reproducible."""

TUNING: dict[str, object] = {}
"""Extra CP-SAT parameters, found by running bench/routing.py on the German network."""


@dataclass
class _Vars:
    """Handles to the CP-SAT variables, keyed like the context's rule tables."""

    q: dict[tuple[str, str], cp_model.IntVar] = field(default_factory=dict)
    x: dict[tuple[str, str], cp_model.IntVar] = field(default_factory=dict)
    used: dict[str, cp_model.IntVar] = field(default_factory=dict)
    z: dict[tuple[str, str], cp_model.IntVar] = field(default_factory=dict)
    band: dict[tuple[str, str, int], cp_model.IntVar] = field(default_factory=dict)
    bulky: dict[str, cp_model.IntVar] = field(default_factory=dict)
    bulky_fee: dict[tuple[str, str], cp_model.IntVar] = field(default_factory=dict)
    days: cp_model.IntVar | None = None


def _unit_bound(ctx: Context, line_id: str, loc: str) -> int:
    line, location = ctx.lines[line_id], ctx.locations[loc]
    return min(line.quantity, location.stock.get(line.sku, 0), location.capacity_left)


class _Builder:
    """Builds the CP-SAT model of one routing problem."""

    def __init__(self, ctx: Context, spec: ObjectiveSpec) -> None:
        self.ctx, self.spec = ctx, spec
        self.model = cp_model.CpModel()
        self.v = _Vars()
        self.pairs = sorted(p for p in ctx.allowed if _unit_bound(ctx, *p) > 0)
        self.locations = sorted({loc for (_, loc) in self.pairs})
        self.expr: dict[str, cp_model.LinearExprT] = {}

    def build(self) -> cp_model.LinearExprT:
        """Create variables and constraints; return the objective expression."""
        self._assignment()
        self._locations_and_carriers()
        return self._objective()

    def _assignment(self) -> None:
        """Units per line and location: stock, capacity, coverage, optional no-split."""
        m, v, ctx = self.model, self.v, self.ctx
        for lid, loc in self.pairs:
            ub = _unit_bound(ctx, lid, loc)
            x = m.new_bool_var(f"x[{lid},{loc}]")
            v.x[(lid, loc)] = x
            if ub == 1:
                v.q[(lid, loc)] = x
            else:
                q = m.new_int_var(0, ub, f"q[{lid},{loc}]")
                m.add(q <= ub * x)
                m.add(q >= x)
                v.q[(lid, loc)] = q
        by_line: dict[str, list[str]] = defaultdict(list)
        by_loc: dict[str, list[str]] = defaultdict(list)
        for lid, loc in self.pairs:
            by_line[lid].append(loc)
            by_loc[loc].append(lid)
        for lid, locs in by_line.items():
            m.add(sum(v.q[(lid, loc)] for loc in locs) <= ctx.lines[lid].quantity)
            if not ctx.profile.allow_line_split:
                m.add(sum(v.x[(lid, loc)] for loc in locs) <= 1)
        for loc, lids in by_loc.items():
            location = ctx.locations[loc]
            by_sku: dict[str, list[str]] = defaultdict(list)
            for lid in lids:
                by_sku[ctx.lines[lid].sku].append(lid)
            for sku, same in by_sku.items():
                if len(same) > 1:
                    m.add(sum(v.q[(lid, loc)] for lid in same) <= location.stock[sku])
            if sum(_unit_bound(ctx, lid, loc) for lid in lids) > location.capacity_left:
                m.add(sum(v.q[(lid, loc)] for lid in lids) <= location.capacity_left)

    def _locations_and_carriers(self) -> None:
        """One parcel per used location, one carrier per parcel, fitting every line in it."""
        m, v, ctx = self.model, self.v, self.ctx
        need_cost = self.spec.coefficient("cost") > 0
        for loc in self.locations:
            lids = [lid for (lid, l2) in self.pairs if l2 == loc]
            used = m.new_bool_var(f"used[{loc}]")
            v.used[loc] = used
            for lid in lids:
                m.add_implication(v.x[(lid, loc)], used)
            m.add(used <= sum(v.x[(lid, loc)] for lid in lids))
            names = sorted(ctx.options[loc])
            if len(names) == 1:
                v.z[(loc, names[0])] = used
            else:
                for name in names:
                    v.z[(loc, name)] = m.new_bool_var(f"z[{loc},{name}]")
                m.add(sum(v.z[(loc, n)] for n in names) == used)
            for lid in lids:
                for name in names:
                    if name not in ctx.allowed[(lid, loc)]:
                        m.add_implication(v.x[(lid, loc)], v.z[(loc, name)].Not())
            if need_cost:
                self._cost_terms(loc, lids, names)

    def _cost_terms(self, loc: str, lids: list[str], names: list[str]) -> None:
        """Weight bands and bulky surcharge of the parcel a location sends."""
        m, v, ctx = self.model, self.v, self.ctx
        weight = sum(ctx.line_weight_g(lid) * v.q[(lid, loc)] for lid in lids)
        max_weight = sum(ctx.line_weight_g(lid) * _unit_bound(ctx, lid, loc) for lid in lids)
        bulky_lids = [lid for lid in lids if ctx.lines[lid].bulky]
        if bulky_lids:
            b = m.new_bool_var(f"bulky[{loc}]")
            v.bulky[loc] = b
            for lid in bulky_lids:
                m.add_implication(v.x[(lid, loc)], b)
            m.add(b <= sum(v.x[(lid, loc)] for lid in bulky_lids))
        for name in names:
            if name == PICKUP_CARRIER:
                continue
            carrier = ctx.carriers[name]
            limits = tariffs.band_limits_g(carrier)
            reach = [0] + [
                k for k in range(1, len(limits))
                if limits[k - 1] is not None and max_weight > limits[k - 1]  # type: ignore[operator]
            ]
            z = v.z[(loc, name)]
            if len(reach) == 1:
                v.band[(loc, name, 0)] = z
            else:
                for k in reach:
                    y = m.new_bool_var(f"band[{loc},{name},{k}]")
                    v.band[(loc, name, k)] = y
                    if limits[k] is not None:
                        m.add(weight <= limits[k]).only_enforce_if(y)
                    if k > 0:
                        m.add(weight >= limits[k - 1] + 1).only_enforce_if(y)  # type: ignore[operator]
                m.add(sum(v.band[(loc, name, k)] for k in reach) == z)
            if bulky_lids and carrier.bulky_surcharge_cents > 0:
                fee = m.new_bool_var(f"bulky_fee[{loc},{name}]")
                v.bulky_fee[(loc, name)] = fee
                m.add_bool_or([z.Not(), v.bulky[loc].Not(), fee])
                m.add_implication(fee, z)
                m.add_implication(fee, v.bulky[loc])

    def _objective(self) -> cp_model.LinearExprT:
        """The folded tier objective, criterion by criterion as in `objective.plan_criteria`."""
        m, v, ctx, spec = self.model, self.v, self.ctx, self.spec
        coef = spec.coefficient
        expr = self.expr
        expr[UNCOVERED] = ctx.total_units - sum(v.q.values())
        if ctx.pickup_id is not None:
            expr[TRANSFER_UNITS] = sum(
                q for (_, loc), q in v.q.items() if loc != ctx.pickup_id
            )
        expr["parcels"] = sum(v.used.values())
        if coef("delivery_days"):
            days = m.new_int_var(0, spec.bounds["delivery_days"], "delivery_days")
            v.days = days
            for (loc, name), z in v.z.items():
                option_days = ctx.options[loc][name].days
                if option_days > 0:
                    m.add(days >= option_days * z)
            expr["delivery_days"] = days
        if coef("cost"):
            cost: list[cp_model.LinearExprT] = []
            for (_, name, k), y in v.band.items():
                if name == PICKUP_CARRIER:
                    continue
                carrier = ctx.carriers[name]
                fixed = tariffs.surcharge_cents(carrier, ctx.problem.speed, bulky=False)
                cost.append((carrier.weight_bands[k].cost_cents + fixed) * y)
            for (_, name), fee in v.bulky_fee.items():
                cost.append(ctx.carriers[name].bulky_surcharge_cents * fee)
            expr["cost"] = sum(cost)
        if coef("backlog"):
            expr["backlog"] = sum(
                ctx.excess_backlog[loc] * q for (_, loc), q in v.q.items()
                if ctx.excess_backlog[loc]
            )
        return sum(coef(c) * e for c, e in expr.items() if coef(c))

    def tier_expr(self, tier: list[tuple[str, int]]) -> cp_model.LinearExprT:
        """Weighted value of one tier (criteria without a variable contribute nothing)."""
        return sum(w * self.expr[c] for c, w in tier if c in self.expr)

    def greedy_cuts(self, greedy: RoutingPlan, single_location_covers: bool) -> None:
        """Exact cuts from the lexicographic order and what the greedy plan already achieves.

        If the greedy plan covers everything, so does every optimum: each line is fully
        covered, and the next tier can be no worse than the greedy one. If moreover no
        single location can serve the whole order, at least two parcels are needed.
        """
        m, v, ctx = self.model, self.v, self.ctx
        if greedy.criteria.get(UNCOVERED, 1) != 0:
            return
        for line in ctx.problem.lines:
            qs = [q for (lid, _), q in v.q.items() if lid == line.line_id]
            m.add(sum(qs) == line.quantity)
        tiers = self.spec.tiers
        if len(tiers) > 1:
            greedy_value = sum(w * greedy.criteria[c] for c, w in tiers[1])
            m.add(self.tier_expr(tiers[1]) <= greedy_value)
        if ctx.pickup_id is None and not single_location_covers:
            m.add(sum(v.used.values()) >= 2)

    def hint(self, assignment: Assignment, carrier_of: dict[str, str]) -> None:
        """Give a complete feasible solution (a greedy plan) as the search's starting point."""
        m, v, ctx = self.model, self.v, self.ctx
        hinted: set[int] = set()

        def put(var: cp_model.IntVar, value: int) -> None:
            if var.Index() not in hinted:
                hinted.add(var.Index())
                m.add_hint(var, value)

        for (lid, loc), q in v.q.items():
            units = assignment.get(loc, {}).get(lid, 0)
            put(q, units)
            put(v.x[(lid, loc)], int(units > 0))
        for loc, used in v.used.items():
            put(used, int(loc in carrier_of))
        for (loc, name), z in v.z.items():
            put(z, int(carrier_of.get(loc) == name))
        weights: dict[str, int] = {
            loc: sum(ctx.line_weight_g(lid) * q for lid, q in units.items())
            for loc, units in assignment.items()
        }
        for (loc, name, k), y in v.band.items():
            chosen = carrier_of.get(loc) == name and name != PICKUP_CARRIER
            band = tariffs.band_index(ctx.carriers[name], weights.get(loc, 0)) if chosen else -1
            put(y, int(chosen and band == k))
        for loc, b in v.bulky.items():
            put(b, int(any(ctx.lines[lid].bulky for lid, q in assignment.get(loc, {}).items()
                           if q > 0)))
        for (loc, name), fee in v.bulky_fee.items():
            has_bulky = any(ctx.lines[lid].bulky for lid, q in assignment.get(loc, {}).items()
                            if q > 0)
            put(fee, int(carrier_of.get(loc) == name and has_bulky))
        if v.days is not None:
            put(v.days, max((ctx.options[loc][name].days for loc, name in carrier_of.items()),
                            default=0))


def best_greedy(ctx: Context) -> RoutingPlan:
    """The best baseline plan by objective (ties: the order of GREEDY)."""
    plans = [run_greedy(ctx, name) for name in GREEDY]
    return min(plans, key=lambda p: p.objective)


def _assignment_of(plan: RoutingPlan) -> tuple[Assignment, dict[str, str]]:
    assignment = {s.location_id: {pl.line_id: pl.quantity for pl in s.lines}
                  for s in plan.shipments}
    return assignment, {s.location_id: s.carrier for s in plan.shipments}


def optimise(ctx: Context, time_limit_s: float = 0.5) -> RoutingPlan:
    """Solve with CP-SAT; fall back to the best greedy plan if the solver brings nothing better."""
    return optimise_detailed(ctx, time_limit_s)[0]


def optimise_detailed(
    ctx: Context, time_limit_s: float = 0.5, bound_by_greedy: bool = True
) -> tuple[RoutingPlan, float | None]:
    """The optimiser's plan and the solver's own objective value (None when it fell back).

    `bound_by_greedy=False` drops the greedy bound and hint, so tests can check that the model
    alone finds the same optimum and accepts the greedy plan.
    """
    spec = objective_spec(ctx)
    greedy = best_greedy(ctx)
    builder = _Builder(ctx, spec)
    if not builder.pairs:  # nothing coverable: the all-uncovered plan is trivially optimal
        plan = build_plan(ctx, {}, {}, "optimiser", optimal=True)
        return plan, plan.objective
    objective = builder.build()
    model = builder.model
    if bound_by_greedy:
        model.add(objective <= int(greedy.objective))
        builder.greedy_cuts(greedy, single_location_covers(ctx))
        builder.hint(*_assignment_of(greedy))
    model.minimize(objective)

    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = 1
    params.random_seed = SEED
    params.max_time_in_seconds = max(0.001, time_limit_s)
    params.max_deterministic_time = max(0.001, time_limit_s)
    for key, value in TUNING.items():
        setattr(params, key, value)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        greedy.strategy = "optimiser"
        greedy.note = f"greedy fallback ({solver.status_name(status)})"
        return greedy, None
    v = builder.v
    assignment: Assignment = defaultdict(dict)
    for (lid, loc), q in v.q.items():
        units = solver.value(q)
        if units > 0:
            assignment[loc][lid] = units
    carrier_of = {loc: name for (loc, name), z in v.z.items()
                  if loc in assignment and solver.value(z)}
    plan = build_plan(ctx, dict(assignment), carrier_of, "optimiser",
                      optimal=status == cp_model.OPTIMAL)
    if plan.objective > greedy.objective:  # only possible when a time limit cut the search
        greedy.strategy = "optimiser"
        greedy.note = "greedy plan kept: better than the solver's best within the time limit"
        return greedy, None
    return plan, solver.objective_value
