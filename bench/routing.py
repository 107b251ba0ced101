"""Routing benchmark on a realistic German network: optimiser vs greedy baselines, side by side.

Builds 12 warehouses, 120 stores in the 100 biggest towns and 4 drop-ship vendors from
shared/data/de-postcodes.csv, draws customers by population, and routes a simulated day of
orders. Every order is solved by every strategy on the same problem; the network state (stock,
capacity, backlog) then moves on with the optimiser's plan, so capacity bites as the day fills.

    .venv/bin/python bench/routing.py --orders 2000 --seed 7
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from routing import (  # noqa: E402
    STRATEGIES,
    CandidateLocation,
    Destination,
    OrderLine,
    RoutingPlan,
    RoutingProblem,
    RuleProfile,
    exact_score,
    load_profiles,
    solve,
    violations,
)
from routing.geo import haversine_km  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "de-postcodes.csv"
if not DATA.exists():
    DATA = Path("/work/shared/data/de-postcodes.csv")
RESULTS = ROOT / "bench" / "results"
HUBS = [
    "Hamburg",
    "Berlin",
    "Hannover",
    "Dortmund",
    "Köln",
    "Kassel",
    "Leipzig",
    "Erfurt",
    "Frankfurt am Main",
    "Nürnberg",
    "Stuttgart",
    "München",
]
VENDOR_TOWNS = ["Bielefeld", "Mannheim", "Dresden", "Augsburg"]
BASELINES = [s for s in STRATEGIES if s != "optimiser"]
CANDIDATE_CAP = 50
DAY = datetime(2026, 11, 24, tzinfo=ZoneInfo("Europe/Berlin"))  # a Tuesday


@dataclass
class Postcode:
    """One row of the postcode file."""

    postcode: str
    city: str
    state: str
    lat: float
    lon: float
    population: int
    source: str


@dataclass
class Town:
    """A town with its postcodes, biggest first in the network."""

    name: str
    state: str
    population: int
    postcodes: list[Postcode] = field(default_factory=list)

    def central(self) -> Postcode:
        """The postcode nearest the town's centroid."""
        lat = statistics.fmean(p.lat for p in self.postcodes)
        lon = statistics.fmean(p.lon for p in self.postcodes)
        return min(self.postcodes, key=lambda p: (haversine_km(p.lat, p.lon, lat, lon), p.postcode))

    def far(self, other: Postcode) -> Postcode:
        """The postcode farthest from `other`, for a town's second store."""
        return max(
            self.postcodes,
            key=lambda p: (haversine_km(p.lat, p.lon, other.lat, other.lon), p.postcode),
        )


@dataclass
class Sku:
    """A catalogue item."""

    sku: str
    weight_kg: float
    bulky: bool
    hazardous: bool
    popularity: float


def load_postcodes() -> list[Postcode]:
    """Read the postcode table."""
    with DATA.open(encoding="utf-8") as fh:
        return [
            Postcode(
                r["postcode"],
                r["city"],
                r["state"],
                float(r["latitude"]),
                float(r["longitude"]),
                int(r["population_estimate"]),
                r["population_source"],
            )
            for r in csv.DictReader(fh)
        ]


def biggest_towns(postcodes: list[Postcode]) -> list[Town]:
    """Towns of 15,000+ inhabitants, biggest first."""
    towns: dict[tuple[str, str], Town] = {}
    for p in postcodes:
        if p.source != "town":
            continue
        town = towns.setdefault((p.city, p.state), Town(p.city, p.state, 0))
        town.population += p.population
        town.postcodes.append(p)
    return sorted(towns.values(), key=lambda t: (-t.population, t.name))


def catalogue(rng: random.Random, size: int = 1500) -> list[Sku]:
    """SKUs with Zipf-like popularity; 5% bulky, 4% hazardous."""
    items = []
    for i in range(size):
        bulky = rng.random() < 0.05
        hazardous = not bulky and rng.random() < 0.04
        weight = rng.uniform(15, 45) if bulky else min(12.0, rng.lognormvariate(-0.3, 0.8))
        items.append(Sku(f"SKU-{i:05d}", round(weight, 2), bulky, hazardous, 1 / (i + 8) ** 0.9))
    return items


