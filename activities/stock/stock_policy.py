"""Stock policy of one SKU at one location: safety stock (kept back from ATP) and, optionally, a
reorder point and order-up-to level for replenishment (without them, demand decides)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from core.db.engine import session_scope
from core.db.schema import Location, ReplenishmentRule, Sku, Stock
from core.domain.inputs import InputModel

STOCK = Stock.__table__  # type: ignore[attr-defined]


class StockPolicyIn(InputModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    safety_stock: int = Field(default=0, ge=0, le=1_000_000)
    reorder_point: int | None = Field(default=None, ge=0, le=1_000_000)
    target_level: int | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        validate_default=True,
        description="order-up-to level; with reorder_point",
    )
    pack_size: int = Field(default=1, ge=1, le=100_000)
    supplier: str = Field(default="", max_length=100)
    lead_time_days: int | None = Field(default=None, ge=0, le=365)

    @field_validator("target_level")
    @classmethod
    def _with_reorder_point(cls, value: int | None, info: ValidationInfo) -> int | None:
        point = info.data.get("reorder_point")
        if (value is None) != (point is None) and "reorder_point" in info.data:
            raise ValueError("reorder_point and target_level are set together")
        if value is not None and point is not None and value < point:
            raise ValueError(f"must be at least the reorder point ({point})")
        return value


class StockPolicy(StockPolicyIn):
    location_id: str
    sku: str


def get_policy(url: str, location_id: str, sku: str) -> StockPolicy | None:
    with session_scope(url) as s:
        stock = s.get(Stock, (location_id, sku))
        rule = s.get(ReplenishmentRule, (location_id, sku))
        if stock is None and rule is None:
            return None
        return _policy(location_id, sku, stock.safety_stock if stock else 0, rule)


def set_policy(url: str, location_id: str, sku: str, body: StockPolicyIn) -> StockPolicy:
    """Store the policy; raises LookupError naming an unknown location or SKU."""
    with session_scope(url) as s:
        if s.get(Location, location_id) is None:
            raise LookupError(f"location {location_id} not found")
        if s.get(Sku, sku) is None:
            raise LookupError(f"SKU {sku} not found")
        conn = s.connection()
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(
            insert(STOCK)
            .values(location_id=location_id, sku=sku, on_hand=0, reserved=0, held=0, safety_stock=0)
            .on_conflict_do_nothing()
        )
        conn.execute(
            update(STOCK)
            .where(STOCK.c.location_id == location_id, STOCK.c.sku == sku)
            .values(safety_stock=body.safety_stock)
        )
        rule = s.get(ReplenishmentRule, (location_id, sku))
        if body.reorder_point is None or body.target_level is None:
            if rule is not None:
                s.delete(rule)
            rule = None
        else:
            rule = rule or ReplenishmentRule(
                location_id=location_id,
                sku=sku,
                reorder_point=0,
                target_level=0,
                updated_at=datetime.now(UTC),
            )
            rule.reorder_point, rule.target_level = body.reorder_point, body.target_level
            rule.pack_size, rule.supplier = body.pack_size, body.supplier
            rule.lead_time_days, rule.updated_at = body.lead_time_days, datetime.now(UTC)
            s.add(rule)
        return _policy(location_id, sku, body.safety_stock, rule)


def _policy(location_id: str, sku: str, safety: int, rule: ReplenishmentRule | None) -> StockPolicy:
    return StockPolicy(
        location_id=location_id,
        sku=sku,
        safety_stock=safety,
        reorder_point=rule.reorder_point if rule else None,
        target_level=rule.target_level if rule else None,
        pack_size=rule.pack_size if rule else 1,
        supplier=rule.supplier if rule else "",
        lead_time_days=rule.lead_time_days if rule else None,
    )
