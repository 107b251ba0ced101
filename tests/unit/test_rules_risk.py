"""Risk scoring as a pure rule (core.rules.risk): band edges, each rule's trigger and reason,
and properties over arbitrary orders. The worked examples live in tests/unit/test_risk_rules.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.orders import Address, Customer, OrderInput, OrderLine
from core.policy import OrderPolicy, RiskPolicy
from core.rules.risk import score_order

SEVERITY = {"accept": 0, "force_prepayment": 1, "review": 2, "reject": 3}
QUIET = {  # every rule scores nothing, so a test can switch on exactly the ones it needs
    "unusual_quantity_score": 0,
    "high_value_score": 0,
    "new_customer_score": 0,
    "address_mismatch_score": 0,
    "velocity_score": 0,
}


def _address(name: str = "Erika Mustermann", postcode: str = "10115") -> Address:
    return Address(name=name, street="Weg 1", postcode=postcode, city="Berlin")


def _order(
    lines: list[tuple[str, int, int]] | None = None,
    *,
    shipping: int = 495,
    delivery: Address | None = None,
    billing: Address | None = None,
    method: str = "card",
    policy: RiskPolicy | None = None,
) -> OrderInput:
    """``lines``: (sku, quantity, unit price in cents)."""
    return OrderInput(
        order_id="R-1",
        channel="web",
        customer=Customer(id="C-1", email="e@example.org", name="Erika Mustermann"),
        delivery_address=delivery or _address(),
        billing_address=billing,
        lines=[
            OrderLine(
                line_id=f"L{i}", sku=sku, name=sku, quantity=q, unit_price_cents=p, weight_kg=0.3
            )
            for i, (sku, q, p) in enumerate(lines or [("TS-1", 1, 1999)], start=1)
        ],
        shipping_speed="standard",
        payment_method=method,
        shipping_cents=shipping,
        placed_at=datetime(2026, 11, 23, tzinfo=UTC),
        policy=OrderPolicy(risk=policy or RiskPolicy()),
    )


def _scored(score: int, method: str = "card", **bands: int) -> str:
    """The outcome of an order scoring exactly ``score`` (new customer, the only rule on)."""
    policy = RiskPolicy(**{**QUIET, "new_customer_score": score, **bands})
    result = score_order(_order(method=method, policy=policy), previous_orders=0, recent_orders=0)
    assert result.score == score
    return result.outcome


# ---- bands: each threshold is inclusive, highest band first ----------------------------------


@pytest.mark.parametrize(
    "score, outcome",
    [
        (0, "accept"),
        (39, "accept"),
        (40, "force_prepayment"),  # force_prepayment_score
        (59, "force_prepayment"),
        (60, "review"),  # review_score
        (99, "review"),
        (100, "reject"),  # reject_score
        (500, "reject"),
    ],
)
def test_default_bands_are_inclusive_at_their_threshold(score: int, outcome: str) -> None:
    assert _scored(score) == outcome


def test_band_thresholds_come_from_the_policy() -> None:
    bands = {"force_prepayment_score": 5, "review_score": 10, "reject_score": 15}
    assert [_scored(s, **bands) for s in (4, 5, 10, 15)] == [
        "accept",
        "force_prepayment",
        "review",
        "reject",
    ]


def test_equal_thresholds_let_the_higher_band_win() -> None:
    same = {"force_prepayment_score": 50, "review_score": 50, "reject_score": 50}
    assert (_scored(49, **same), _scored(50, **same)) == ("accept", "reject")


@pytest.mark.parametrize("score, outcome", [(40, "accept"), (60, "review"), (100, "reject")])
def test_prepayment_is_never_forced_but_still_reviewed_and_rejected(
    score: int, outcome: str
) -> None:
    assert _scored(score, method="prepayment") == outcome


@pytest.mark.parametrize("method", ["card", "wallet", "invoice", "cash_on_pickup"])
def test_only_prepayment_counts_as_already_safe(method: str) -> None:
    # As the rule stands: cash on pickup is paid up front too, yet is still switched.
    assert _scored(40, method=method) == "force_prepayment"


def test_the_policy_refuses_bands_out_of_order() -> None:
    with pytest.raises(ValueError, match="bands must satisfy"):
        RiskPolicy(force_prepayment_score=70, review_score=60)


# ---- each rule: when it fires, what it adds, the reason it gives ------------------------------


def test_unusual_quantity_fires_above_the_limit_not_at_it() -> None:
    at, above = _order([("TS-1", 20, 100)]), _order([("TS-1", 21, 100)])
    assert score_order(at, 1, 0).reasons == []
    result = score_order(above, 1, 0)
    assert (result.score, result.reasons) == (40, ["unusual quantity 21 of TS-1 (usual <= 20)"])


def test_unusual_quantity_counts_per_line_with_per_sku_limits() -> None:
    policy = RiskPolicy(sku_max_quantity={"BIG": 100}, unusual_quantity_score=7)
    order = _order([("BIG", 50, 1), ("TS-1", 21, 1), ("CAP", 30, 1)], policy=policy)
    result = score_order(order, 1, 0)
    assert result.score == 14
    assert result.reasons == [
        "unusual quantity 21 of TS-1 (usual <= 20)",
        "unusual quantity 30 of CAP (usual <= 20)",
    ]
    over = _order([("BIG", 101, 1)], policy=policy)
    assert score_order(over, 1, 0).reasons == ["unusual quantity 101 of BIG (usual <= 100)"]


def test_high_value_counts_the_shipping_and_fires_only_above_the_limit() -> None:
    at = _order([("TS-1", 1, 499_505)], shipping=495)  # 500_000 cents in all
    assert score_order(at, 1, 0).reasons == []
    above = _order([("TS-1", 1, 499_506)], shipping=495)
    result = score_order(above, 1, 0)
    assert (result.score, result.reasons) == (40, ["high order value 500001 cents"])


@pytest.mark.parametrize("previous, fires", [(0, True), (1, False), (12, False)])
def test_new_customer_means_no_earlier_order(previous: int, fires: bool) -> None:
    result = score_order(_order(), previous, 0)
    assert result.reasons == (["new customer"] if fires else [])
    assert result.score == (10 if fires else 0)


def test_velocity_fires_from_the_threshold_and_names_the_window() -> None:
    policy = RiskPolicy(velocity_orders=2, velocity_window=timedelta(minutes=30))
    assert score_order(_order(policy=policy), 5, 1).reasons == []
    result = score_order(_order(policy=policy), 5, 2)
    assert (result.score, result.reasons) == (30, ["2 orders within 0:30:00"])


@pytest.mark.parametrize(
    "delivery, billing, mismatch",
    [
        (_address(), None, False),
        (_address(name="ERIKA mustermann"), None, False),  # names compare case-insensitively
        (_address(name="Max Mustermann"), None, True),  # no billing: delivery vs customer name
        (_address(), _address(name="erika MUSTERMANN"), False),
        (_address(), _address(postcode="80331"), True),
        (_address(), _address(name="Max Mustermann"), True),
        # with a billing address the customer's own name no longer matters
        (_address(name="Max Mustermann"), _address(name="Max Mustermann"), False),
    ],
)
def test_address_mismatch(delivery: Address, billing: Address | None, mismatch: bool) -> None:
    result = score_order(_order(delivery=delivery, billing=billing), 1, 0)
    assert result.reasons == (["billing and delivery address differ"] if mismatch else [])
    assert result.score == (20 if mismatch else 0)


# ---- properties -------------------------------------------------------------------------------

_lines = st.lists(
    st.tuples(st.sampled_from(["TS-1", "CAP", "BIG"]), st.integers(1, 60), st.integers(1, 40_000)),
    min_size=1,
    max_size=5,
)
_methods = st.sampled_from(["card", "wallet", "invoice", "prepayment", "cash_on_pickup"])
_names = st.sampled_from(["Erika Mustermann", "Max Mustermann"])


@given(_lines, _methods, _names, st.integers(0, 5), st.integers(0, 6))
def test_score_is_the_sum_of_the_rules_that_gave_a_reason(
    lines: list[tuple[str, int, int]], method: str, name: str, previous: int, recent: int
) -> None:
    policy = RiskPolicy(sku_max_quantity={"BIG": 40})
    order = _order(lines, delivery=_address(name), method=method, policy=policy)
    result = score_order(order, previous, recent)
    score_of = {
        "unusual": policy.unusual_quantity_score,
        "high": policy.high_value_score,
        "new": policy.new_customer_score,
        "billing": policy.address_mismatch_score,
    }
    expected = sum(score_of.get(r.split()[0], policy.velocity_score) for r in result.reasons)
    assert result.score == expected
    band = (
        "reject"
        if result.score >= policy.reject_score
        else "review"
        if result.score >= policy.review_score
        else "force_prepayment"
        if result.score >= policy.force_prepayment_score and method != "prepayment"
        else "accept"
    )
    assert result.outcome == band


@given(_lines, _methods, st.integers(0, 5), st.integers(0, 6), st.integers(1, 6))
def test_more_recent_orders_never_make_an_order_look_safer(
    lines: list[tuple[str, int, int]], method: str, previous: int, recent: int, more: int
) -> None:
    order = _order(lines, method=method)
    before, after = (
        score_order(order, previous, recent),
        score_order(order, previous, recent + more),
    )
    assert after.score >= before.score
    assert SEVERITY[after.outcome] >= SEVERITY[before.outcome]


@given(_lines, _methods, st.integers(0, 6))
def test_a_returning_customer_never_looks_riskier_than_a_new_one(
    lines: list[tuple[str, int, int]], method: str, recent: int
) -> None:
    order = _order(lines, method=method)
    new, returning = score_order(order, 0, recent), score_order(order, 1, recent)
    assert new.score - returning.score == order.policy.risk.new_customer_score
    assert SEVERITY[returning.outcome] <= SEVERITY[new.outcome]
