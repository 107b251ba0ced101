"""The return routing rule on its own (pure): the neediest locations first, within the
tolerance the cheapest to reach, ties by transit days, distance and id."""

from __future__ import annotations

import pytest

from core.db.schema import Location
from core.rules.return_pick import Candidate, NoDestination, pick


def _c(loc_id: str, cover: float, cents: int = 449, days: int = 2, km: float = 300.0) -> Candidate:
    loc = Location(
        id=loc_id,
        name=loc_id,
        kind="warehouse",
        postcode="10115",
        city="X",
        latitude=52.5,
        longitude=13.4,
    )
    return Candidate(loc, cover, cents, days, km, "parcel")


def test_the_neediest_location_wins_over_a_cheaper_one_that_does_not_need_it() -> None:
    assert pick([_c("NEAR", 500, cents=379, km=20), _c("NEEDY", 10)], 7).location.id == "NEEDY"


def test_within_the_tolerance_the_cheapest_to_reach_wins() -> None:
    found = pick([_c("A", 10, cents=549), _c("B", 16, cents=449), _c("C", 18, cents=379)], 7)
    assert found.location.id == "B"  # C is cheaper but 8 days above the neediest


def test_ties_by_transit_days_then_distance_then_id() -> None:
    assert pick([_c("A", 5, days=2), _c("B", 5, days=1)], 0).location.id == "B"
    assert pick([_c("A", 5, km=400), _c("B", 5, km=300)], 0).location.id == "B"
    assert pick([_c("B", 5), _c("A", 5)], 0).location.id == "A"


def test_no_candidate_is_an_error_not_a_guess() -> None:
    with pytest.raises(NoDestination):
        pick([], 7)
