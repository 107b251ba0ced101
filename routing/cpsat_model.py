"""The CP-SAT model of one routing problem: variables, hard rules, objective terms, hints.

Variables: units of each line per location (`q`), whether a line uses a location (`x`),
whether a location ships (`used`), its carrier (`z`), whether its parcel is heavier than a
weight-band limit (`over`) and the price steps that follow (`step`), bulky surcharges (`fee`).
Each objective criterion is one expression, computed exactly like `objective.plan_criteria`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from routing import carriers as tariffs
from routing.assemble import Assignment
from routing.dominance import beats_for, useful_carriers
from routing.model import PICKUP_CARRIER, RoutingPlan
from routing.objective import TRANSFER_UNITS, UNCOVERED, ObjectiveSpec
from routing.options import Context

Expr = cp_model.LinearExprT


def unit_bound(ctx: Context, line_id: str, loc: str) -> int:
    """Most units of a line a location could send: ordered, in stock, within capacity."""
    line, location = ctx.lines[line_id], ctx.locations[loc]
    return min(line.quantity, location.stock.get(line.sku, 0), location.capacity_left)


def pickup_store_can_give(ctx: Context) -> int:
    """Most units the click & collect store could hand over from its own shelves."""
    if ctx.pickup_id is None or ctx.pickup_id not in ctx.options:
        return 0
    store = ctx.locations[ctx.pickup_id]
    wanted: dict[str, int] = defaultdict(int)
    for line in ctx.problem.lines:
        if (line.line_id, store.id) in ctx.allowed:
            wanted[line.sku] += line.quantity
    units = sum(min(n, store.stock.get(sku, 0)) for sku, n in wanted.items())
    return min(units, store.capacity_left)


@dataclass
class Vars:
    """Handles to the CP-SAT variables, keyed like the context's rule tables."""

    q: dict[tuple[str, str], cp_model.IntVar] = field(default_factory=dict)
    x: dict[tuple[str, str], cp_model.IntVar] = field(default_factory=dict)
    used: dict[str, cp_model.IntVar] = field(default_factory=dict)
    z: dict[tuple[str, str], cp_model.IntVar] = field(default_factory=dict)
    over: dict[tuple[str, int], cp_model.IntVar] = field(default_factory=dict)
    step: dict[tuple[str, str, int], cp_model.IntVar] = field(default_factory=dict)
    bulky: dict[str, cp_model.IntVar] = field(default_factory=dict)
    fee: dict[tuple[str, str], cp_model.IntVar] = field(default_factory=dict)
    days: cp_model.IntVar | None = None


