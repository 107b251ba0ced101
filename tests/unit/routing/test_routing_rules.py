"""Hard rules, one scenario each, on real German places (see factories.PLACES)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from routing import STRATEGIES, RuleProfile, solve, violations
from routing.carriers import default_carriers
from tests.unit.routing.factories import TUESDAY_10, line, location, problem

# distances from the Berlin 10115 customer: 10969 Berlin 3 km, Ludwigsfelde 28 km,
# Leipzig 150 km, Hamburg 256 km, Ludwigsau 366 km, Köln 478 km, München 505 km
BERLIN, BERLIN_2, LUDWIGSFELDE, HAMBURG, LEIPZIG, LUDWIGSAU, MUENCHEN = 0, 1, 2, 3, 4, 5, 6


def shipped_from(plan) -> dict[str, dict[str, int]]:  # type: ignore[no-untyped-def]
    return {s.location_id: {pl.line_id: pl.quantity for pl in s.lines} for s in plan.shipments}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_hazardous_goods_only_from_certified_locations(strategy: str) -> None:
    p = problem(
        [line("1", "FUEL", hazardous=True)],
        [
            location("NEAR", LUDWIGSFELDE, stock={"FUEL": 5}),
            location("CERT", LEIPZIG, stock={"FUEL": 5}, hazardous_certified=True),
        ],
    )
    plan = solve(p, strategy)
    assert shipped_from(plan) == {"CERT": {"1": 1}}
    assert plan.shipments[0].carrier != "economy"  # economy carries no hazardous goods
    assert violations(p, plan) == []


def test_hazardous_goods_uncovered_without_a_certified_location() -> None:
    p = problem(
        [line("1", "FUEL", hazardous=True)], [location("NEAR", LUDWIGSFELDE, stock={"FUEL": 5})]
    )
    plan = solve(p)
    assert plan.shipments == []
    assert [(u.line_id, u.quantity) for u in plan.uncovered] == [("1", 1)]
    assert plan.optimal


def test_bulky_goods_beyond_parcel_limit_go_by_freight() -> None:
    sofa = line("1", "SOFA", bulky=True, weight_kg=20)
    near = solve(problem([sofa], [location("W", LUDWIGSFELDE, stock={"SOFA": 1})]))
    far = solve(problem([sofa], [location("W", HAMBURG, stock={"SOFA": 1})]))
    assert near.shipments[0].carrier == "parcel"  # 28 km: parcel with bulky surcharge
    assert near.shipments[0].cost_cents == 1049 + 1990
    assert far.shipments[0].carrier == "freight"  # 256 km > the parcel's 250 km
    assert far.shipments[0].cost_cents == 3900


def test_bulky_goods_out_of_every_carriers_reach_stay_uncovered() -> None:
    carriers = [c for c in default_carriers() if c.name != "freight"]
    p = problem(
        [line("1", "SOFA", bulky=True, weight_kg=20), line("2", "LAMP")],
        [location("W", MUENCHEN, stock={"SOFA": 1, "LAMP": 1})],
        carriers=carriers,
    )
    for strategy in STRATEGIES:
        plan = solve(p, strategy)
        assert shipped_from(plan) == {"W": {"2": 1}}, strategy
        assert [u.line_id for u in plan.uncovered] == ["1"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_store_that_does_not_ship_is_never_a_shipper(strategy: str) -> None:
    p = problem(
        [line("1", "A")],
        [
            location("S", BERLIN_2, "store", stock={"A": 3}, ships_to_customers=False),
            location("W", MUENCHEN, stock={"A": 3}),
        ],
    )
    assert shipped_from(solve(p, strategy)) == {"W": {"1": 1}}


def test_store_that_does_not_ship_still_serves_as_pickup_store() -> None:
    p = problem(
        [line("1", "A")],
        [
            location("S", BERLIN_2, "store", stock={"A": 3}, ships_to_customers=False),
            location("W", MUENCHEN, stock={"A": 3}),
        ],
        pickup_store_id="S",
    )
    plan = solve(p)
    assert shipped_from(plan) == {"S": {"1": 1}}
    pickup = plan.shipments[0]
    assert (pickup.carrier, pickup.cost_cents, pickup.transfer_to) == ("pickup", 0, None)
    assert pickup.ship_date == pickup.promised_delivery == TUESDAY_10.date()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_click_and_collect_takes_the_pickup_store_first_then_the_cheapest_transfer(
    strategy: str,
) -> None:
    sofa = line("2", "SOFA", bulky=True, weight_kg=20)
    p = problem(
        [line("1", "A"), sofa],
        [
            location("S", BERLIN_2, "store", stock={"A": 1}),
            # one transfer could bring both lines, but by freight (256 km to the store)
            location("HAM", HAMBURG, stock={"A": 5, "SOFA": 1}),
            # the sofa alone by parcel from Leipzig (146 km) is cheaper than freight
            location("LEI", LEIPZIG, stock={"SOFA": 1}),
        ],
        pickup_store_id="S",
    )
    plan = solve(p, strategy)
    assert violations(p, plan) == []
    assert shipped_from(plan)["S"] == {"1": 1}
    if strategy == "optimiser":
        assert shipped_from(plan) == {"S": {"1": 1}, "LEI": {"2": 1}}
        transfer = next(s for s in plan.shipments if s.location_id == "LEI")
        assert (transfer.carrier, transfer.transfer_to) == ("parcel", "S")
        assert transfer.cost_cents == 1049 + 1990


def test_same_day_only_from_a_store_in_the_customers_town_before_cut_off() -> None:
    stock = {"A": 2}
    locations = [
        location("W-BER", BERLIN_2, "warehouse", stock=stock),
        location("S-LUD", LUDWIGSFELDE, "store", stock=stock),
        location("S-BER", BERLIN_2, "store", stock=stock, cutoff_hour=16),
    ]
    plan = solve(problem([line("1", "A")], locations, speed="same_day"))
    assert shipped_from(plan) == {"S-BER": {"1": 1}}
    assert plan.shipments[0].carrier == "courier"
    assert plan.shipments[0].ship_date == plan.shipments[0].promised_delivery == date(2026, 11, 24)

    late = solve(
        problem(
            [line("1", "A")],
            locations,
            speed="same_day",
            order_time=TUESDAY_10.replace(hour=16, minute=5),
        )
    )
    sunday = solve(
        problem(
            [line("1", "A")], locations, speed="same_day", order_time=TUESDAY_10 + timedelta(days=5)
        )
    )
    for plan in (late, sunday):
        assert plan.shipments == [] and plan.uncovered[0].quantity == 1


def test_express_uses_an_express_carrier_and_promises_the_next_working_day() -> None:
    p = problem(
        [line("1", "A")],
        [location("W", MUENCHEN, stock={"A": 1})],
        speed="express",
        order_time=TUESDAY_10 + timedelta(days=4),
    )  # Saturday 10:00
    plan = solve(p)
    s = plan.shipments[0]
    assert s.carrier == "parcel"
    assert s.cost_cents == 449 + 990
    assert (s.ship_date, s.promised_delivery) == (date(2026, 11, 28), date(2026, 11, 30))


def test_cut_off_and_sunday_move_ship_and_delivery_dates() -> None:
    stock = {"A": 1}
    friday_evening = TUESDAY_10 + timedelta(days=3, hours=8)  # Fri 18:00, cut-off 16
    plan = solve(
        problem([line("1", "A")], [location("W", MUENCHEN, stock=stock)], order_time=friday_evening)
    )
    s = plan.shipments[0]
    # ships Saturday; 2 working days by parcel (505 km): Monday, Tuesday
    assert (s.ship_date, s.promised_delivery) == (date(2026, 11, 28), date(2026, 12, 1))
    assert plan.criteria["delivery_days"] == 4


def test_capacity_limits_units_per_location() -> None:
    p = problem(
        [line("1", "A", quantity=3)],
        [
            location("NEAR", LUDWIGSFELDE, stock={"A": 5}, capacity_left=1),
            location("FAR", MUENCHEN, stock={"A": 5}, capacity_left=1),
        ],
    )
    plan = solve(p)
    assert shipped_from(plan) == {"NEAR": {"1": 1}, "FAR": {"1": 1}}
    assert plan.uncovered[0].quantity == 1
    assert violations(p, plan) == []


def test_shared_sku_across_lines_respects_stock_once() -> None:
    p = problem(
        [line("1", "A", quantity=2), line("2", "A", quantity=2)],
        [location("W", LUDWIGSFELDE, stock={"A": 3})],
    )
    for strategy in STRATEGIES:
        plan = solve(p, strategy)
        assert sum(pl.quantity for s in plan.shipments for pl in s.lines) == 3, strategy
        assert violations(p, plan) == []


def test_rule_profile_decides_between_one_slow_parcel_and_two_fast_ones() -> None:
    lines = [line("1", "A"), line("2", "B")]
    locations = [
        location("FAR", MUENCHEN, stock={"A": 1, "B": 1}),
        location("NEAR-A", LUDWIGSFELDE, stock={"A": 1}),
        location("NEAR-B", BERLIN_2, stock={"B": 1}),
    ]
    default = solve(problem(lines, locations))
    premium = solve(
        problem(
            lines,
            locations,
            profile=RuleProfile(priorities=[["delivery_days"], ["parcels"], ["cost"]]),
        )
    )
    assert set(shipped_from(default)) == {"FAR"}
    assert default.criteria["delivery_days"] == 2
    assert set(shipped_from(premium)) == {"NEAR-A", "NEAR-B"}
    assert premium.criteria["delivery_days"] == 1


def test_backlog_balance_prefers_the_less_loaded_location_of_a_zone() -> None:
    locations = [
        location("BUSY", LUDWIGSFELDE, stock={"A": 1}, zone="BB", backlog=100),
        location("IDLE", LUDWIGSFELDE, stock={"A": 1}, zone="BB", backlog=0),
    ]
    plan = solve(
        problem(
            [line("1", "A")], locations, profile=RuleProfile(priorities=[["backlog"], ["cost"]])
        )
    )
    assert set(shipped_from(plan)) == {"IDLE"}
    swapped = [
        locations[0].model_copy(update={"backlog": 0}),
        locations[1].model_copy(update={"backlog": 100}),
    ]
    plan = solve(
        problem([line("1", "A")], swapped, profile=RuleProfile(priorities=[["backlog"], ["cost"]]))
    )
    assert set(shipped_from(plan)) == {"BUSY"}


def test_line_split_can_be_switched_off() -> None:
    locations = [
        location("W1", LUDWIGSFELDE, stock={"A": 2}),
        location("W2", LEIPZIG, stock={"A": 2}),
    ]
    split = solve(problem([line("1", "A", quantity=3)], locations))
    whole = solve(
        problem(
            [line("1", "A", quantity=3)],
            locations,
            profile=RuleProfile(priorities=[["parcels"]], allow_line_split=False),
        )
    )
    assert split.uncovered == [] and len(split.shipments) == 2
    assert len(whole.shipments) == 1 and whole.uncovered[0].quantity == 1


def test_optimiser_sees_the_cut_off_that_every_baseline_misses() -> None:
    lines = [line("1", "A"), line("2", "B")]
    locations = [
        # nearest, most stock, best priority, but its collection has already gone today
        location("NEAR", LUDWIGSFELDE, stock={"A": 5, "B": 5}, priority=1, cutoff_hour=9),
        location("FAR", LEIPZIG, stock={"A": 1, "B": 1}, priority=2, cutoff_hour=16),
    ]
    p = problem(lines, locations)
    best = solve(p)
    assert set(shipped_from(best)) == {"FAR"}
    assert best.shipments[0].promised_delivery == date(2026, 11, 25)
    for strategy in STRATEGIES[1:]:
        baseline = solve(p, strategy)
        assert set(shipped_from(baseline)) == {"NEAR"}, strategy
        assert best.objective < baseline.objective


def test_nothing_in_stock_means_everything_uncovered() -> None:
    p = problem(
        [line("1", "A", quantity=2), line("2", "B")], [location("W", LUDWIGSFELDE, stock={"C": 5})]
    )
    for strategy in STRATEGIES:
        plan = solve(p, strategy)
        assert plan.shipments == []
        assert [(u.line_id, u.quantity) for u in plan.uncovered] == [("1", 2), ("2", 1)]
