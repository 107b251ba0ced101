"""The `solve` entry point: pick a strategy by name, time it, always return a plan."""

from __future__ import annotations

import time

from routing.greedy import GREEDY, run_greedy
from routing.model import RoutingPlan, RoutingProblem
from routing.optimiser import optimise
from routing.options import build_context

STRATEGIES: tuple[str, ...] = ("optimiser", "nearest", "priority", "most_stock", "fewest_locations")


def solve(
    problem: RoutingProblem, strategy: str = "optimiser", time_limit_s: float = 0.5
) -> RoutingPlan:
    """Route one order with the named strategy; the optimiser stops after `time_limit_s`."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    started = time.perf_counter()
    ctx = build_context(problem)
    plan = optimise(ctx, time_limit_s) if strategy == "optimiser" else run_greedy(ctx, strategy)
    plan.solve_ms = (time.perf_counter() - started) * 1000
    return plan


__all__ = ["GREEDY", "STRATEGIES", "solve"]
