"""The first risk rule set, on its own (pure function)."""

from __future__ import annotations

from datetime import UTC, datetime

from activities.risk import score_order
from core.models import Address, Customer, OrderInput, OrderLine, OrderPolicy, RiskPolicy


def _order(qty: int = 1, price: int = 1999, name: str = "Erika Mustermann",
           policy: RiskPolicy | None = None) -> OrderInput:
    order = OrderInput(
        order_id="R-1", channel="web",
        customer=Customer(id="C-1", email="e@example.org", name="Erika Mustermann"),
        delivery_address=Address(name=name, street="Weg 1", postcode="10115", city="Berlin"),
        lines=[OrderLine(line_id="L1", sku="TS-1", name="Shirt", quantity=qty,
                         unit_price_cents=price, weight_kg=0.3)],
        shipping_speed="standard", payment_method="card", shipping_cents=495,
        placed_at=datetime(2026, 11, 23, tzinfo=UTC),
        policy=OrderPolicy(risk=policy or RiskPolicy()))
    return order


def test_known_customer_with_normal_order_scores_zero() -> None:
    result = score_order(_order(), previous_orders=3)
    assert (result.score, result.outcome, result.reasons) == (0, "accept", [])


def test_each_rule_adds_its_reason() -> None:
    result = score_order(_order(qty=25, price=30000, name="Someone Else"), previous_orders=0)
    assert result.score == 100 and result.outcome == "reject"
    assert [r.split()[0] for r in result.reasons] == ["unusual", "high", "new", "delivery"]


def test_thresholds_are_policy() -> None:
    lenient = RiskPolicy(max_quantity_per_line=50, high_order_value_cents=10_000_000)
    result = score_order(_order(qty=25, price=30000, name="Someone Else", policy=lenient), 0)
    assert result.outcome == "accept" and result.score == 20
