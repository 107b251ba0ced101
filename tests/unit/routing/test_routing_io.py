"""JSON in and out, the command line, determinism, purity and the solver fallback."""

from __future__ import annotations

import ast
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from ortools.sat.python import cp_model

from routing import STRATEGIES, RoutingPlan, RoutingProblem, solve, violations
from tests.unit.routing.factories import PLACES, line, location, problem

ROOT = Path(__file__).resolve().parents[3]


def medium_problem(seed: int = 3) -> RoutingProblem:
    """Eight lines over 30 locations: big enough for the solver to have choices."""
    rng = random.Random(seed)
    skus = [f"S{i}" for i in range(12)]
    locations = [
        location(
            f"L{j:02d}",
            rng.randrange(len(PLACES)),
            rng.choice(["warehouse", "store"]),
            stock={s: rng.randint(1, 3) for s in skus if rng.random() < 0.35},
            capacity_left=rng.randint(2, 12),
            backlog=rng.randint(0, 80),
            zone=rng.choice(["N", "S"]),
            hazardous_certified=rng.random() < 0.5,
        )
        for j in range(30)
    ]
    lines = [
        line(
            f"{i}",
            sku,
            rng.randint(1, 2),
            weight_kg=rng.choice([0.4, 1.2, 3.5]),
            bulky=i == 7,
            hazardous=i == 5,
        )
        for i, sku in enumerate(rng.sample(skus, 8))
    ]
    return problem(lines, locations)


def without_timing(plan: RoutingPlan) -> dict[str, object]:
    return plan.model_dump(mode="json", exclude={"solve_ms"})


def test_problem_and_plan_round_trip_through_json() -> None:
    p = medium_problem()
    again = RoutingProblem.model_validate_json(p.model_dump_json())
    assert again == p
    plan = solve(p)
    assert RoutingPlan.model_validate_json(plan.model_dump_json()) == plan
    assert json.loads(plan.model_dump_json())["shipments"][0]["ship_date"] == "2026-11-24"


def test_same_input_gives_the_same_plan() -> None:
    p = medium_problem()
    first = solve(p)
    assert len(first.shipments) >= 2  # a real split, not a trivial case
    for other in (solve(p), solve(RoutingProblem.model_validate_json(p.model_dump_json()))):
        assert without_timing(other) == without_timing(first)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_is_deterministic(strategy: str) -> None:
    p = medium_problem(seed=11)
    assert without_timing(solve(p, strategy)) == without_timing(solve(p, strategy))


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "routing", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_solves_a_problem_file_with_each_strategy(tmp_path: Path) -> None:
    p = medium_problem()
    path = tmp_path / "problem.json"
    path.write_text(p.model_dump_json())
    for strategy in ("optimiser", "fewest_locations"):
        done = run_cli("solve", str(path), "--strategy", strategy, "--time-limit", "2")
        assert done.returncode == 0, done.stderr
        plan = RoutingPlan.model_validate_json(done.stdout)
        assert plan.strategy == strategy
        assert violations(p, plan) == []
        assert without_timing(plan) == without_timing(solve(p, strategy, time_limit_s=2))


def test_cli_reads_stdin_and_applies_a_profile_file(tmp_path: Path) -> None:
    lines = [line("1", "A"), line("2", "B")]
    locations = [
        location("FAR", 6, stock={"A": 1, "B": 1}),
        location("NEAR-A", 2, stock={"A": 1}),
        location("NEAR-B", 1, stock={"B": 1}),
    ]
    p = problem(lines, locations, customer_group="premium")
    done = run_cli(
        "solve", "-", "--profiles", "routing/profiles.example.toml", stdin=p.model_dump_json()
    )
    assert done.returncode == 0, done.stderr
    plan = RoutingPlan.model_validate_json(done.stdout)
    assert {s.location_id for s in plan.shipments} == {"NEAR-A", "NEAR-B"}  # fastest first


def test_cli_rejects_invalid_problems_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"order_id": "X", "lines": []}))
    done = run_cli("solve", str(path))
    assert done.returncode == 2
    assert "error:" in done.stderr and "lines" in done.stderr


def test_cli_prints_the_json_schemas() -> None:
    done = run_cli("schema")
    assert done.returncode == 0
    schemas = json.loads(done.stdout)
    assert {"lines", "locations", "order_time", "profile"} <= set(schemas["problem"]["properties"])
    assert {"shipments", "uncovered", "optimal"} <= set(schemas["plan"]["properties"])


def test_routing_imports_only_stdlib_pydantic_and_ortools() -> None:
    allowed = set(sys.stdlib_module_names) | {"pydantic", "ortools", "routing"}
    for path in sorted((ROOT / "routing").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_importing_routing_pulls_in_no_workflow_or_database_code() -> None:
    code = (
        "import sys, routing; routing.solve; print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout.replace("'", '"')))
    banned = {"temporalio", "sqlmodel", "sqlalchemy", "core", "activities", "api", "workflows"}
    assert loaded & banned == set()


def test_solver_failure_falls_back_to_the_best_greedy_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cp_model.CpSolver, "solve", lambda self, model: cp_model.UNKNOWN)
    p = medium_problem()
    plan = solve(p)
    assert plan.strategy == "optimiser" and not plan.optimal
    assert plan.note.startswith("greedy fallback")
    assert violations(p, plan) == []
    assert plan.objective == min(solve(p, s).objective for s in STRATEGIES[1:])


def test_a_tiny_time_limit_still_returns_a_valid_plan() -> None:
    p = medium_problem()
    plan = solve(p, time_limit_s=0.0001)
    assert violations(p, plan) == []
    assert plan.objective <= min(solve(p, s).objective for s in STRATEGIES[1:])


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        solve(medium_problem(), "random")
