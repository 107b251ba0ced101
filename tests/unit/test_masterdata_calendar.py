"""A location row's shipping calendar: its weekdays and cut-offs, its state's public holidays,
its own closing days; the destination's holidays for delivery. (No database needed.)"""

from __future__ import annotations

from datetime import date

import routing
from activities.masterdata.calendar import (
    OWN_CLOSING,
    closed_days,
    destination_holidays,
    shipping_calendar,
)
from core.db.schema import Location

CORPUS_CHRISTI = date(2027, 5, 27)  # a holiday in Hesse, not in Lower Saxony or Berlin
REFORMATION_DAY = date(2027, 10, 31)  # Sunday in 2027; a holiday in Lower Saxony, not Hesse


def row(**fields: object) -> Location:
    base: dict[str, object] = {
        "id": "WH-FULDA",
        "name": "Lager Fulda",
        "kind": "warehouse",
        "postcode": "36037",
        "city": "Fulda",
        "state": "HE",
        "latitude": 50.55,
        "longitude": 9.68,
    }
    return Location.model_validate(base | fields)


def test_no_cutoffs_means_monday_to_saturday_at_the_cutoff_hour() -> None:
    cal = shipping_calendar(row(cutoff_hour=17), date(2027, 5, 24), 7)
    assert cal.cutoffs == dict.fromkeys(["mon", "tue", "wed", "thu", "fri", "sat"], "17:00")
    assert cal.closed == [CORPUS_CHRISTI]
    assert shipping_calendar(row(cutoff_hour=24), date(2027, 5, 24)).cutoffs["mon"] == "24:00"
    assert shipping_calendar(row(cutoff_hour=7), date(2027, 5, 24)).cutoffs["sat"] == "07:00"


def test_own_cutoffs_and_closing_days() -> None:
    loc = row(
        cutoffs={"mon": "16:00", "fri": "14:30", "sat": "12:00"},
        closed_dates=["2027-05-31", "2027-12-24", "2027-05-01"],
    )
    cal = shipping_calendar(loc, date(2027, 5, 24), 14)
    assert cal.cutoffs == {"mon": "16:00", "fri": "14:30", "sat": "12:00"}
    assert cal.closed == [CORPUS_CHRISTI, date(2027, 5, 31)]  # only those in the window
    assert isinstance(cal, routing.ShippingCalendar)


def test_the_states_holidays_close_the_location_national_ones_without_a_state() -> None:
    start = date(2027, 5, 1)
    assert CORPUS_CHRISTI in shipping_calendar(row(state="HE"), start).closed
    assert CORPUS_CHRISTI not in shipping_calendar(row(state="NI"), start).closed
    national = shipping_calendar(row(state=""), start).closed
    assert CORPUS_CHRISTI not in national
    assert date(2027, 5, 6) in national  # Ascension Day, everywhere
    assert REFORMATION_DAY in shipping_calendar(row(state="NI"), date(2027, 10, 1)).closed


def test_a_calendar_over_new_year_takes_both_years_holidays() -> None:
    closed = shipping_calendar(row(), date(2027, 12, 20), 20).closed
    assert closed == [date(2027, 12, 25), date(2027, 12, 26), date(2028, 1, 1)]


def test_closed_days_give_a_reason_for_each() -> None:
    loc = row(
        cutoffs=dict.fromkeys(["mon", "tue", "wed", "thu", "fri"], "16:00"),
        closed_dates=["2027-05-28"],
    )
    days = closed_days(loc, date(2027, 5, 24), 8)
    assert days == {
        CORPUS_CHRISTI: "Corpus Christi",
        date(2027, 5, 28): OWN_CLOSING,
        date(2027, 5, 29): "not open on sat",
        date(2027, 5, 30): "not open on sun",
    }


def test_the_routing_ship_date_follows_the_rows_calendar() -> None:
    """Wednesday evening before Corpus Christi: Fulda (Hesse) ships on Friday."""
    cal = shipping_calendar(row(), date(2027, 5, 26))
    loc = routing.CandidateLocation(
        id="WH-FULDA",
        kind="warehouse",
        postcode="36037",
        latitude=50.55,
        longitude=9.68,
        capacity_left=10,
        calendar=cal,
    )
    assert routing.cutoff_on(loc, date(2027, 5, 27)) is None
    assert routing.cutoff_on(loc, date(2027, 5, 28)) is not None


def test_destination_holidays_are_those_of_the_postcodes_state() -> None:
    start = date(2027, 5, 1)
    assert CORPUS_CHRISTI in destination_holidays("34117", start)  # Kassel, Hesse
    assert CORPUS_CHRISTI not in destination_holidays("10115", start)  # Berlin
    assert CORPUS_CHRISTI not in destination_holidays("99999", start)  # unknown: national
    assert date(2027, 5, 6) in destination_holidays("99999", start)
    assert destination_holidays("34117", start, 10) == [date(2027, 5, 1), date(2027, 5, 6)]
