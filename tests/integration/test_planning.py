"""The routing activity builds its problem from the database: candidates, capacity, backlog,
the customer group's rule profile."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from activities.orders.activities import PlanningActivities
from activities.orders.planning import build_problem
from core.db.engine import session_scope
from core.db.schema import Location
from core.domain.orders import Address, Customer, OrderInput, OrderLine
from core.settings import Settings
from tests.support.catalogue import make_sku, warehouses

PROFILES = Path(__file__).resolve().parents[2] / "routing" / "profiles.example.toml"


def _order(sku: str, qty: int, group: str = "default") -> OrderInput:
    return OrderInput(
        order_id="PLAN-1",
        channel="web",
        customer=Customer(id="C-P", email="p@example.org", name="Paul Plan", group=group),
        delivery_address=Address(name="Paul Plan", street="Ring 1", postcode="50667", city="Köln"),
        lines=[
            OrderLine(
                line_id="L1", sku=sku, name="x", quantity=qty, unit_price_cents=100, weight_kg=1.0
            )
        ],
        shipping_speed="standard",
        payment_method="card",
        shipping_cents=495,
        placed_at=datetime(2026, 11, 24, 9, tzinfo=UTC),
    )


def test_candidates_exclude_offline_and_excluded_locations(settings: Settings) -> None:
    wh = warehouses(settings.database_url)
    sku = make_sku(settings.database_url, {wh[0]: 2, wh[1]: 2, wh[2]: 2})
    with session_scope(settings.database_url) as s:
        s.get(Location, wh[2]).online = False  # type: ignore[union-attr]
    try:
        with session_scope(settings.database_url) as s:
            problem = build_problem(s, _order(sku, 3), exclude=[wh[1]])
    finally:
        with session_scope(settings.database_url) as s:
            s.get(Location, wh[2]).online = True  # type: ignore[union-attr]
    assert [loc.id for loc in problem.locations] == [wh[0]]
    assert problem.locations[0].stock == {sku: 2}
    assert problem.destination.city == "Köln"


def test_customer_group_profile_decides_whether_a_line_may_split(settings: Settings) -> None:
    wh = warehouses(settings.database_url)
    sku = make_sku(settings.database_url, {wh[0]: 2, wh[1]: 2})
    planner = PlanningActivities(
        settings.model_copy(update={"routing_profiles_file": str(PROFILES)})
    )
    split = planner.plan_route(_order(sku, 3), [])
    assert not split.uncovered and len(split.shipments) == 2
    whole_lines_only = planner.plan_route(_order(sku, 3, group="b2b"), [])
    # b2b: a line comes from one location only, so one unit cannot be covered.
    assert len(whole_lines_only.shipments) == 1
    assert sum(u.quantity for u in whole_lines_only.uncovered) == 1
