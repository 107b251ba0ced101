"""Goods coming back into a location's stock (a pickup nobody collected, a returned parcel,
a customer return): on-hand goes up and the ledger says why. Idempotent by key."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import select

from activities import ledger
from core.db.engine import session_scope
from core.db.schema import Stock, StockMovement

_ADD = text("UPDATE stock SET on_hand = on_hand + :qty WHERE location_id = :loc AND sku = :sku")


def restock(url: str, location_id: str, quantities: dict[str, int], source: str, key: str,
            reason: str) -> int:
    """Add ``quantities`` (SKU -> units) to the location's on-hand stock, once per ``key``.
    Returns the units added (0 if this key was booked before)."""
    with session_scope(url) as s:
        first_key = f"{key}:{min(quantities)}" if quantities else key
        if s.exec(select(StockMovement.id).where(StockMovement.key == first_key)).first():
            return 0
        conn, moves = s.connection(), []
        for sku, qty in sorted(quantities.items()):
            if qty <= 0:
                continue
            if conn.execute(_ADD, {"qty": qty, "loc": location_id, "sku": sku}).rowcount == 0:
                s.add(Stock(location_id=location_id, sku=sku, on_hand=qty))
                s.flush()
            moves.append(ledger.movement(location_id, sku, "return", on_hand=qty,
                                         source=source, reason=reason, key=f"{key}:{sku}"))
        ledger.record(conn, moves)
        return sum(m["on_hand_delta"] for m in moves)
