"""Greedy baselines: what simple rule-based routers do, for benchmarks and as the fallback.

All of them obey the same hard rules as the optimiser (they read them from `options`), serve a
click & collect order from the pickup store first, and then pick each parcel's carrier to suit
the rule profile.
"""

from __future__ import annotations

from collections.abc import Callable

from routing.assemble import Assignment, build_plan
from routing.model import RoutingPlan
from routing.objective import assignment_criteria, objective_spec
from routing.options import Context


class _Filler:
    """Running state of a greedy fill: what is left to cover and what each location has left."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.remaining = {x.line_id: x.quantity for x in ctx.problem.lines}
        skus = {x.sku for x in ctx.problem.lines}
        usable = [ctx.locations[loc] for loc in _usable(ctx)]
        self.stock = {(loc.id, sku): loc.stock.get(sku, 0) for loc in usable for sku in skus}
        self.capacity = {loc.id: loc.capacity_left for loc in usable}
        self.assignment: Assignment = {}
        self.carriers = {loc: frozenset(opts) for loc, opts in ctx.options.items()}
        self.split = ctx.profile.allow_line_split

    def copy(self) -> _Filler:
        """An independent copy, to try a location without committing to it."""
        twin = _Filler.__new__(_Filler)
        twin.ctx, twin.split = self.ctx, self.split
        twin.remaining = dict(self.remaining)
        twin.stock = dict(self.stock)
        twin.capacity = dict(self.capacity)
        twin.assignment = {k: dict(v) for k, v in self.assignment.items()}
        twin.carriers = dict(self.carriers)
        return twin

    def room(self, line_id: str, loc: str) -> int:
        """Units of this line the location could add now without breaking a rule."""
        left = self.remaining[line_id]
        allowed = self.ctx.allowed.get((line_id, loc))
        if left <= 0 or not allowed or not (self.carriers[loc] & allowed):
            return 0
        if not self.split and any(line_id in a for a in self.assignment.values()):
            return 0
        sku = self.ctx.lines[line_id].sku
        return max(0, min(left, self.stock.get((loc, sku), 0), self.capacity[loc]))

    def take(self, line_id: str, loc: str, units: int) -> None:
        """Commit units of a line to a location and narrow its carriers to fit the line."""
        if units <= 0:
            return
        sku = self.ctx.lines[line_id].sku
        self.remaining[line_id] -= units
        self.stock[(loc, sku)] -= units
        self.capacity[loc] -= units
        served = self.assignment.setdefault(loc, {})
        served[line_id] = served.get(line_id, 0) + units
        self.carriers[loc] = self.carriers[loc] & self.ctx.allowed[(line_id, loc)]

    def fill_from(self, loc: str, whole_lines_only: bool = False) -> int:
        """Take everything this location can give, line by line; return the units taken."""
        taken = 0
        for line in self.ctx.problem.lines:
            units = self.room(line.line_id, loc)
            if whole_lines_only and units < self.remaining[line.line_id]:
                continue
            self.take(line.line_id, loc, units)
            taken += units
        return taken

    def line_by_line(self, order: list[str]) -> None:
        """For each line, take from locations in the given order until it is covered.

        Without line splits, prefer the first location that can cover the whole line.
        """
        for line in self.ctx.problem.lines:
            lid = line.line_id
            if not self.split:
                whole = [loc for loc in order if self.room(lid, loc) == self.remaining[lid]]
                if whole:
                    self.take(lid, whole[0], self.remaining[lid])
                    continue
            for loc in order:
                if self.remaining[lid] <= 0:
                    break
                self.take(lid, loc, self.room(lid, loc))


def _usable(ctx: Context) -> list[str]:
    cached = ctx.cache.get("usable")
    if not isinstance(cached, list):
        cached = sorted({loc for (_, loc) in ctx.allowed})
        ctx.cache["usable"] = cached
    return cached


def _by_distance(ctx: Context) -> list[str]:
    return sorted(_usable(ctx), key=lambda loc: (ctx.distance[loc], loc))


def _start(ctx: Context) -> _Filler:
    """A filler that has already taken what the click & collect pickup store holds."""
    filler = _Filler(ctx)
    if ctx.pickup_id is not None and ctx.pickup_id in ctx.options:
        filler.fill_from(ctx.pickup_id)
    return filler


def nearest(ctx: Context) -> Assignment:
    """Each line from the nearest location that has it."""
    filler = _start(ctx)
    filler.line_by_line(_by_distance(ctx))
    return filler.assignment


def priority(ctx: Context) -> Assignment:
    """Each line from the location ranked first by its fixed priority (then distance)."""
    filler = _start(ctx)
    order = sorted(
        _usable(ctx), key=lambda loc: (ctx.locations[loc].priority, ctx.distance[loc], loc)
    )
    filler.line_by_line(order)
    return filler.assignment


def most_stock(ctx: Context) -> Assignment:
    """Each line from the location holding most of the order's units (then distance)."""
    filler = _start(ctx)

    def held(loc: str) -> int:
        stock = ctx.locations[loc].stock
        return sum(
            min(line.quantity, stock.get(line.sku, 0))
            for line in ctx.problem.lines
            if (line.line_id, loc) in ctx.allowed
        )

    order = sorted(_usable(ctx), key=lambda loc: (-held(loc), ctx.distance[loc], loc))
    filler.line_by_line(order)
    return filler.assignment


