"""The worker's release-latency metric counts what the OMS takes: from placement, or from the
end of the order's release hold (the time to change it is the customer's, not latency)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from activities.fulfilment.activities import release_latency
from core.db.schema import OrderRecord
from core.policy import OrderPolicy, ReleasePolicy, ReleaseRule

PLACED = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)


def _order(policy: OrderPolicy | None, channel: str = "web") -> OrderRecord:
    payload: dict[str, object] = {
        "placed_at": PLACED.isoformat().replace("+00:00", "Z"),
        "channel": channel,
        "payment_method": "card",
    }
    if policy is not None:
        payload["policy"] = policy.model_dump(mode="json")
    return OrderRecord(
        order_id="A-1", workflow_id="order-A-1", status="in_fulfilment", channel=channel,
        customer_id="C-1", customer_email="a@example.org", customer_name="A", postcode="50667",
        payment_method="card", shipping_speed="standard", total_cents=100, request_hash="x",
        payload=payload, created_at=PLACED + timedelta(milliseconds=20),
    )  # fmt: skip


def test_latency_counts_from_the_end_of_the_hold() -> None:
    held = OrderPolicy(release=ReleasePolicy(hold=timedelta(minutes=15)))
    released = PLACED + timedelta(minutes=15, milliseconds=300)
    assert release_latency(_order(held), released) == 0.3


def test_without_a_hold_from_placement() -> None:
    none = OrderPolicy(release=ReleasePolicy(hold=timedelta(0)))
    released = PLACED + timedelta(milliseconds=520)
    assert release_latency(_order(none), released) == 0.5
    assert release_latency(_order(None), released) == 0.5  # orders from before the hold


def test_a_rule_decides_and_an_early_release_is_not_counted() -> None:
    rules = OrderPolicy(
        release=ReleasePolicy(
            hold=timedelta(minutes=15), rules=[ReleaseRule(channel="store", hold=timedelta(0))]
        )
    )
    assert release_latency(_order(rules, "store"), PLACED + timedelta(seconds=1)) == 0.98
    assert release_latency(_order(rules, "web"), PLACED + timedelta(minutes=1)) is None
