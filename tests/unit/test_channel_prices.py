"""Shop prices and discounts become price tiers whose units each cost the customer exactly
what they paid: amounts add up to the cent whatever the quantities and discounts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.rules.channel_prices import AgreedLine, price_tiers

lines_st = st.lists(
    st.tuples(st.integers(0, 100_000), st.integers(1, 50), st.integers(0, 100_000)).map(
        lambda t: AgreedLine(t[0], t[1], min(t[2], t[0] * t[1]))
    ),
    min_size=1,
    max_size=8,
)


@given(lines=lines_st, share=st.floats(0, 1))
def test_tiers_add_up_to_what_the_customer_pays(lines: list[AgreedLine], share: float) -> None:
    goods = sum(ln.gross_cents for ln in lines)
    coupon = int(goods * share)
    tiers = price_tiers(lines, coupon)
    assert sum(t.paid_unit_cents * t.quantity for t in tiers) == goods - coupon
    for i, ln in enumerate(lines):
        mine = [t for t in tiers if t.line == i]
        assert 1 <= len(mine) <= 2 and sum(t.quantity for t in mine) == ln.quantity
        assert max(t.paid_unit_cents for t in mine) - min(t.paid_unit_cents for t in mine) <= 1
        assert all(t.paid_unit_cents >= 0 for t in mine)
        assert sum(t.discount_cents for t in mine) == ln.unit_cents * ln.quantity - sum(
            t.paid_unit_cents * t.quantity for t in mine
        )


def test_a_ten_percent_coupon_on_a_sale_price() -> None:
    # 3 x 19.99 and 1 x 50.00 with 5.00 off the line, then 10 % off the order
    tiers = price_tiers([AgreedLine(1999, 3), AgreedLine(5000, 1, 500)], 1049)
    assert [(t.line, t.quantity, t.paid_unit_cents) for t in tiers] == [
        (0, 2, 1799),
        (0, 1, 1800),
        (1, 1, 4050),
    ]


@pytest.mark.parametrize(
    ("lines", "coupon", "message"),
    [
        ([AgreedLine(1000, 1, 1001)], 0, "discount is larger than the line"),
        ([AgreedLine(1000, 2)], 2001, "order discount is larger than the goods"),
    ],
)
def test_discounts_larger_than_the_goods_are_refused(
    lines: list[AgreedLine], coupon: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        price_tiers(lines, coupon)
