"""Concurrent reservations on real PostgreSQL never oversell."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from sqlmodel import select

from activities.stock import reservations as inventory
from core.db.engine import get_engine, session_scope
from core.db.schema import Location, Reservation, Sku, Stock
from core.domain.shipments import ShipmentLine, ShipmentPlan


def _hot_sku(url: str, on_hand: int) -> tuple[str, str]:
    sku = f"HOT-{uuid.uuid4().hex[:8]}"
    with session_scope(url) as s:
        location = s.exec(select(Location).where(Location.kind == "warehouse")).first()
        assert location is not None
        s.add(Sku(sku=sku, name="Hot item", price_cents=999))
        s.flush()
        s.add(Stock(location_id=location.id, sku=sku, on_hand=on_hand))
    return location.id, sku


def _plan(order_id: str, location_id: str, sku: str, qty: int) -> list[ShipmentPlan]:
    return [
        ShipmentPlan(
            shipment_id=f"{order_id}-S1",
            location_id=location_id,
            lines=[ShipmentLine(line_id="L1", sku=sku, quantity=qty)],
            carrier="DHL",
            ship_date=date(2026, 1, 5),
            promised_delivery=date(2026, 1, 6),
            cost_cents=500,
            goods_cents=999,
        )
    ]


def test_fifty_racing_reservations_for_ten_units_grant_exactly_ten(database_url: str) -> None:
    location_id, sku = _hot_sku(database_url, on_hand=10)
    get_engine(database_url).pool.dispose()
    orders = [f"RACE-{uuid.uuid4().hex[:10]}" for _ in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(
            pool.map(
                lambda oid: inventory.reserve(database_url, oid, _plan(oid, location_id, sku, 1)),
                orders,
            )
        )
    assert sum(r.ok for r in results) == 10
    assert all(r.conflicts for r in results if not r.ok)
    with session_scope(database_url) as s:
        stock = s.get(Stock, (location_id, sku))
        granted = s.exec(select(Reservation).where(Reservation.sku == sku)).all()
    assert stock is not None and stock.reserved == 10 and stock.on_hand == 10
    assert len(granted) == 10


def test_a_plan_is_reserved_all_or_nothing_and_idempotently(database_url: str) -> None:
    location_id, sku = _hot_sku(database_url, on_hand=3)
    _, other = _hot_sku(database_url, on_hand=1)
    order_id = f"ATOM-{uuid.uuid4().hex[:10]}"
    plan = _plan(order_id, location_id, sku, 2)
    plan[0].lines.append(ShipmentLine(line_id="L2", sku=other, quantity=2))  # only 1 there
    assert not inventory.reserve(database_url, order_id, plan).ok
    with session_scope(database_url) as s:
        assert s.get(Stock, (location_id, sku)).reserved == 0  # type: ignore[union-attr]

    good = _plan(order_id, location_id, sku, 2)
    assert inventory.reserve(database_url, order_id, good).ok
    assert inventory.reserve(database_url, order_id, good).ok  # a retry changes nothing
    with session_scope(database_url) as s:
        assert s.get(Stock, (location_id, sku)).reserved == 2  # type: ignore[union-attr]
    assert inventory.release(database_url, order_id) == 2
    assert inventory.release(database_url, order_id) == 0
    with session_scope(database_url) as s:
        assert s.get(Stock, (location_id, sku)).reserved == 0  # type: ignore[union-attr]
