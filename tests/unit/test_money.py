"""The workflow's money arithmetic (pure)."""

from __future__ import annotations

from core.domain.money import Money


def test_open_authorisation_shrinks_with_captures_and_voids() -> None:
    money = Money(authorisation_id="a", authorised=10_000, captured=6_000, voided=1_000)
    assert money.open_authorisation == 3_000
    assert money.refundable == 6_000


def test_refunds_come_from_received_money_first_then_captures() -> None:
    money = Money(received=2_000, captured=5_000)
    money.book_refund(3_000)
    assert (money.refunded_bank, money.refunded_card) == (2_000, 1_000)
    assert money.held == 0 and money.refundable == 4_000