def network(rng: random.Random, towns: list[Town], skus: list[Sku]) -> list[CandidateLocation]:
    """Warehouses in logistics hubs, stores in the biggest towns, a few bulky-goods vendors."""
    by_name = {t.name: t for t in towns}
    regular = [s for s in skus if not s.bulky]
    bulky = [s for s in skus if s.bulky]
    locations: list[CandidateLocation] = []

    def place(loc_id: str, kind: str, town: Town, pc: Postcode, **kw: object) -> None:
        locations.append(
            CandidateLocation(
                id=loc_id,
                kind=kind,
                postcode=pc.postcode,
                latitude=pc.lat,
                longitude=pc.lon,
                city=town.name,
                zone=town.state,
                **kw,
            )
        )

    for i, name in enumerate(HUBS):
        town = by_name[name]
        stock = {s.sku: rng.randint(3, 40) for s in skus if rng.random() < 0.55}
        edge = town.far(town.central())  # logistics parks sit at the edge of town
        place(
            f"WH-{i + 1:02d}",
            "warehouse",
            town,
            edge,
            stock=stock,
            capacity_left=rng.randint(900, 1400),
            backlog=rng.randint(0, 600),
            hazardous_certified=i % 3 != 2,
            priority=10 + i,
            cutoff_hour=rng.choice([15, 16, 18]),
        )
    store_no = 0
    for rank, town in enumerate(towns[:100]):
        spots = [town.central()] + ([town.far(town.central())] if rank < 20 else [])
        for pc in spots:
            store_no += 1
            stock = {
                s.sku: rng.randint(1, 4)
                for s in regular
                if rng.random() < min(0.9, 12 * s.popularity)
            }
            place(
                f"ST-{store_no:03d}",
                "store",
                town,
                pc,
                stock=stock,
                capacity_left=rng.randint(20, 60),
                backlog=rng.randint(0, 40),
                ships_to_customers=rng.random() < 0.8,
                hazardous_certified=rng.random() < 0.1,
                priority=100 + store_no,
                cutoff_hour=rng.choice([14, 16, 17]),
            )
    for i, name in enumerate(VENDOR_TOWNS):
        town = by_name[name]
        stock = {s.sku: rng.randint(2, 15) for s in bulky if rng.random() < 0.6}
        stock |= {s.sku: rng.randint(5, 30) for s in regular if rng.random() < 0.05}
        place(
            f"VD-{i + 1:02d}",
            "vendor",
            town,
            town.central(),
            stock=stock,
            capacity_left=rng.randint(150, 250),
            backlog=rng.randint(0, 100),
            priority=300 + i,
            cutoff_hour=14,
        )
    return locations


def line_count(rng: random.Random) -> int:
    """Mostly small baskets, a long tail up to 20 lines."""
    r = rng.random()
    if r < 0.40:
        return 1
    if r < 0.60:
        return 2
    if r < 0.72:
        return 3
    if r < 0.92:
        return rng.randint(4, 10)
    return rng.randint(11, 20)


