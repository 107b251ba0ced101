"""Shipping calendars: own open weekdays, cut-offs per weekday and closed dates decide the ship
date; the destination's holidays decide delivery. The validator agrees with every strategy."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from routing import (
    STRATEGIES,
    CandidateLocation,
    RoutingPlan,
    RoutingProblem,
    ShippingCalendar,
    cutoff_on,
    solve,
    violations,
)
from routing.model import WEEKDAYS
from tests.unit.routing.factories import BERLIN, line, location, problem, problems

TUE, WED, THU, FRI, SAT, SUN, MON = (date(2026, 11, d) for d in range(24, 31))
NEXT_TUE = date(2026, 12, 1)
LUDWIGSFELDE = 2  # 28 km from the Berlin customer: parcel, one day in transit
MON_SAT = dict.fromkeys(WEEKDAYS[:6], "16:00")
MON_FRI = dict.fromkeys(WEEKDAYS[:5], "16:00")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def order(
    when: datetime, calendar: ShippingCalendar | None, kind: str = "warehouse", **fields: object
) -> RoutingProblem:
    """One unit from one location near the Berlin customer, ordered at `when`."""
    loc = location("L", LUDWIGSFELDE, kind, stock={"A": 5}, calendar=calendar)
    return problem([line("1", "A")], [loc], order_time=when, **fields)


def planned(p: RoutingProblem) -> list[RoutingPlan]:
    """Every strategy's plan, each checked by the independent validator."""
    plans = [solve(p, strategy) for strategy in STRATEGIES]
    for plan in plans:
        assert violations(p, plan) == [], plan.strategy
    return plans


def ship_dates(p: RoutingProblem) -> set[tuple[date, date]]:
    """(ship date, promised delivery) over all strategies: one pair if they agree."""
    return {(s.ship_date, s.promised_delivery) for plan in planned(p) for s in plan.shipments}


def test_saturday_order_after_the_cutoff_at_a_location_closed_sundays_ships_monday() -> None:
    calendar = ShippingCalendar(cutoffs=MON_SAT)
    assert ship_dates(order(at(SAT, 17), calendar)) == {(MON, NEXT_TUE)}
    assert ship_dates(order(at(SAT, 10), calendar)) == {(SAT, MON)}  # no delivery on Sunday


def test_a_location_open_monday_to_friday_ships_a_late_friday_order_on_monday() -> None:
    calendar = ShippingCalendar(cutoffs=MON_FRI)
    assert ship_dates(order(at(FRI, 17), calendar)) == {(MON, NEXT_TUE)}
    assert ship_dates(order(at(SAT, 9), calendar)) == {(MON, NEXT_TUE)}  # closed on Saturday
    assert ship_dates(order(at(FRI, 15, 59), calendar)) == {(FRI, SAT)}


def test_a_closed_date_moves_the_ship_date() -> None:
    assert ship_dates(order(at(TUE, 10), ShippingCalendar(cutoffs=MON_SAT, closed=[TUE]))) == {
        (WED, THU)
    }
    closed = ShippingCalendar(cutoffs=MON_SAT, closed=[WED, THU])
    assert ship_dates(order(at(TUE, 17), closed)) == {(FRI, SAT)}


def test_the_weekdays_own_cutoff_decides() -> None:
    calendar = ShippingCalendar(cutoffs={**MON_FRI, "sat": "12:00", "tue": "16:30"})
    assert ship_dates(order(at(SAT, 11, 59), calendar)) == {(SAT, MON)}
    assert ship_dates(order(at(SAT, 12), calendar)) == {(MON, NEXT_TUE)}
    assert ship_dates(order(at(TUE, 16, 29), calendar)) == {(TUE, WED)}
    assert ship_dates(order(at(TUE, 16, 30), calendar)) == {(WED, THU)}
    all_day = ShippingCalendar(cutoffs={"tue": "24:00", "wed": "00:00", "thu": "09:00"})
    assert ship_dates(order(at(TUE, 23, 59), all_day)) == {(TUE, WED)}
    assert ship_dates(order(at(WED, 0), all_day)) == {(THU, FRI)}  # 00:00: never the same day


