"""The stock ledger: every change of on-hand, reserved or held units is a movement with its reason
and source, written in the same transaction as the change, so the levels are the ledger's sums.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, func, insert, select, text
from sqlmodel import Session

from core.db.engine import session_scope
from core.db.schema import Stock, StockMovement

MOVEMENTS = StockMovement.__table__  # type: ignore[attr-defined]
STOCK = Stock.__table__  # type: ignore[attr-defined]


def movement(
    location_id: str,
    sku: str,
    kind: str,
    *,
    source: str,
    on_hand: int = 0,
    reserved: int = 0,
    held: int = 0,
    reason: str = "",
    key: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """One ledger row, ready for :func:`record`."""
    return {
        "at": at or datetime.now(UTC),
        "location_id": location_id,
        "sku": sku,
        "kind": kind,
        "on_hand_delta": on_hand,
        "reserved_delta": reserved,
        "held_delta": held,
        "source": source[:200],
        "reason": reason[:500],
        "key": key,
    }


_COLUMNS = (
    "at",
    "location_id",
    "sku",
    "kind",
    "on_hand_delta",
    "reserved_delta",
    "held_delta",
    "source",
    "reason",
    "key",
)
_PG_BULK = text(
    "INSERT INTO stock_movement (at, location_id, sku, kind, on_hand_delta, reserved_delta, "
    "held_delta, source, reason, key) SELECT * FROM unnest(CAST(:at AS timestamptz[]), "
    "CAST(:location_id AS varchar[]), CAST(:sku AS varchar[]), CAST(:kind AS varchar[]), "
    "CAST(:on_hand_delta AS integer[]), CAST(:reserved_delta AS integer[]), "
    "CAST(:held_delta AS integer[]), CAST(:source AS varchar[]), CAST(:reason AS varchar[]), "
    "CAST(:key AS varchar[]))"
)


def record(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert movements on the caller's connection, inside the caller's transaction."""
    if len(rows) > 50 and conn.dialect.name == "postgresql":  # one statement, not one per row
        conn.execute(_PG_BULK, {c: [r[c] for r in rows] for c in _COLUMNS})
    elif rows:
        conn.execute(insert(MOVEMENTS), rows)


class Movement(BaseModel):
    id: int
    at: datetime
    location_id: str
    sku: str
    kind: str
    on_hand_delta: int
    reserved_delta: int
    held_delta: int
    source: str
    reason: str


class Levels(BaseModel):
    on_hand: int = 0
    reserved: int = 0
    held: int = 0


class StockExplanation(BaseModel):
    """A stock level next to the sum of its movements: equal when the ledger explains it."""

    location_id: str
    sku: str
    level: Levels
    ledger: Levels
    movements: int
    explained: bool
    recent: list[Movement]


def movements(
    s: Session,
    *,
    location_id: str | None = None,
    sku: str | None = None,
    source: str | None = None,
    kind: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[Movement]:
    """Movements in the order they happened, filtered, paged by id."""
    query = select(MOVEMENTS).where(MOVEMENTS.c.id > after_id)
    for column, value in (
        ("location_id", location_id),
        ("sku", sku),
        ("source", source),
        ("kind", kind),
    ):
        if value is not None:
            query = query.where(MOVEMENTS.c[column] == value)
    rows = s.connection().execute(query.order_by(MOVEMENTS.c.id).limit(limit)).mappings()
    return [Movement.model_validate(dict(r)) for r in rows]


def ledger_levels(conn: Connection, location_id: str, sku: str) -> tuple[Levels, int]:
    row = conn.execute(
        select(
            func.coalesce(func.sum(MOVEMENTS.c.on_hand_delta), 0),
            func.coalesce(func.sum(MOVEMENTS.c.reserved_delta), 0),
            func.coalesce(func.sum(MOVEMENTS.c.held_delta), 0),
            func.count(),
        ).where(MOVEMENTS.c.location_id == location_id, MOVEMENTS.c.sku == sku)
    ).one()
    return Levels(on_hand=row[0], reserved=row[1], held=row[2]), row[3]


def explain(s: Session, location_id: str, sku: str, recent: int = 20) -> StockExplanation | None:
    """The level of one SKU at one location and what the ledger says it should be."""
    stock = s.get(Stock, (location_id, sku))
    if stock is None:
        return None
    level = Levels(on_hand=stock.on_hand, reserved=stock.reserved, held=stock.held)
    ledger, count = ledger_levels(s.connection(), location_id, sku)
    latest = (
        s.connection()
        .execute(
            select(MOVEMENTS)
            .where(MOVEMENTS.c.location_id == location_id, MOVEMENTS.c.sku == sku)
            .order_by(MOVEMENTS.c.id.desc())
            .limit(recent)
        )
        .mappings()
    )
    return StockExplanation(
        location_id=location_id,
        sku=sku,
        level=level,
        ledger=ledger,
        movements=count,
        explained=level == ledger,
        recent=[Movement.model_validate(dict(r)) for r in latest],
    )


def open_balances(url: str) -> int:
    """Give stock rows that have no movement at all an "opening" one (e.g. after loading the demo
    network), so their levels are explained. Rows with movements are never touched."""
    with session_scope(url) as s:
        conn = s.connection()
        has_any = (
            select(MOVEMENTS.c.id)
            .where(MOVEMENTS.c.location_id == STOCK.c.location_id, MOVEMENTS.c.sku == STOCK.c.sku)
            .exists()
        )
        rows = conn.execute(
            select(
                STOCK.c.location_id, STOCK.c.sku, STOCK.c.on_hand, STOCK.c.reserved, STOCK.c.held
            )
            .where(~has_any, (STOCK.c.on_hand != 0) | (STOCK.c.reserved != 0) | (STOCK.c.held != 0))
            .order_by(STOCK.c.location_id, STOCK.c.sku)
        ).all()
        now = datetime.now(UTC)
        record(
            conn,
            [
                movement(
                    r.location_id,
                    r.sku,
                    "opening",
                    source="opening-balance",
                    on_hand=r.on_hand,
                    reserved=r.reserved,
                    held=r.held,
                    reason="level when the ledger started",
                    at=now,
                )
                for r in rows
            ],
        )
        return len(rows)