def draw_order(
    rng: random.Random,
    n: int,
    postcodes: list[Postcode],
    pc_weights: Sequence[float],
    skus: list[Sku],
    sku_weights: Sequence[float],
    groups: dict[str, RuleProfile],
    locations: list[CandidateLocation],
) -> dict[str, object]:
    """One order (RoutingProblem fields but locations): customer by population, basket by
    popularity, speed, customer group, sometimes click & collect at the nearest store."""
    customer = rng.choices(postcodes, weights=pc_weights)[0]
    count = line_count(rng)
    chosen: dict[str, Sku] = {}
    while len(chosen) < count:
        s = rng.choices(skus, weights=sku_weights)[0]
        chosen[s.sku] = s
    lines = [
        OrderLine(
            line_id=f"{i + 1}",
            sku=s.sku,
            quantity=rng.choice([1, 1, 1, 1, 2, 2, 3]),
            weight_kg=s.weight_kg,
            bulky=s.bulky,
            hazardous=s.hazardous,
        )
        for i, s in enumerate(chosen.values())
    ]
    minute = rng.randint(6 * 60, 23 * 60 - 1)
    r = rng.random()
    speed = "standard" if r < 0.8 else "express" if r < 0.95 else "same_day"
    store_towns = {x.city for x in locations if x.kind == "store"}
    if speed == "same_day" and customer.city not in store_towns:
        speed = "express"  # the shop offers same-day only in towns with a store
    group = rng.choices(["default", "premium", "budget", "b2b"], weights=[70, 15, 10, 5])[0]
    dest = Destination(
        postcode=customer.postcode,
        latitude=customer.lat,
        longitude=customer.lon,
        city=customer.city,
    )
    pickup = None
    if speed == "standard" and rng.random() < 0.1:
        stores = [x for x in locations if x.kind == "store"]
        pickup = min(
            stores,
            key=lambda x: (haversine_km(x.latitude, x.longitude, customer.lat, customer.lon), x.id),
        ).id
    return {
        "order_id": f"B{n:05d}",
        "lines": lines,
        "destination": dest,
        "pickup_store_id": pickup,
        "speed": speed,
        "order_time": DAY + timedelta(minutes=minute),
        "customer_group": group,
        "profile": groups[group],
    }


def with_candidates(order: dict[str, object], locations: list[CandidateLocation]) -> RoutingProblem:
    """The order with the 50 closest locations holding at least one line's SKU (plus the
    pickup store), copied from the network's current state."""
    lines: list[OrderLine] = order["lines"]  # type: ignore[assignment]
    dest: Destination = order["destination"]  # type: ignore[assignment]
    pickup = order["pickup_store_id"]
    skus = {x.sku for x in lines}
    holding = [x for x in locations if x.id == pickup or any(x.stock.get(s, 0) > 0 for s in skus)]
    holding.sort(
        key=lambda x: (haversine_km(x.latitude, x.longitude, dest.latitude, dest.longitude), x.id)
    )
    chosen = holding[:CANDIDATE_CAP]
    if pickup and all(x.id != pickup for x in chosen):
        chosen[-1] = next(x for x in holding if x.id == pickup)
    copies = [x.model_copy(deep=True) for x in chosen]
    return RoutingProblem.model_validate({**order, "locations": copies})


def apply(plan: RoutingPlan, problem: RoutingProblem, state: dict[str, CandidateLocation]) -> None:
    """Reserve the plan's stock and capacity and add its units to the locations' backlog."""
    skus = {x.line_id: x.sku for x in problem.lines}
    for s in plan.shipments:
        loc = state[s.location_id]
        for pl in s.lines:
            loc.stock[skus[pl.line_id]] -= pl.quantity
            loc.capacity_left -= pl.quantity
            loc.backlog += pl.quantity


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


@dataclass
class Tally:
    """Per-strategy figures over the run."""

    parcels: list[int] = field(default_factory=list)
    cost: list[int] = field(default_factory=list)
    days: list[int] = field(default_factory=list)
    uncovered_units: int = 0
    violations: int = 0
    optimal: int = 0
    ms: list[float] = field(default_factory=list)
    ms_small: list[float] = field(default_factory=list)

    @property
    def not_optimal(self) -> int:
        """Orders whose plan was not proven optimal."""
        return len(self.parcels) - self.optimal

    def summary(self, ordered_units: int) -> dict[str, float]:
        """The table row."""
        n = len(self.parcels)
        shipped = [p for p in self.parcels if p > 0]
        return {
            "orders": n,
            "parcels_per_order": round(statistics.fmean(self.parcels), 3),
            "split_rate": round(sum(p > 1 for p in self.parcels) / max(1, len(shipped)), 4),
            "cost_per_order_eur": round(statistics.fmean(self.cost) / 100, 3),
            "mean_delivery_days": round(statistics.fmean(self.days), 3) if self.days else 0.0,
            "uncovered_unit_share": round(self.uncovered_units / max(1, ordered_units), 4),
            "rule_violations": self.violations,
            "proven_optimal_share": round(self.optimal / max(1, n), 4),
            "solve_ms_p50": round(pct(self.ms, 50), 2),
            "solve_ms_p99": round(pct(self.ms, 99), 2),
            "solve_ms_max": round(max(self.ms, default=0.0), 2),
            "le10_lines_solve_ms_p50": round(pct(self.ms_small, 50), 2),
            "le10_lines_solve_ms_p99": round(pct(self.ms_small, 99), 2),
            "le10_lines_solve_ms_max": round(max(self.ms_small, default=0.0), 2),
        }