def test_a_destination_holiday_delays_delivery_not_the_locations_own_shipping() -> None:
    calendar = ShippingCalendar(cutoffs=MON_SAT)
    assert ship_dates(order(at(TUE, 10), calendar, holidays=[WED])) == {(TUE, THU)}
    # a holiday where the parcel goes, not where the location is: it ships, nobody delivers
    assert ship_dates(order(at(WED, 10), calendar, holidays=[WED])) == {(WED, THU)}
    # without its own calendar the problem's holidays close the location as before
    assert ship_dates(order(at(WED, 10), None, holidays=[WED])) == {(THU, FRI)}


def test_a_sunday_opening_ships_on_sunday_and_delivers_on_monday() -> None:
    calendar = ShippingCalendar(cutoffs={"sun": "14:00"})
    assert ship_dates(order(at(SAT, 10), calendar)) == {(SUN, MON)}


def test_same_day_needs_todays_cutoff_and_a_delivery_day() -> None:
    calendar = ShippingCalendar(cutoffs={**MON_FRI, "sat": "12:00", "sun": "12:00"})

    def same_day(when: datetime, **fields: object) -> list[RoutingPlan]:
        store = location("S", 1, "store", stock={"A": 2}, calendar=calendar)  # Berlin 10969
        p = problem([line("1", "A")], [store], order_time=when, speed="same_day", **fields)
        return planned(p)

    assert {s.ship_date for p in same_day(at(SAT, 11)) for s in p.shipments} == {SAT}
    assert all(p.shipments == [] for p in same_day(at(SAT, 13)))  # after Saturday's cut-off
    assert all(p.shipments == [] for p in same_day(at(SUN, 10)))  # open, but nobody delivers
    assert all(p.shipments == [] for p in same_day(at(TUE, 10), holidays=[TUE]))


def test_pickup_is_ready_on_the_stores_next_open_day() -> None:
    calendar = ShippingCalendar(cutoffs=dict.fromkeys(["tue", "wed", "thu", "fri", "sat"], "18:00"))
    store = location("S", 0, "store", stock={"A": 1}, calendar=calendar)
    p = problem([line("1", "A")], [store], order_time=at(SAT, 19), pickup_store_id="S")
    for plan in planned(p):
        (shipment,) = plan.shipments
        assert (shipment.carrier, shipment.ship_date, shipment.promised_delivery) == (
            "pickup",
            NEXT_TUE,
            NEXT_TUE,
        )


def test_the_validator_refuses_a_ship_date_the_calendar_does_not_allow() -> None:
    p = order(at(FRI, 17), ShippingCalendar(cutoffs=MON_FRI))
    plan = solve(p)
    legacy_dates = plan.shipments[0].model_copy(update={"ship_date": SAT, "promised_delivery": MON})
    wrong = plan.model_copy(update={"shipments": [legacy_dates]})
    assert any("cut-off rules give 2026-11-30" in v for v in violations(p, wrong))


def test_cutoff_on_names_the_days_cutoff_or_none() -> None:
    loc = location("L", calendar=ShippingCalendar(cutoffs={"sat": "12:00", "mon": "24:00"}))
    assert cutoff_on(loc, SAT) == time(12, 0)
    assert cutoff_on(loc, MON) == time.max
    assert cutoff_on(loc, SUN) is None
    assert cutoff_on(loc, TUE) is None
    closed = location("C", calendar=ShippingCalendar(cutoffs={"sat": "12:00"}, closed=[SAT]))
    assert cutoff_on(closed, SAT) is None
    legacy = location("D", cutoff_hour=17)
    assert cutoff_on(legacy, TUE) == time(17, 0)
    assert cutoff_on(legacy, SUN) is None
    assert cutoff_on(legacy, TUE, [TUE]) is None


