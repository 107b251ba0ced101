"""VAT on gross prices and the split of an order discount: worked German examples and the
properties that make invoices add up (core/rules/vat.py)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.rules.vat import (
    GrossLine,
    allocate,
    breakdown,
    rate_for,
    rate_of,
    round_half_up,
    vat_in_gross,
    with_discount,
)

RATES = {"standard": 19.0, "reduced": 7.0, "zero": 0.0}
R19, R7, R0 = Decimal(19), Decimal(7), Decimal(0)


# ---- worked examples ------------------------------------------------------------------------


def test_119_euro_at_19_percent_is_100_net_and_19_vat() -> None:
    b = breakdown([GrossLine(11900, 1, R19)])
    (line,) = b.lines
    assert (line.net_cents, line.vat_cents, line.gross_cents) == (10000, 1900, 11900)


def test_10_70_at_7_percent_is_10_net_and_0_70_vat() -> None:
    (line,) = breakdown([GrossLine(1070, 1, R7)]).lines
    assert (line.net_cents, line.vat_cents) == (1000, 70)


def test_a_mixed_basket_sums_per_rate() -> None:
    # 2 x 49.90 shirt (19 %), 1 x 24.90 cookbook (7 %), 1 x 5.00 gift card (0 %)
    b = breakdown([GrossLine(4990, 2, R19), GrossLine(2490, 1, R7), GrossLine(500, 1, R0)])
    by_rate = {t.rate: t for t in b.rates}
    # 99.80 x 19/119 = 15.934 -> 15.93; 24.90 x 7/107 = 1.6289 -> 1.63
    assert (by_rate[R19].net_cents, by_rate[R19].vat_cents) == (8387, 1593)
    assert (by_rate[R7].net_cents, by_rate[R7].vat_cents) == (2327, 163)
    assert (by_rate[R0].net_cents, by_rate[R0].vat_cents) == (500, 0)
    assert [t.rate for t in b.rates] == [R19, R7, R0]
    assert b.gross_cents == 9980 + 2490 + 500 == b.net_cents + b.vat_cents


def test_half_a_cent_rounds_up() -> None:
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(-5, 2)) == -3
    assert round_half_up(Fraction(249, 100)) == 2
    # at 20 %, 9 cents gross hold exactly 1.5 cents of VAT (9 x 20/120): it rounds up to 2
    assert vat_in_gross(9, Decimal(20)) == 2
    assert vat_in_gross(-9, Decimal(20)) == -2
    assert vat_in_gross(1070, R7) == 70
    assert vat_in_gross(-11900, R19) == -1900


def test_rates_from_settings_are_exact() -> None:
    assert rate_for("standard", RATES) == Decimal("19")
    assert rate_for("reduced", RATES) == Decimal("7")
    assert rate_of(10.0) == Decimal("10") and str(rate_of(10.0)) == "10"
    assert rate_of(5.5) == Decimal("5.5")
    with pytest.raises(ValueError, match="unknown VAT class"):
        rate_for("luxury", RATES)
    with pytest.raises(ValueError):
        rate_of(-1)


def test_a_discount_is_spread_by_value_and_taxed_per_line() -> None:
    lines = [GrossLine(4990, 2, R19), GrossLine(2490, 1, R7)]
    discounted = with_discount(lines, 1000)  # 10 EUR off 124.70
    assert [ln.discount_cents for ln in discounted] == [800, 200]  # 800.3 / 199.7
    b = breakdown(discounted)
    assert b.gross_cents == 12470 - 1000
    assert all(t.net_cents + t.vat_cents == t.gross_cents for t in b.lines)
    with pytest.raises(ValueError, match="larger than the goods"):
        with_discount(lines, 12471)


def test_allocate_examples() -> None:
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]  # ties go to the lower index
    assert allocate(2, [1, 1, 1]) == [1, 1, 0]
    assert allocate(0, [5, 0]) == [0, 0]
    assert allocate(0, []) == []
    assert allocate(7, [0, 3, 0]) == [0, 7, 0]
    with pytest.raises(ValueError):
        allocate(1, [0, 0])
    with pytest.raises(ValueError):
        allocate(-1, [1])


# ---- properties -----------------------------------------------------------------------------

rates = st.sampled_from([R19, R7, R0, Decimal("5.5"), Decimal("16")])
gross_lines = st.builds(
    GrossLine,
    unit_gross_cents=st.integers(0, 10_000_000),
    quantity=st.integers(0, 1000),
    rate=rates,
)


@given(st.lists(gross_lines, max_size=30))
def test_net_plus_vat_is_gross_per_line_per_rate_and_in_total(lines: list[GrossLine]) -> None:
    b = breakdown(lines)
    for t in b.lines:
        assert t.net_cents + t.vat_cents == t.gross_cents
        exact = Fraction(t.gross_cents) * Fraction(t.rate) / (100 + Fraction(t.rate))
        assert abs(t.vat_cents - exact) <= Fraction(1, 2)
    for r in b.rates:
        assert r.net_cents + r.vat_cents == r.gross_cents
        mine = [t for t in b.lines if t.rate == r.rate]
        assert r.gross_cents == sum(t.gross_cents for t in mine)
        assert r.vat_cents == sum(t.vat_cents for t in mine)
    assert b.gross_cents == sum(ln.unit_gross_cents * ln.quantity for ln in lines)
    assert b.net_cents + b.vat_cents == b.gross_cents


@given(st.integers(-(10**9), 10**9), rates)
def test_vat_is_symmetric_for_credit_notes(gross: int, rate: Decimal) -> None:
    assert vat_in_gross(-gross, rate) == -vat_in_gross(gross, rate)


weights = st.lists(st.integers(0, 10_000_000), min_size=1, max_size=40).filter(
    lambda ws: sum(ws) > 0
)


@given(st.integers(0, 10**9), weights)
def test_allocation_is_exact_proportional_and_deterministic(total: int, ws: list[int]) -> None:
    shares = allocate(total, ws)
    assert sum(shares) == total
    assert all(s >= 0 for s in shares)
    whole = sum(ws)
    for s, w in zip(shares, ws, strict=True):
        assert abs(s - Fraction(total * w, whole)) < 1
    assert allocate(total, ws) == shares
    assert allocate(total, list(ws)) == shares


@given(weights, st.data())
def test_a_discount_no_larger_than_the_goods_leaves_no_line_negative(
    ws: list[int], data: st.DataObject
) -> None:
    total = data.draw(st.integers(0, sum(ws)))
    shares = allocate(total, ws)
    assert all(0 <= s <= w for s, w in zip(shares, ws, strict=True))


@given(st.lists(gross_lines, min_size=1, max_size=20), st.data())
def test_discounted_lines_keep_the_paid_gross(lines: list[GrossLine], data: st.DataObject) -> None:
    goods = sum(ln.gross_cents for ln in lines)
    discount = data.draw(st.integers(0, goods))
    b = breakdown(with_discount(lines, discount))
    assert b.gross_cents == goods - discount
    assert all(t.gross_cents >= 0 for t in b.lines)
    assert b.net_cents + b.vat_cents == b.gross_cents