def run(args: argparse.Namespace) -> dict[str, object]:
    """Simulate the day and collect every strategy's figures."""
    rng = random.Random(args.seed)
    postcodes = load_postcodes()
    towns = biggest_towns(postcodes)
    skus = catalogue(rng)
    locations = network(rng, towns, skus)
    state = {x.id: x for x in locations}
    groups = load_profiles(ROOT / "routing" / "profiles.example.toml")
    pc_weights = [p.population for p in postcodes]
    sku_weights = [s.popularity for s in skus]
    problems = [
        draw_order(rng, i, postcodes, pc_weights, skus, sku_weights, groups, locations)
        for i in range(args.orders)
    ]
    problems.sort(key=lambda p: (p["order_time"], p["order_id"]))

    tallies = {s: Tally() for s in STRATEGIES}
    worse, worse_optimal, strictly_better, ordered_units = 0, 0, 0, 0
    candidate_counts: list[int] = []
    slowest: list[tuple[float, str, int, bool]] = []
    showcase: dict[str, object] | None = None
    started = time.perf_counter()
    for k, blank in enumerate(problems):
        problem = with_candidates(blank, list(state.values()))
        ordered_units += sum(x.quantity for x in problem.lines)
        candidate_counts.append(len(problem.locations))
        plans: dict[str, RoutingPlan] = {}
        for name in STRATEGIES:
            plan = solve(problem, strategy=name, time_limit_s=args.time_limit)
            plans[name] = plan
            t = tallies[name]
            t.parcels.append(len(plan.shipments))
            t.cost.append(sum(s.cost_cents for s in plan.shipments))
            if plan.shipments:
                t.days.append(plan.criteria["delivery_days"])
            t.uncovered_units += sum(x.quantity for x in plan.uncovered)
            t.violations += len(violations(problem, plan))
            t.optimal += plan.optimal
            t.ms.append(plan.solve_ms)
            if len(problem.lines) <= 10:
                t.ms_small.append(plan.solve_ms)
        opt = plans["optimiser"]
        exact = {name: exact_score(problem, plan) for name, plan in plans.items()}
        best_base = min(exact[b] for b in BASELINES)
        if exact["optimiser"] > best_base:
            worse += 1
            worse_optimal += opt.optimal
        elif exact["optimiser"] < best_base:
            strictly_better += 1
        slowest.append((opt.solve_ms, problem.order_id, len(problem.lines), opt.optimal))
        best_name = min(BASELINES, key=lambda b: (plans[b].objective, b))
        if (
            showcase is None
            and len(opt.shipments) >= 2
            and problem.pickup_store_id is None
            and len(problem.lines) >= 4
            and opt.objective < plans[best_name].objective
            and len(plans["nearest"].shipments) > len(opt.shipments)
            and len({state[s.location_id].city for s in opt.shipments}) > 1
        ):
            showcase = {"problem": problem, "optimiser": opt, "baseline": plans["nearest"]}
        apply(opt, problem, state)
        if args.progress and (k + 1) % 250 == 0:
            print(f"{k + 1} orders, {time.perf_counter() - started:.0f} s", file=sys.stderr)

    summary = {name: tallies[name].summary(ordered_units) for name in STRATEGIES}
    summary["optimiser"]["orders_worse_than_best_baseline"] = worse
    summary["optimiser"]["orders_worse_than_best_baseline_when_optimal"] = worse_optimal
    summary["optimiser"]["orders_strictly_better_than_best_baseline"] = strictly_better
    summary["optimiser"]["orders_not_proven_optimal"] = tallies["optimiser"].not_optimal
    slowest.sort(reverse=True)
    exhausted = sorted(x.id for x in state.values() if x.capacity_left == 0)
    return {
        "command": f"bench/routing.py --orders {args.orders} --seed {args.seed}"
        f" --time-limit {args.time_limit}",
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "network": {
            "warehouses": sum(x.kind == "warehouse" for x in locations),
            "stores": sum(x.kind == "store" for x in locations),
            "vendors": sum(x.kind == "vendor" for x in locations),
            "skus": len(skus),
            "locations_out_of_capacity_at_end_of_day": len(exhausted),
        },
        "orders": args.orders,
        "ordered_units": ordered_units,
        "mean_lines_per_order": round(statistics.fmean(len(p["lines"]) for p in problems), 2),  # type: ignore[arg-type]
        "mean_candidates_per_order": round(statistics.fmean(candidate_counts), 1),
        "wall_s": round(time.perf_counter() - started, 1),
        "strategies": summary,
        "slowest_optimiser_orders": [
            {"order": o, "lines": n, "ms": round(ms, 1), "proven_optimal": ok}
            for ms, o, n, ok in slowest[:5]
        ],
        "_showcase": showcase,
        "_locations": locations,
        "_postcodes": postcodes,
    }


