"""Replenishment proposals per location and SKU, from reorder points and recent demand.

Demand is what orders reserved at the location within ``replenishment_demand_days`` (orders
routed there, shipped or still open). Where no rule is set, the reorder point is demand over the
lead time plus safety stock, and the target adds demand over the review period. A location at
or below its reorder point gets a proposal up to its target: a transfer from warehouses with
stock above their own target first, an order from the supplier for the rest. Drop-ship vendors
manage their own stock and get none.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from activities.stock.availability import active_holds
from core.db.schema import Location, ReplenishmentRule, Reservation, Stock
from core.settings import Settings

STOCK = Stock.__table__  # type: ignore[attr-defined]
LOCATION = Location.__table__  # type: ignore[attr-defined]


class Proposal(BaseModel):
    location_id: str
    sku: str
    kind: Literal["transfer", "purchase"]
    quantity: int
    from_location_id: str | None
    supplier: str | None
    on_hand: int
    reserved: int
    held: int
    safety_stock: int
    position: int
    reorder_point: int
    target_level: int
    demand_units: int
    daily_demand: float
    reason: str


CSV_COLUMNS = list(Proposal.model_fields)


@dataclass
class _Row:
    location_id: str
    kind: str
    sku: str
    on_hand: int
    reserved: int
    held: int
    safety_stock: int
    demand: int
    rule: ReplenishmentRule | None
    reorder_point: int = 0
    target: int = 0

    @property
    def position(self) -> int:
        """Units free to sell: what is on hand and not promised to anyone."""
        return self.on_hand - self.reserved - self.held


def proposals(
    s: Session,
    settings: Settings,
    location_id: str | None = None,
    sku: str | None = None,
    now: datetime | None = None,
) -> list[Proposal]:
    """Every proposal, ordered by location and SKU (filtered after planning, so transfers are
    drawn from the same warehouse stock whatever the filter)."""
    now = now or datetime.now(UTC)
    rows = _rows(s, settings, now, sku)
    by_sku: dict[str, list[_Row]] = {}
    for r in rows:
        by_sku.setdefault(r.sku, []).append(r)
    out: list[Proposal] = []
    for group in by_sku.values():
        out += _plan_sku(group, settings)
    out.sort(key=lambda p: (p.location_id, p.sku, p.kind))
    return [p for p in out if location_id is None or p.location_id == location_id]


def _rows(s: Session, settings: Settings, now: datetime, sku: str | None) -> list[_Row]:
    days = settings.replenishment_demand_days
    since = (now - timedelta(days=days)).date()
    demand_q = (
        select(col(Reservation.location_id), col(Reservation.sku), func.sum(Reservation.quantity))
        .where(col(Reservation.day) >= since, col(Reservation.status).in_(["active", "shipped"]))
        .group_by(Reservation.location_id, Reservation.sku)
    )
    rule_q = sm_select(ReplenishmentRule)
    stock_q = select(
        STOCK.c.location_id,
        STOCK.c.sku,
        STOCK.c.on_hand,
        STOCK.c.reserved,
        STOCK.c.safety_stock,
        LOCATION.c.kind,
    ).join(LOCATION, LOCATION.c.id == STOCK.c.location_id)
    if sku is not None:
        demand_q = demand_q.where(col(Reservation.sku) == sku)
        rule_q = rule_q.where(col(ReplenishmentRule.sku) == sku)
        stock_q = stock_q.where(STOCK.c.sku == sku)
    demand = {(loc, k): int(n) for loc, k, n in s.connection().execute(demand_q)}
    rules = {(r.location_id, r.sku): r for r in s.exec(rule_q)}
    held_q = active_holds(None if sku is None else [sku], now)
    held = {(r.location_id, r.sku): int(r.units) for r in s.connection().execute(select(held_q))}
    return [
        _Row(
            location_id=r.location_id,
            kind=r.kind,
            sku=r.sku,
            on_hand=r.on_hand,
            reserved=r.reserved,
            held=held.get((r.location_id, r.sku), 0),
            safety_stock=r.safety_stock,
            demand=demand.get((r.location_id, r.sku), 0),
            rule=rules.get((r.location_id, r.sku)),
        )
        for r in s.connection().execute(stock_q.order_by(STOCK.c.location_id, STOCK.c.sku))
    ]


def _plan_sku(rows: list[_Row], settings: Settings) -> list[Proposal]:
    days = settings.replenishment_demand_days
    for r in rows:
        daily = r.demand / days
        lead = (
            r.rule.lead_time_days
            if r.rule and r.rule.lead_time_days is not None
            else settings.replenishment_supplier_lead_days
            if r.kind == "warehouse"
            else settings.replenishment_transfer_lead_days
        )
        if r.rule is not None:
            r.reorder_point, r.target = r.rule.reorder_point, r.rule.target_level
        else:
            r.reorder_point = math.ceil(daily * lead) + r.safety_stock
            r.target = r.reorder_point + math.ceil(daily * settings.replenishment_review_days)
    spare = {
        r.location_id: max(0, r.position - max(r.target, r.safety_stock))
        for r in rows
        if r.kind == "warehouse"
    }
    out: list[Proposal] = []
    needy = [
        r
        for r in rows
        if r.kind != "vendor"
        and (r.rule is not None or r.demand > 0)
        and r.position <= r.reorder_point
        and r.target > r.position
    ]
    # The biggest shortfall first, so scarce warehouse stock goes where it is missed most.
    for r in sorted(needy, key=lambda r: (r.position - r.reorder_point, r.location_id)):
        need = _packs(r.target - r.position, r.rule)
        for source in sorted(spare, key=lambda loc: (-spare[loc], loc)):
            if need == 0 or source == r.location_id or spare[source] == 0:
                continue
            if r.kind == "warehouse" and spare[source] < need:
                continue  # warehouses move only whole needs between each other
            qty = min(need, spare[source])
            spare[source] -= qty
            need -= qty
            out.append(_proposal(r, "transfer", qty, days, from_location=source))
        if need:
            out.append(_proposal(r, "purchase", need, days))
    return out


def _packs(units: int, rule: ReplenishmentRule | None) -> int:
    pack = rule.pack_size if rule else 1
    return math.ceil(units / pack) * pack


def _proposal(
    r: _Row,
    kind: Literal["transfer", "purchase"],
    qty: int,
    days: int,
    from_location: str | None = None,
) -> Proposal:
    basis = "rule" if r.rule is not None else f"{r.demand} units ordered in {days} days"
    return Proposal(
        location_id=r.location_id,
        sku=r.sku,
        kind=kind,
        quantity=qty,
        from_location_id=from_location,
        supplier=((r.rule.supplier if r.rule else "") or "default") if kind == "purchase" else None,
        on_hand=r.on_hand,
        reserved=r.reserved,
        held=r.held,
        safety_stock=r.safety_stock,
        position=r.position,
        reorder_point=r.reorder_point,
        target_level=r.target,
        demand_units=r.demand,
        daily_demand=round(r.demand / days, 3),
        reason=f"{r.position} free at or below reorder point {r.reorder_point} ({basis}); "
        f"up to {r.target}",
    )


def to_csv(items: list[Proposal]) -> str:
    """The proposals as CSV, one per line, for the buyers' spreadsheets and ERP imports."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for p in items:
        writer.writerow({k: "" if v is None else v for k, v in p.model_dump().items()})
    return out.getvalue()
