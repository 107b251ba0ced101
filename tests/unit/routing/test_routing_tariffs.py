"""Dates, carrier tariffs and distances: the arithmetic every plan is built on."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from routing import Carrier, DistanceBand, WeightBand
from routing.carriers import default_carriers, parcel_cost_cents, transit_days
from routing.dates import add_working_days, local_time, ship_date
from routing.geo import haversine_km
from tests.unit.routing.factories import BERLIN, TUESDAY_10, customer

TUE, WED, SAT, SUN, MON = (date(2026, 11, d) for d in (24, 25, 28, 29, 30))


@pytest.mark.parametrize(
    ("day", "hour", "holidays", "expected"),
    [
        (TUE, 10, [], TUE),  # before cut-off
        (TUE, 16, [], WED),  # at cut-off: next day
        (SAT, 10, [], SAT),  # Saturday is a shipping day
        (SAT, 17, [], MON),  # after cut-off on Saturday: skip Sunday
        (SUN, 9, [], MON),  # never on Sunday
        (TUE, 17, [WED], date(2026, 11, 26)),  # skip a public holiday
    ],
)
def test_ship_date_respects_cut_off_sundays_and_holidays(
    day: date, hour: int, holidays: list[date], expected: date
) -> None:
    local = datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN)
    assert ship_date(local, 16, holidays) == expected


def test_transit_skips_sundays_and_holidays() -> None:
    assert add_working_days(SAT, 0, []) == SAT
    assert add_working_days(SAT, 1, []) == MON
    assert add_working_days(date(2026, 11, 27), 2, []) == MON  # Fri -> Sat -> Mon
    assert add_working_days(date(2026, 12, 23), 2, [date(2026, 12, 25)]) == date(2026, 12, 26)


def test_cut_off_is_judged_on_the_locations_wall_clock() -> None:
    utc = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)  # 16:30 in Berlin (CET)
    local = local_time(utc, "Europe/Berlin")
    assert local.hour == 16
    assert ship_date(local, 16, []) == WED


def test_transit_by_region_pair_then_region_then_distance() -> None:
    carrier = Carrier(
        name="x",
        weight_bands=[WeightBand(cost_cents=100)],
        transit_bands=[DistanceBand(max_km=100, days=1), DistanceBand(days=3)],
        region_days={"80": 4, "10-80": 2},
    )
    assert transit_days(carrier, "10115", "80331", 505, "standard") == 2  # pair
    assert transit_days(carrier, "50667", "80331", 456, "standard") == 4  # destination
    assert transit_days(carrier, "50667", "10115", 478, "standard") == 3  # distance
    assert transit_days(carrier, "10969", "10115", 3, "standard") == 1
    assert transit_days(carrier, "50667", "10115", 478, "express") == 1
    assert transit_days(carrier, "10969", "10115", 3, "same_day") == 0


def test_parcel_price_by_weight_band_speed_and_bulk() -> None:
    parcel = next(c for c in default_carriers() if c.name == "parcel")
    assert parcel_cost_cents(parcel, 2000, "standard", bulky=False) == 449  # band limit inclusive
    assert parcel_cost_cents(parcel, 2001, "standard", bulky=False) == 549
    assert parcel_cost_cents(parcel, 40000, "standard", bulky=False) == 2990  # open band
    assert parcel_cost_cents(parcel, 500, "express", bulky=True) == 449 + 990 + 1990


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        ([WeightBand(max_kg=2, cost_cents=100)], "open-ended"),
        (
            [
                WeightBand(max_kg=5, cost_cents=100),
                WeightBand(max_kg=2, cost_cents=200),
                WeightBand(cost_cents=300),
            ],
            "ascending",
        ),
        ([WeightBand(max_kg=2, cost_cents=500), WeightBand(cost_cents=300)], "must not cost less"),
    ],
)
def test_carrier_tariffs_are_validated(bands: list[WeightBand], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Carrier(name="bad", weight_bands=bands)


def test_carrier_region_keys_are_validated() -> None:
    with pytest.raises(ValidationError, match="Leitregion"):
        Carrier(name="bad", weight_bands=[WeightBand(cost_cents=1)], region_days={"801": 1})


def test_haversine_between_real_postcodes() -> None:
    berlin, munich = customer(0), customer(6)
    km = haversine_km(berlin.latitude, berlin.longitude, munich.latitude, munich.longitude)
    assert 500 < km < 510
    back = haversine_km(munich.latitude, munich.longitude, berlin.latitude, berlin.longitude)
    assert back == pytest.approx(km)
    assert haversine_km(52.5, 13.4, 52.5, 13.4) == 0


def test_order_time_must_carry_a_timezone() -> None:
    from tests.unit.routing.factories import line, location, problem

    with pytest.raises(ValidationError, match="timezone-aware"):
        problem([line("1", "A")], [location("W")], order_time=TUESDAY_10.replace(tzinfo=None))
