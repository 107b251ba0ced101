"""Command line: `python -m routing solve PROBLEM.json` prints the plan; `schema` the schemas."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from routing.model import RoutingPlan, RoutingProblem
from routing.profiles import ProfileError, load_profiles, profile_for
from routing.strategies import STRATEGIES, solve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m routing", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("solve", help="route one order given as RoutingProblem JSON")
    run.add_argument("problem", help="path to the problem JSON, or - for stdin")
    run.add_argument("--strategy", choices=STRATEGIES, default="optimiser")
    run.add_argument("--time-limit", type=float, default=0.5, help="optimiser limit in seconds")
    run.add_argument("--profiles", help="rule profile file; used when the problem has none")
    schema = sub.add_parser("schema", help="print the JSON schema of problems and plans")
    schema.add_argument("--which", choices=("problem", "plan", "both"), default="both")
    return parser


def _read_problem(source: str) -> RoutingProblem:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return RoutingProblem.model_validate_json(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for bad input)."""
    args = _parser().parse_args(argv)
    if args.command == "schema":
        schemas = {
            "problem": RoutingProblem.model_json_schema(),
            "plan": RoutingPlan.model_json_schema(),
        }
        out = schemas if args.which == "both" else schemas[args.which]
        print(json.dumps(out, indent=2))
        return 0
    try:
        problem = _read_problem(args.problem)
        if args.profiles and problem.profile is None:
            problem.profile = profile_for(load_profiles(args.profiles), problem.customer_group)
    except (OSError, ValidationError, ProfileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    plan = solve(problem, strategy=args.strategy, time_limit_s=args.time_limit)
    print(plan.model_dump_json(indent=2))
    return 0
