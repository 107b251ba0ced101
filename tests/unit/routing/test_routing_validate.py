"""The validator must catch every kind of broken plan (else the property tests prove nothing)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from routing import PlannedLine, RoutingPlan, RoutingProblem, solve, violations
from tests.unit.routing.factories import line, location, problem


def base() -> RoutingProblem:
    return problem(
        [
            line("1", "A", quantity=2),
            line("2", "FUEL", hazardous=True),
            line("3", "SOFA", bulky=True, weight_kg=20),
        ],
        [
            location("W", 2, stock={"A": 2, "FUEL": 1, "SOFA": 1}, hazardous_certified=True),
            location("UNCERT", 2, stock={"A": 5, "FUEL": 5}),
            location("FAR", 6, stock={"SOFA": 1}),
            location("S", 1, "store", stock={"A": 5}, ships_to_customers=False),
        ],
    )


def good() -> RoutingPlan:
    plan = solve(base())
    assert [s.location_id for s in plan.shipments] == ["W"]
    assert violations(base(), plan) == []
    return plan


def edit(change: Callable[[RoutingPlan], None]) -> RoutingPlan:
    plan = good().model_copy(deep=True)
    change(plan)
    return plan


def move(plan: RoutingPlan, location_id: str) -> None:
    plan.shipments[0].location_id = location_id


def set_line(plan: RoutingPlan, line_id: str, quantity: int) -> None:
    for pl in plan.shipments[0].lines:
        if pl.line_id == line_id:
            pl.quantity = quantity


CASES: list[tuple[str, Callable[[RoutingPlan], None], str]] = [
    ("over-stock", lambda p: (set_line(p, "1", 3), p.uncovered.clear()), "only 2 in stock"),
    ("short", lambda p: set_line(p, "1", 1), "shipped 1 + uncovered 0 != ordered 2"),
    (
        "double",
        lambda p: p.uncovered.append(PlannedLine(line_id="2", sku="FUEL", quantity=1)),
        "shipped 1 + uncovered 1 != ordered 1",
    ),
    ("wrong sku", lambda p: setattr(p.shipments[0].lines[0], "sku", "B"), "is not the ordered"),
    ("uncertified", lambda p: move(p, "UNCERT"), "hazardous goods from an uncertified"),
    ("non-shipping", lambda p: move(p, "S"), "does not ship to customers"),
    ("unknown location", lambda p: move(p, "NOPE"), "unknown location"),
    (
        "bulky by economy",
        lambda p: setattr(p.shipments[0], "carrier", "economy"),
        "does not take bulky goods",
    ),
    (
        "bulky too far",
        lambda p: (move(p, "FAR"), setattr(p.shipments[0], "carrier", "parcel")),
        "bulky goods over 505 km",
    ),
    (
        "ship date",
        lambda p: setattr(
            p.shipments[0], "ship_date", p.shipments[0].ship_date - timedelta(days=1)
        ),
        "cut-off rules give",
    ),
    (
        "promise",
        lambda p: setattr(p.shipments[0], "promised_delivery", p.shipments[0].ship_date),
        "carrier transit gives",
    ),
    ("price", lambda p: setattr(p.shipments[0], "cost_cents", 1), "tariff gives"),
    (
        "pickup carrier",
        lambda p: setattr(p.shipments[0], "carrier", "pickup"),
        "only the pickup store",
    ),
    (
        "two parcels",
        lambda p: p.shipments.append(p.shipments[0].model_copy(deep=True)),
        "one per location",
    ),
]


@pytest.mark.parametrize(("name", "change", "message"), CASES, ids=[c[0] for c in CASES])
def test_validator_catches(name: str, change: Callable[[RoutingPlan], None], message: str) -> None:
    found = violations(base(), edit(change))
    assert any(message in v for v in found), found


def test_validator_catches_exceeded_capacity() -> None:
    p = base()
    tight = p.model_copy(
        update={
            "locations": [p.locations[0].model_copy(update={"capacity_left": 3}), *p.locations[1:]]
        }
    )
    assert any("capacity left 3" in v for v in violations(tight, good()))


def test_validator_catches_a_split_line_when_splits_are_off() -> None:
    from routing import RuleProfile

    p = problem(
        [line("1", "A", quantity=2)],
        [location("W1", 2, stock={"A": 1}), location("W2", 4, stock={"A": 1})],
    )
    plan = solve(p)
    assert len(plan.shipments) == 2 and violations(p, plan) == []
    strict = p.model_copy(
        update={"profile": RuleProfile(priorities=[["parcels"]], allow_line_split=False)}
    )
    assert any("splits are off" in v for v in violations(strict, plan))
