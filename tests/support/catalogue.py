"""Test SKUs with exactly the stock a test needs, so routing and amounts are predictable."""

from __future__ import annotations

import uuid

from sqlmodel import select

from core.db.engine import session_scope
from core.db.schema import Location, Reservation, Sku, Stock


def warehouses(url: str) -> list[str]:
    with session_scope(url) as s:
        return list(
            s.exec(
                select(Location.id).where(Location.kind == "warehouse").order_by(Location.id)
            ).all()
        )


def make_sku(url: str, stock: dict[str, int], price_cents: int = 2500, prefix: str = "TST") -> str:
    """A new SKU stocked only where ``stock`` says."""
    sku = f"{prefix}-{uuid.uuid4().hex[:8]}"
    with session_scope(url) as s:
        s.add(Sku(sku=sku, name=f"Testartikel {sku}", price_cents=price_cents, weight_kg=1.0))
        s.flush()
        for location_id, qty in stock.items():
            s.add(Stock(location_id=location_id, sku=sku, on_hand=qty))
    return sku


def stock_of(url: str, location_id: str, sku: str) -> tuple[int, int]:
    """(on hand, reserved)."""
    with session_scope(url) as s:
        row = s.get(Stock, (location_id, sku))
        assert row is not None
        return row.on_hand, row.reserved


def active_reservations(url: str, order_id: str) -> list[Reservation]:
    with session_scope(url) as s:
        return list(
            s.exec(
                select(Reservation).where(
                    Reservation.order_id == order_id, Reservation.status == "active"
                )
            ).all()
        )
