"""Exact pruning before the solver: drop carriers that another carrier beats on every count.

Carrier c is dominated at a location by c' when c' delivers no later, never costs more at any
weight this order can reach, and may take every line c may take there. Swapping c for c' in
any plan keeps it valid and makes no criterion worse, so removing c keeps an optimum.
"""

from __future__ import annotations

from routing.model import PICKUP_CARRIER
from routing.options import Context


def _breakpoints(ctx: Context, names: list[str], max_weight_g: int) -> list[int]:
    """Weights at which some carrier's price can change, up to the heaviest possible parcel."""
    points = {0}
    for name in names:
        for limit in ctx.limits[name]:
            if limit is not None and limit + 1 <= max_weight_g:
                points.add(limit + 1)
    return sorted(points)


def _beats(
    ctx: Context,
    loc: str,
    better: str,
    worse: str,
    lines: list[str],
    points: list[int],
    bulky_options: list[bool],
) -> bool:
    opts = ctx.options[loc]
    if opts[better].promised > opts[worse].promised:
        return False
    for lid in lines:
        allowed = ctx.allowed[(lid, loc)]
        if worse in allowed and better not in allowed:
            return False
    return all(
        ctx.parcel_cost(loc, better, w, b) <= ctx.parcel_cost(loc, worse, w, b)
        for w in points
        for b in bulky_options
    )


def useful_carriers(ctx: Context, loc: str, lines: list[str], max_weight_g: int) -> list[str]:
    """The location's carriers minus those dominated by another (ties keep the first name)."""
    names = sorted(ctx.options[loc])
    if len(names) < 2 or PICKUP_CARRIER in names:
        return names
    points = _breakpoints(ctx, names, max_weight_g)
    bulky_options = sorted({ctx.lines[lid].bulky for lid in lines})
    kept: list[str] = []
    for i, name in enumerate(names):
        dominated = any(
            _beats(ctx, loc, other, name, lines, points, bulky_options)
            and (j < i or not _beats(ctx, loc, name, other, lines, points, bulky_options))
            for j, other in enumerate(names)
            if other != name
        )
        if not dominated:
            kept.append(name)
    return kept


def beats_for(
    ctx: Context, loc: str, pruned: str, kept: list[str], lines: list[str], max_weight_g: int
) -> str:
    """The kept carrier that dominates a pruned one (to translate a plan into the model)."""
    names = sorted({pruned, *kept})
    points = _breakpoints(ctx, names, max_weight_g)
    bulky_options = sorted({ctx.lines[lid].bulky for lid in lines})
    for name in kept:
        if _beats(ctx, loc, name, pruned, lines, points, bulky_options):
            return name
    raise ValueError(f"no kept carrier at {loc} dominates {pruned}")  # pruning guarantees one
