"""The risk rules, on their own (pure function): each rule, each band, policy thresholds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.domain.orders import Address, Customer, OrderInput, OrderLine
from core.policy import OrderPolicy, RiskPolicy
from core.rules.risk import score_order


def _order(
    qty: int = 1,
    price: int = 1999,
    name: str = "Erika Mustermann",
    billing: Address | None = None,
    method: str = "card",
    policy: RiskPolicy | None = None,
) -> OrderInput:
    return OrderInput(
        order_id="R-1",
        channel="web",
        customer=Customer(id="C-1", email="e@example.org", name="Erika Mustermann"),
        delivery_address=Address(name=name, street="Weg 1", postcode="10115", city="Berlin"),
        billing_address=billing,
        lines=[
            OrderLine(
                line_id="L1",
                sku="TS-1",
                name="Shirt",
                quantity=qty,
                unit_price_cents=price,
                weight_kg=0.3,
            )
        ],
        shipping_speed="standard",
        payment_method=method,
        shipping_cents=495,
        placed_at=datetime(2026, 11, 23, tzinfo=UTC),
        policy=OrderPolicy(risk=policy or RiskPolicy()),
    )


def test_known_customer_with_normal_order_is_accepted() -> None:
    result = score_order(_order(), previous_orders=3, recent_orders=0)
    assert (result.score, result.outcome, result.reasons) == (0, "accept", [])


def test_every_rule_adds_its_reason_and_enough_of_them_reject() -> None:
    result = score_order(_order(qty=25, price=30000, name="Someone Else"), 0, 3)
    assert result.outcome == "reject" and result.score == 40 + 40 + 10 + 20 + 30
    assert [r.split()[0] for r in result.reasons] == ["unusual", "high", "new", "billing", "3"]


@pytest.mark.parametrize(
    "kwargs, previous, recent, outcome",
    [
        ({"qty": 25}, 5, 0, "force_prepayment"),  # 40: a safe payment method
        ({"qty": 25}, 0, 0, "force_prepayment"),  # 50
        ({"qty": 25, "name": "X Y"}, 0, 0, "review"),  # 70: a person looks at it
        ({"qty": 25, "method": "prepayment"}, 5, 0, "accept"),  # already safe
        ({}, 2, 3, "accept"),  # 30: velocity alone
    ],
)
def test_bands(kwargs: dict, previous: int, recent: int, outcome: str) -> None:
    assert score_order(_order(**kwargs), previous, recent).outcome == outcome


def test_billing_address_elsewhere_counts_as_mismatch() -> None:
    elsewhere = Address(name="Erika Mustermann", street="Gasse 2", postcode="80331", city="München")
    assert (
        "billing and delivery address differ"
        in score_order(_order(billing=elsewhere), 1, 0).reasons
    )


def test_thresholds_and_per_sku_limits_are_policy() -> None:
    lenient = RiskPolicy(sku_max_quantity={"TS-1": 50}, high_order_value_cents=10_000_000)
    assert score_order(_order(qty=25, price=30000, policy=lenient), 1, 0).outcome == "accept"