@pytest.mark.parametrize(
    "cutoffs",
    [
        {},
        {"mon": "25:00"},
        {"mon": "7:30"},
        {"mon": "24:30"},
        {"mon": "12:60"},
        {"monday": "12:00"},
    ],
)
def test_a_bad_calendar_is_refused(cutoffs: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        ShippingCalendar.model_validate({"cutoffs": cutoffs})


def test_calendars_travel_as_json() -> None:
    p = order(at(SAT, 10), ShippingCalendar(cutoffs={"sat": "12:00"}, closed=[MON]))
    again = RoutingProblem.model_validate_json(p.model_dump_json())
    assert again == p
    assert '"closed":["2026-11-30"]' in p.model_dump_json()


def _legacy_calendar(loc: CandidateLocation, holidays: list[date]) -> ShippingCalendar:
    """The calendar a location without one behaves by: Monday to Saturday, the problem's
    holidays closed."""
    return ShippingCalendar(
        cutoffs=dict.fromkeys(WEEKDAYS[:6], f"{loc.cutoff_hour:02d}:00"), closed=holidays
    )


def _comparable(plan: RoutingPlan) -> dict[str, object]:
    return plan.model_dump(exclude={"solve_ms"})


QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WEEK = [TUE + timedelta(days=i) for i in range(8)]
CUTOFFS = ["00:00", "09:30", "12:00", "16:00", "24:00"]


@QUICK
@given(problems(max_lines=3, max_locations=4), st.lists(st.sampled_from(WEEK), max_size=3))
def test_no_calendar_plans_exactly_like_the_equivalent_calendar(
    p: RoutingProblem, holidays: list[date]
) -> None:
    """None keeps the old rules: the same plans as Monday to Saturday at the cut-off hour,
    closed on the problem's holidays, for every strategy."""
    p = RoutingProblem.model_validate(p.model_dump() | {"holidays": holidays})
    explicit = p.model_copy(
        update={
            "locations": [
                x.model_copy(update={"calendar": _legacy_calendar(x, holidays)})
                for x in p.locations
            ]
        }
    )
    for strategy in STRATEGIES:
        a, b = solve(p, strategy), solve(explicit, strategy)
        assert _comparable(a) == _comparable(b), strategy
        assert violations(p, a) == []


calendars = st.builds(
    lambda days, hours, closed: ShippingCalendar(
        cutoffs={d: h for d, h in zip(days, hours, strict=False)}, closed=closed
    ),
    st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True),
    st.lists(
        st.sampled_from(["00:00", "09:30", "12:00", "16:00", "24:00"]), min_size=7, max_size=7
    ),
    st.lists(st.sampled_from(WEEK), max_size=3),
)


@QUICK
@given(
    problems(max_lines=3, max_locations=4),
    st.lists(calendars, min_size=4, max_size=4),
    st.lists(st.sampled_from(WEEK), max_size=2),
)
def test_every_strategy_keeps_random_calendars(
    p: RoutingProblem, drawn: list[ShippingCalendar], holidays: list[date]
) -> None:
    """Random open days, cut-offs and closed dates: the validator finds nothing to object,
    and every ship date is a day the location ships, before or after its cut-off as due."""
    with_calendars = RoutingProblem.model_validate(
        p.model_dump()
        | {
            "holidays": holidays,
            "locations": [
                x.model_dump() | {"calendar": c.model_dump()}
                for x, c in zip(p.locations, drawn, strict=False)
            ],
        }
    )
    locations = {x.id: x for x in with_calendars.locations}
    for strategy in STRATEGIES:
        plan = solve(with_calendars, strategy)
        assert violations(with_calendars, plan) == [], strategy
        for s in plan.shipments:
            assert cutoff_on(locations[s.location_id], s.ship_date) is not None
            if s.carrier != "pickup":  # the pickup store hands over on its own open days
                assert s.promised_delivery.weekday() != 6
                assert s.promised_delivery not in holidays