COLUMNS = [
    ("parcels_per_order", "parcels/order", "{:.3f}"),
    ("split_rate", "split rate", "{:.1%}"),
    ("cost_per_order_eur", "cost/order EUR", "{:.2f}"),
    ("mean_delivery_days", "delivery days", "{:.3f}"),
    ("uncovered_unit_share", "uncovered", "{:.2%}"),
    ("rule_violations", "violations", "{}"),
    ("proven_optimal_share", "proven optimal", "{:.1%}"),
    ("solve_ms_p50", "p50 ms", "{:.1f}"),
    ("solve_ms_p99", "p99 ms", "{:.1f}"),
    ("solve_ms_max", "max ms", "{:.1f}"),
    ("le10_lines_solve_ms_p99", "p99 ms <=10 lines", "{:.1f}"),
    ("le10_lines_solve_ms_max", "max ms <=10 lines", "{:.1f}"),
]


def table(summary: dict[str, dict[str, float]]) -> str:
    """Markdown table, strategies as columns."""
    head = "| metric | " + " | ".join(STRATEGIES) + " |"
    rule = "| --- |" + " ---: |" * len(STRATEGIES)
    rows = [head, rule]
    for key, label, fmt in COLUMNS:
        rows.append(
            f"| {label} | " + " | ".join(fmt.format(summary[s][key]) for s in STRATEGIES) + " |"
        )
    return "\n".join(rows)


