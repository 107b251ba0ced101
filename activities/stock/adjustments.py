"""Manual stock changes: counted differences, damage, and returns put back on the shelf.

Each is one ledger movement keyed ``adjustment:<id>``, so sending it again changes nothing; it
never takes on-hand below what is reserved.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from activities.stock import ledger
from activities.stock.holds import HOLD_ID_PATTERN
from core.db.engine import session_scope
from core.db.schema import Location, Sku, Stock
from core.domain.inputs import InputModel

_ADJUST = text(
    "UPDATE stock SET on_hand = on_hand + :qty WHERE location_id = :loc "
    "AND sku = :sku AND on_hand + :qty >= reserved"
)


class AdjustmentRequest(InputModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    adjustment_id: str = Field(pattern=HOLD_ID_PATTERN)
    location_id: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=64)
    kind: Literal["adjustment", "return"] = "adjustment"
    quantity: int = Field(
        ge=-1_000_000, le=1_000_000, description="units added (negative: removed)"
    )
    reason: str = Field(min_length=1, max_length=300)

    @field_validator("quantity")
    @classmethod
    def _sign(cls, value: int, info: ValidationInfo) -> int:
        if value == 0:
            raise ValueError("must not be 0")
        if info.data.get("kind") == "return" and value < 0:
            raise ValueError("a return puts units back: must be positive")
        return value


class Adjustment(BaseModel):
    adjustment_id: str
    location_id: str
    sku: str
    kind: str
    quantity: int
    reason: str
    at: datetime
    on_hand: int


class AdjustmentError(Exception):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


def adjust(url: str, req: AdjustmentRequest) -> tuple[Adjustment, bool]:
    """Apply the adjustment once; returns it and whether it was applied by this call."""
    key = f"adjustment:{req.adjustment_id}"
    try:
        with session_scope(url) as s:
            found = _existing(s.connection(), key, req)
            if found is not None:
                return found, False
            errors = []
            if s.get(Location, req.location_id) is None:
                errors.append(("location_id", f"unknown location {req.location_id!r}"))
            if s.get(Sku, req.sku) is None:
                errors.append(("sku", f"unknown SKU {req.sku!r}"))
            if errors:
                raise AdjustmentError(
                    422, [{"loc": ["body", f], "msg": m, "type": "unknown"} for f, m in errors]
                )
            conn = s.connection()
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            conn.execute(
                insert(Stock.__table__)  # type: ignore[attr-defined]
                .values(
                    location_id=req.location_id,
                    sku=req.sku,
                    on_hand=0,
                    reserved=0,
                    safety_stock=0,
                    held=0,
                )
                .on_conflict_do_nothing()
            )
            args = {"qty": req.quantity, "loc": req.location_id, "sku": req.sku}
            if conn.execute(_ADJUST, args).rowcount != 1:
                raise AdjustmentError(
                    409,
                    f"{req.sku} at {req.location_id}: removing "
                    f"{-req.quantity} would leave less than is reserved",
                )
            ledger.record(
                conn,
                [
                    ledger.movement(
                        req.location_id,
                        req.sku,
                        req.kind,
                        on_hand=req.quantity,
                        source=key,
                        reason=req.reason,
                        key=key,
                    )
                ],
            )
            done = _existing(conn, key, req)
    except IntegrityError:  # the same adjustment applied concurrently
        with session_scope(url) as s:
            done = _existing(s.connection(), key, req)
        if done is None:
            raise
        return done, False
    assert done is not None
    return done, True


def _existing(conn: Any, key: str, req: AdjustmentRequest) -> Adjustment | None:
    m = conn.execute(select(ledger.MOVEMENTS).where(ledger.MOVEMENTS.c.key == key)).first()
    if m is None:
        return None
    if (m.location_id, m.sku, m.kind, m.on_hand_delta, m.reason) != (
        req.location_id,
        req.sku,
        req.kind,
        req.quantity,
        req.reason,
    ):
        raise AdjustmentError(409, f"adjustment {req.adjustment_id} exists with other content")
    on_hand = conn.execute(
        select(ledger.STOCK.c.on_hand).where(
            ledger.STOCK.c.location_id == m.location_id, ledger.STOCK.c.sku == m.sku
        )
    ).scalar_one()
    at = m.at if m.at.tzinfo else m.at.replace(tzinfo=UTC)
    return Adjustment(
        adjustment_id=req.adjustment_id,
        location_id=m.location_id,
        sku=m.sku,
        kind=m.kind,
        quantity=m.on_hand_delta,
        reason=m.reason,
        at=at,
        on_hand=on_hand,
    )