def _covers_all(ctx: Context, loc: str) -> bool:
    location = ctx.locations[loc]
    carriers = frozenset(ctx.options.get(loc, {}))
    need: dict[str, int] = {}
    for line in ctx.problem.lines:
        carriers &= ctx.allowed.get((line.line_id, loc), frozenset())
        if not carriers:
            return False
        need[line.sku] = need.get(line.sku, 0) + line.quantity
    return ctx.total_units <= location.capacity_left and all(
        units <= location.stock.get(sku, 0) for sku, units in need.items()
    )


def single_location_covers(ctx: Context) -> bool:
    """Whether some one location can serve the whole order with one carrier."""
    return any(_covers_all(ctx, loc) for loc in _usable(ctx))


def fewest_locations(ctx: Context) -> Assignment:
    """One location if one can serve everything (nearest such), else greedy set cover."""
    filler = _start(ctx)
    order = _by_distance(ctx)
    for loc in order:
        trial = filler.copy()
        trial.fill_from(loc)
        if not any(trial.remaining.values()):
            return trial.assignment
    while any(filler.remaining.values()):
        best_units, best_loc = 0, ""
        for loc in order:  # nearest first, so ties go to the nearer location
            units = filler.copy().fill_from(loc)
            if units > best_units:
                best_units, best_loc = units, loc
        if best_units == 0:
            break
        filler.fill_from(best_loc)
    return filler.assignment


GREEDY: dict[str, Callable[[Context], Assignment]] = {
    "nearest": nearest,
    "priority": priority,
    "most_stock": most_stock,
    "fewest_locations": fewest_locations,
}


def common_carriers(ctx: Context, assignment: Assignment) -> dict[str, list[str]]:
    """Carriers each used location may send its whole parcel with, in name order."""
    out: dict[str, list[str]] = {}
    for loc, units in assignment.items():
        names = set(ctx.options[loc])
        for lid, q in units.items():
            if q > 0:
                names &= ctx.allowed[(lid, loc)]
        out[loc] = sorted(names)
    return out


def choose_carriers(ctx: Context, assignment: Assignment) -> dict[str, str]:
    """Per parcel, the carrier that scores best with the others fixed (one pass, id order)."""
    spec = objective_spec(ctx)
    choices = common_carriers(ctx, assignment)
    used = sorted(loc for loc, units in assignment.items() if any(units.values()))
    pick = {loc: choices[loc][0] for loc in used}

    def value(candidate: dict[str, str]) -> int:
        return spec.value(assignment_criteria(ctx, assignment, candidate))

    for loc in used:
        if len(choices[loc]) < 2:
            continue
        scored = [(value({**pick, loc: name}), name) for name in choices[loc]]
        pick[loc] = min(scored)[1]
    return pick


def run_greedy(ctx: Context, name: str, solve_ms: float = 0.0) -> RoutingPlan:
    """Plan with one greedy strategy."""
    assignment = GREEDY[name](ctx)
    return build_plan(ctx, assignment, choose_carriers(ctx, assignment), name, False, solve_ms)