def draw_map(result: dict[str, object], path: Path) -> None:
    """Two panels: the optimiser's split plan and the nearest-first plan for the same order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    showcase = result["_showcase"]
    postcodes: list[Postcode] = result["_postcodes"]  # type: ignore[assignment]
    locations: list[CandidateLocation] = result["_locations"]  # type: ignore[assignment]
    fig, axes = plt.subplots(1, 2, figsize=(13, 8.5), sharex=True, sharey=True)
    if not isinstance(showcase, dict):
        fig.savefig(path, dpi=110)
        return
    problem: RoutingProblem = showcase["problem"]
    by_id = {x.id: x for x in locations}
    titles = {"optimiser": "optimiser (CP-SAT)", "baseline": "baseline: nearest location first"}
    for ax, key in zip(axes, ("optimiser", "baseline"), strict=True):
        plan: RoutingPlan = showcase[key]
        ax.scatter(
            [p.lon for p in postcodes],
            [p.lat for p in postcodes],
            s=0.4,
            c="#cccccc",
            linewidths=0,
            zorder=1,
        )
        for kind, marker, colour, size in (
            ("store", "o", "#f28e2b", 9),
            ("warehouse", "s", "#4e79a7", 60),
            ("vendor", "^", "#59a14f", 50),
        ):
            pts = [x for x in locations if x.kind == kind]
            ax.scatter(
                [x.longitude for x in pts],
                [x.latitude for x in pts],
                s=size,
                c=colour,
                marker=marker,
                label=f"{kind}s",
                zorder=2,
                edgecolors="white",
                linewidths=0.4,
            )
        d = problem.destination
        legend = []
        for n, s in enumerate(plan.shipments, start=1):
            loc = by_id[s.location_id]
            ax.plot(
                [loc.longitude, d.longitude],
                [loc.latitude, d.latitude],
                c="#e15759",
                lw=1.8,
                zorder=3,
            )
            ax.annotate(
                str(n),
                (loc.longitude, loc.latitude),
                fontsize=8,
                zorder=6,
                xytext=(13 * math.cos(n * 1.3), 13 * math.sin(n * 1.3)),
                textcoords="offset points",
                ha="center",
                va="center",
                color="white",
                fontweight="bold",
                bbox={"boxstyle": "circle,pad=0.25", "fc": "#e15759", "lw": 0},
            )
            units = sum(pl.quantity for pl in s.lines)
            legend.append(
                f"{n}  {loc.id} {loc.city}: {len(s.lines)} lines / {units} units, "
                f"{s.carrier}, {s.cost_cents / 100:.2f} EUR, "
                f"delivery {s.promised_delivery:%a %d.%m.}"
            )
        ax.text(
            0.02,
            0.98,
            "\n".join(legend),
            transform=ax.transAxes,
            fontsize=7.5,
            va="top",
            ha="left",
            zorder=7,
            bbox={"boxstyle": "round", "fc": "white", "alpha": 0.9, "lw": 0.4},
        )
        ax.scatter(
            [d.longitude],
            [d.latitude],
            s=160,
            marker="*",
            c="#b07aa1",
            zorder=4,
            edgecolors="black",
            linewidths=0.5,
            label="customer",
        )
        c = plan.criteria
        ax.set_title(
            f"{titles[key]}: {len(plan.shipments)} parcels, "
            f"{c['cost'] / 100:.2f} EUR, delivered after {c['delivery_days']} "
            f"day{'' if c['delivery_days'] == 1 else 's'}",
            fontsize=10,
        )
        ax.set_aspect(1 / math.cos(math.radians(51)))
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(loc="lower left", fontsize=8)
    fig.suptitle(
        f"Order {problem.order_id}: {len(problem.lines)} lines to "
        f"{problem.destination.postcode} {problem.destination.city} "
        f"({problem.customer_group}, {problem.speed})",
        fontsize=12,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    """Parse flags, run, print the table, write JSON and the map."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=0.5)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only, keep results files")
    args = parser.parse_args()
    result = run(args)
    summary: dict[str, dict[str, float]] = result["strategies"]  # type: ignore[assignment]
    print(
        f"{result['command']}  ({result['orders']} orders, "
        f"{result['mean_lines_per_order']} lines/order, {result['wall_s']} s)"
    )
    print(table(summary))
    opt = summary["optimiser"]
    print(
        f"optimiser worse than best baseline: {opt['orders_worse_than_best_baseline']} orders "
        f"({opt['orders_worse_than_best_baseline_when_optimal']} of them proven optimal); "
        f"strictly better: {opt['orders_strictly_better_than_best_baseline']}"
    )
    print(
        f"not proven optimal: {opt['orders_not_proven_optimal']} orders; "
        f"slowest: {result['slowest_optimiser_orders']}"
    )
    print(f"network: {result['network']}")
    if args.no_write:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    public = {k: v for k, v in result.items() if not k.startswith("_")}
    public["table_markdown"] = table(summary)
    (RESULTS / "routing.json").write_text(json.dumps(public, indent=2) + "\n", encoding="utf-8")
    draw_map(result, RESULTS / "routing_map.png")


if __name__ == "__main__":
    main()
