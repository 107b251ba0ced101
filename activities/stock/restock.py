"""Goods coming back into a location's stock (a pickup nobody collected, a returned parcel,
a customer return): on-hand goes up and the ledger says why. Idempotent by key."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from activities.stock import ledger
from core.db.engine import session_scope
from core.db.schema import Stock, StockMovement

_ADD = text("UPDATE stock SET on_hand = on_hand + :qty WHERE location_id = :loc AND sku = :sku")


def restock(
    url: str, location_id: str, quantities: dict[str, int], source: str, key: str, reason: str
) -> int:
    """Add ``quantities`` (SKU -> units) to the location's on-hand stock, once per ``key``
    (each SKU's movement carries ``<key>:<sku>``). Returns the units added now."""
    wanted = {sku: qty for sku, qty in sorted(quantities.items()) if qty > 0}
    if not wanted:
        return 0
    with session_scope(url) as s:
        booked = set(
            s.exec(
                select(StockMovement.key).where(
                    col(StockMovement.key).in_([f"{key}:{sku}" for sku in wanted])
                )
            ).all()
        )
        moves = []
        for sku, qty in wanted.items():
            if f"{key}:{sku}" in booked:
                continue
            _add_on_hand(s, location_id, sku, qty)
            moves.append(
                ledger.movement(
                    location_id,
                    sku,
                    "return",
                    on_hand=qty,
                    source=source,
                    reason=reason,
                    key=f"{key}:{sku}",
                )
            )
        ledger.record(s.connection(), moves)
        return sum(m["on_hand_delta"] for m in moves)


def _add_on_hand(s: Session, location_id: str, sku: str, qty: int) -> None:
    """Raise on-hand, creating the stock row if the location never had the SKU (a concurrent
    creator wins the insert; then we add to its row)."""
    params = {"qty": qty, "loc": location_id, "sku": sku}
    if s.connection().execute(_ADD, params).rowcount:
        return
    try:
        with s.begin_nested():
            s.add(Stock(location_id=location_id, sku=sku, on_hand=qty))
    except IntegrityError:
        s.connection().execute(_ADD, params)
