"""Which returns destination wins (core.rules.return_pick), pure: the tolerance's edge, the
order of the tie-breaks, the line-weighted days of cover, and properties over arbitrary
candidate lists. The worked examples live in tests/unit/test_returns_routing.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.returns import ReturnLine
from core.rules.return_pick import (
    NO_DEMAND_COVER_DAYS,
    Candidate,
    NoDestination,
    line_cover,
    pick,
)


@dataclass(frozen=True)
class Place:
    """The rule needs nothing of a location but its id."""

    id: str


def _c(
    loc_id: str, cover: float, cents: int = 449, days: int = 2, km: float = 300.0
) -> Candidate[Place]:
    return Candidate(Place(loc_id), cover, cents, days, km, "parcel")


def _winner(candidates: list[Candidate[Place]], tolerance: float) -> str:
    return pick(candidates, tolerance).location.id


def _line(sku: str, quantity: int) -> ReturnLine:
    return ReturnLine(
        line_id=f"L-{sku}",
        sku=sku,
        name=sku,
        quantity=quantity,
        unit_price_cents=1000,
        weight_kg=0.5,
        reason="changed_mind",
        shipment_id="S1",
    )


# ---- the tolerance ----------------------------------------------------------------------------


def test_the_tolerance_is_inclusive() -> None:
    assert _winner([_c("NEEDY", 10, cents=549), _c("EDGE", 17, cents=379)], 7) == "EDGE"
    assert _winner([_c("NEEDY", 10, cents=549), _c("PAST", 17.01, cents=379)], 7) == "NEEDY"


def test_zero_tolerance_leaves_only_the_neediest() -> None:
    found = [_c("A", 3.0, cents=999), _c("B", 3.01, cents=1), _c("C", 3.0, cents=998)]
    assert _winner(found, 0) == "C"


def test_a_wide_tolerance_makes_cover_irrelevant() -> None:
    found = [_c("NEEDY", 0, cents=549), _c("FULL", NO_DEMAND_COVER_DAYS, cents=379)]
    assert _winner(found, NO_DEMAND_COVER_DAYS) == "FULL"


def test_the_tolerance_counts_from_the_neediest_not_from_each_other() -> None:
    # B is within 7 days of A and C within 7 of B, but C is 12 above the neediest.
    found = [_c("A", 0, cents=600), _c("B", 6, cents=500), _c("C", 12, cents=100)]
    assert _winner(found, 7) == "B"


def test_a_store_keeps_its_goods_unless_another_location_clearly_needs_them_more() -> None:
    store = Candidate(Place("STORE"), 20.0, 0, 0, 0.0, "none")
    assert _winner([store, _c("WH", 14, cents=449)], 7) == "STORE"
    assert _winner([store, _c("WH", 12.99, cents=449)], 7) == "WH"


# ---- the tie-breaks, in order -----------------------------------------------------------------


def test_carriage_comes_before_transit_days_and_distance() -> None:
    found = [_c("FAST", 5, cents=450, days=1, km=10), _c("CHEAP", 5, cents=449, days=4, km=900)]
    assert _winner(found, 0) == "CHEAP"


def test_transit_days_come_before_distance() -> None:
    assert _winner([_c("NEAR", 5, days=3, km=10), _c("QUICK", 5, days=2, km=900)], 0) == "QUICK"


def test_distance_comes_before_the_id_even_by_a_hair() -> None:
    assert _winner([_c("A", 5, km=300.1), _c("B", 5, km=300.0)], 0) == "B"


def test_among_the_useful_cover_itself_is_no_tie_break() -> None:
    # Equal cost, days and distance: the id decides, not which one needs the goods more.
    assert _winner([_c("B", 1), _c("A", 6)], 7) == "A"


def test_the_carrier_name_plays_no_part() -> None:
    a = Candidate(Place("A"), 5.0, 449, 2, 300.0, "zzz")
    b = Candidate(Place("B"), 5.0, 449, 2, 300.0, "aaa")
    assert pick([b, a], 0) is a


def test_a_single_candidate_wins_whatever_it_costs() -> None:
    only = _c("ONLY", NO_DEMAND_COVER_DAYS, cents=99_999, days=9, km=999)
    assert pick([only], 0) is only


def test_no_candidate_is_a_value_error_the_caller_can_report() -> None:
    with pytest.raises(NoDestination, match="no location can take these goods"):
        pick([], 0)
    assert issubclass(NoDestination, ValueError)


# ---- days of cover for the returned lines -----------------------------------------------------


def test_cover_is_weighted_by_the_units_returned() -> None:
    lines = [_line("TS-1", 3), _line("CAP", 1)]
    assert line_cover({"TS-1": 10.0, "CAP": 50.0}, lines) == 20.0  # (3*10 + 50) / 4


def test_a_sku_the_location_neither_carries_nor_sold_counts_as_never_needed() -> None:
    lines = [_line("TS-1", 1), _line("CAP", 1)]
    assert line_cover({"TS-1": 0.0}, lines) == NO_DEMAND_COVER_DAYS / 2
    assert line_cover({}, lines) == NO_DEMAND_COVER_DAYS


def test_cover_is_rounded_to_two_decimals() -> None:
    assert line_cover({"TS-1": 1.0, "CAP": 0.0}, [_line("TS-1", 1), _line("CAP", 2)]) == 0.33


# ---- properties -------------------------------------------------------------------------------


def _key(c: Candidate[Place]) -> tuple[int, int, float, str]:
    return (c.carriage_cents, c.transit_days, c.distance_km, c.location.id)


_covers = st.floats(0, 400, allow_nan=False) | st.sampled_from([0.0, 7.0, 14.0])
_candidate_fields = st.tuples(
    _covers,
    st.integers(0, 1500),
    st.integers(0, 5),
    st.sampled_from([0.0, 12.5, 300.0, 300.0000001]),
)


@st.composite
def _candidates(draw: st.DrawFn) -> list[Candidate[Place]]:
    fields = draw(st.lists(_candidate_fields, min_size=1, max_size=8))
    return [
        _c(f"L{i:02d}", cover, cents, days, km) for i, (cover, cents, days, km) in enumerate(fields)
    ]


_tolerances = st.sampled_from([0.0, 7.0]) | st.floats(0, 500, allow_nan=False)


@given(_candidates(), _tolerances, st.randoms(use_true_random=False))
def test_the_winner_does_not_depend_on_the_order_of_the_candidates(
    candidates: list[Candidate[Place]], tolerance: float, rnd: object
) -> None:
    shuffled = list(candidates)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert pick(shuffled, tolerance) == pick(candidates, tolerance)


@given(_candidates(), _tolerances)
def test_the_winner_is_useful_and_no_useful_candidate_beats_it(
    candidates: list[Candidate[Place]], tolerance: float
) -> None:
    best = pick(candidates, tolerance)
    neediest = min(c.days_of_cover for c in candidates)
    assert best in candidates
    assert best.days_of_cover <= neediest + tolerance
    useful = [c for c in candidates if c.days_of_cover <= neediest + tolerance]
    assert all(_key(best) <= _key(c) for c in useful)


@given(_candidates(), _tolerances, _candidate_fields)
def test_a_candidate_no_needier_than_the_neediest_and_dearer_than_the_winner_changes_nothing(
    candidates: list[Candidate[Place]],
    tolerance: float,
    extra: tuple[float, int, int, float],
) -> None:
    best = pick(candidates, tolerance)
    neediest = min(c.days_of_cover for c in candidates)
    cover, cents, days, km = extra
    newcomer = _c("ZZ", max(cover, neediest), best.carriage_cents + 1 + cents, days, km)
    assert pick([*candidates, newcomer], tolerance) == best


@given(_candidates(), _tolerances)
def test_a_wider_tolerance_never_makes_the_parcel_dearer(
    candidates: list[Candidate[Place]], tolerance: float
) -> None:
    narrow, wide = pick(candidates, tolerance), pick(candidates, tolerance + 1)
    assert _key(wide) <= _key(narrow)