class RoutingModel:
    """Builds the model; `expr` holds each criterion's expression for cuts and the objective."""

    def __init__(self, ctx: Context, spec: ObjectiveSpec) -> None:
        self.ctx, self.spec = ctx, spec
        self.model = cp_model.CpModel()
        self.v = Vars()
        self.expr: dict[str, Expr] = {}
        self.pairs = sorted(p for p in ctx.allowed if unit_bound(ctx, *p) > 0)
        self.lines_at: dict[str, list[str]] = defaultdict(list)
        for lid, loc in self.pairs:
            self.lines_at[loc].append(lid)
        self.carriers_at: dict[str, list[str]] = {}
        self.max_weight: dict[str, int] = {}
        for loc, lids in self.lines_at.items():
            self.max_weight[loc] = sum(ctx.line_weight_g(i) * unit_bound(ctx, i, loc) for i in lids)
            self.carriers_at[loc] = useful_carriers(ctx, loc, lids, self.max_weight[loc])
        self.cost_steps: dict[tuple[str, str, int], int] = {}

    def build(self) -> Expr:
        """Create variables and constraints; return the folded objective."""
        self._assignment()
        for loc in sorted(self.lines_at):
            self._location(loc)
        return self._objective()

    def _assignment(self) -> None:
        """Units per line and location within stock and capacity; at most the ordered amount."""
        m, v, ctx = self.model, self.v, self.ctx
        for lid, loc in self.pairs:
            ub = unit_bound(ctx, lid, loc)
            x = m.new_bool_var(f"x[{lid},{loc}]")
            v.x[(lid, loc)] = x
            if ub == 1:
                v.q[(lid, loc)] = x
                continue
            q = m.new_int_var(0, ub, f"q[{lid},{loc}]")
            m.add(q <= ub * x)
            m.add(q >= x)
            v.q[(lid, loc)] = q
        by_line: dict[str, list[str]] = defaultdict(list)
        for lid, loc in self.pairs:
            by_line[lid].append(loc)
        for lid, locs in by_line.items():
            if sum(unit_bound(ctx, lid, loc) for loc in locs) > ctx.lines[lid].quantity:
                m.add(sum(v.q[(lid, loc)] for loc in locs) <= ctx.lines[lid].quantity)
            if not ctx.profile.allow_line_split and len(locs) > 1:
                m.add_at_most_one(v.x[(lid, loc)] for loc in locs)
        for loc, lids in self.lines_at.items():
            location = ctx.locations[loc]
            by_sku: dict[str, list[str]] = defaultdict(list)
            for lid in lids:
                by_sku[ctx.lines[lid].sku].append(lid)
            for sku, same in by_sku.items():
                if len(same) > 1:
                    m.add(sum(v.q[(lid, loc)] for lid in same) <= location.stock[sku])
            if sum(unit_bound(ctx, lid, loc) for lid in lids) > location.capacity_left:
                m.add(sum(v.q[(lid, loc)] for lid in lids) <= location.capacity_left)

    def _location(self, loc: str) -> None:
        """One parcel per used location, one carrier per parcel that may take all its lines."""
        m, v, ctx = self.model, self.v, self.ctx
        lids = self.lines_at[loc]
        used = m.new_bool_var(f"used[{loc}]")
        v.used[loc] = used
        for lid in lids:
            m.add_implication(v.x[(lid, loc)], used)
        m.add_bool_or([used.Not(), *(v.x[(lid, loc)] for lid in lids)])
        names = self.carriers_at[loc]
        if len(names) == 1:
            v.z[(loc, names[0])] = used
        else:
            for name in names:
                v.z[(loc, name)] = m.new_bool_var(f"z[{loc},{name}]")
            m.add(sum(v.z[(loc, n)] for n in names) == used)
        for lid in lids:
            allowed = ctx.allowed[(lid, loc)]
            banned = [v.z[(loc, n)] for n in names if n not in allowed]
            if len(banned) == len(names):
                m.add(v.x[(lid, loc)] == 0)
            for z in banned:
                m.add_implication(v.x[(lid, loc)], z.Not())
        if self.spec.coefficient("cost") > 0 and names != [PICKUP_CARRIER]:
            self._price(loc, lids, names)

    def _price(self, loc: str, lids: list[str], names: list[str]) -> None:
        """Price of the location's parcel: weight-band steps and the bulky surcharge.

        `over[t]` says the parcel weighs more than t grams; a carrier's band price rises by a
        step at each of its limits the parcel exceeds. Band prices never fall with weight, so
        minimising keeps `over` and `step` exact at the optimum.
        """
        m, v, ctx = self.model, self.v, self.ctx
        max_weight = self.max_weight[loc]
        weight = sum(ctx.line_weight_g(lid) * v.q[(lid, loc)] for lid in lids)
        limits = sorted(
            {
                limit
                for name in names
                for limit in ctx.limits[name]
                if limit is not None and limit < max_weight
            }
        )
        for t in limits:
            over = m.new_bool_var(f"over[{loc},{t}]")
            v.over[(loc, t)] = over
            m.add(weight <= t + (max_weight - t) * over)
        for lower, upper in zip(limits, limits[1:], strict=False):
            m.add_implication(v.over[(loc, upper)], v.over[(loc, lower)])
        for name in names:
            carrier = ctx.carriers[name]
            z = v.z[(loc, name)]
            bands = carrier.weight_bands
            band_limits = ctx.limits[name]
            for k in range(1, len(bands)):
                limit = band_limits[k - 1]
                delta = bands[k].cost_cents - bands[k - 1].cost_cents
                if limit is None or limit >= max_weight or delta == 0:
                    continue
                self.cost_steps[(loc, name, k)] = delta
                if len(names) == 1:
                    v.step[(loc, name, k)] = v.over[(loc, limit)]
                    continue
                step = m.new_bool_var(f"step[{loc},{name},{k}]")
                v.step[(loc, name, k)] = step
                m.add_bool_or([z.Not(), v.over[(loc, limit)].Not(), step])
                m.add_implication(step, z)
        bulky_lids = [lid for lid in lids if ctx.lines[lid].bulky]
        if not bulky_lids:
            return
        b = m.new_bool_var(f"bulky[{loc}]")
        v.bulky[loc] = b
        for lid in bulky_lids:
            m.add_implication(v.x[(lid, loc)], b)
        m.add_bool_or([b.Not(), *(v.x[(lid, loc)] for lid in bulky_lids)])
        for name in names:
            if ctx.carriers[name].bulky_surcharge_cents <= 0:
                continue
            z = v.z[(loc, name)]
            if len(names) == 1:
                v.fee[(loc, name)] = b
                continue
            fee = m.new_bool_var(f"fee[{loc},{name}]")
            v.fee[(loc, name)] = fee
            m.add_bool_or([z.Not(), b.Not(), fee])
            m.add_implication(fee, z)

    def _objective(self) -> Expr:
        """The folded tier objective, criterion by criterion as in `objective.plan_criteria`."""
        m, v, ctx, spec = self.model, self.v, self.ctx, self.spec
        coef, expr = spec.coefficient, self.expr
        expr[UNCOVERED] = ctx.total_units - sum(v.q.values())
        if ctx.pickup_id is not None:
            expr[TRANSFER_UNITS] = sum(q for (_, loc), q in v.q.items() if loc != ctx.pickup_id)
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
            terms: list[Expr] = []
            for (_, name), z in v.z.items():
                if name != PICKUP_CARRIER:
                    carrier = ctx.carriers[name]
                    base = carrier.weight_bands[0].cost_cents + tariffs.surcharge_cents(
                        carrier, ctx.problem.speed, bulky=False
                    )
                    terms.append(base * z)
            terms += [self.cost_steps[key] * s for key, s in v.step.items()]
            terms += [
                ctx.carriers[name].bulky_surcharge_cents * fee for (_, name), fee in v.fee.items()
            ]
            expr["cost"] = sum(terms)
        if coef("backlog"):
            expr["backlog"] = sum(
                ctx.excess_backlog[loc] * q
                for (_, loc), q in v.q.items()
                if ctx.excess_backlog[loc]
            )
        return sum(coef(c) * e for c, e in expr.items() if coef(c))

    def tier_expr(self, tier: list[tuple[str, int]]) -> Expr:
        """Weighted value of one tier (criteria without an expression contribute nothing)."""
        return sum(w * self.expr[c] for c, w in tier if c in self.expr)

    def greedy_cuts(self, greedy: RoutingPlan, single_location_covers: bool) -> None:
        """Exact cuts from the lexicographic order and what the greedy plan already achieves.

        If the greedy plan covers everything, so does every optimum: each line is fully
        covered (so some location serves it) and the next tier is no worse than the greedy
        one's. With click & collect, if the greedy plan takes all the pickup store can give,
        every optimum does. Without, if no single location can serve the whole order, at
        least two parcels are needed.
        """
        m, v, ctx = self.model, self.v, self.ctx
        if greedy.criteria.get(UNCOVERED, 1) != 0:
            return
        for line in ctx.problem.lines:
            lid = line.line_id
            m.add(sum(q for (i, _), q in v.q.items() if i == lid) == line.quantity)
            m.add_bool_or([x for (i, _), x in v.x.items() if i == lid])
        tiers = self.spec.tiers
        if len(tiers) > 1:
            greedy_value = sum(w * greedy.criteria[c] for c, w in tiers[1])
            m.add(self.tier_expr(tiers[1]) <= greedy_value)
        if ctx.pickup_id is not None:
            least = ctx.total_units - pickup_store_can_give(ctx)
            if greedy.criteria[TRANSFER_UNITS] == least:
                m.add(self.expr[TRANSFER_UNITS] == least)
        elif not single_location_covers:
            m.add(sum(v.used.values()) >= 2)

    def hint(self, assignment: Assignment, carrier_of: dict[str, str]) -> None:
        """Give a complete feasible solution (a greedy plan) as the search's starting point."""
        m, v, ctx = self.model, self.v, self.ctx
        done: set[int] = set()

        def put(var: cp_model.IntVar, value: int) -> None:
            if var.Index() not in done:
                done.add(var.Index())
                m.add_hint(var, value)

        # a dominated carrier in the greedy plan is swapped for the one that dominates it
        carrier_of = {
            loc: name if name in self.carriers_at.get(loc, [name]) else self._replacement(loc, name)
            for loc, name in carrier_of.items()
        }
        for (lid, loc), q in v.q.items():
            units = assignment.get(loc, {}).get(lid, 0)
            put(q, units)
            put(v.x[(lid, loc)], int(units > 0))
        for loc, used in v.used.items():
            put(used, int(loc in carrier_of))
        for (loc, name), z in v.z.items():
            put(z, int(carrier_of.get(loc) == name))
        weight = {
            loc: sum(ctx.line_weight_g(lid) * q for lid, q in units.items())
            for loc, units in assignment.items()
        }
        for (loc, t), over in v.over.items():
            put(over, int(weight.get(loc, 0) > t))
        for (loc, name, k), step in v.step.items():
            limit = ctx.limits[name][k - 1]
            put(step, int(carrier_of.get(loc) == name and weight.get(loc, 0) > (limit or 0)))
        bulky = {
            loc
            for loc, units in assignment.items()
            if any(ctx.lines[lid].bulky for lid, q in units.items() if q > 0)
        }
        for loc, b in v.bulky.items():
            put(b, int(loc in bulky))
        for (loc, name), fee in v.fee.items():
            put(fee, int(carrier_of.get(loc) == name and loc in bulky))
        if v.days is not None:
            put(
                v.days,
                max((ctx.options[loc][name].days for loc, name in carrier_of.items()), default=0),
            )

    def _replacement(self, loc: str, name: str) -> str:
        """A kept carrier at least as good as a pruned one for this location's lines."""
        return beats_for(
            self.ctx, loc, name, self.carriers_at[loc], self.lines_at[loc], self.max_weight[loc]
        )
