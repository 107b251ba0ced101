"""Helpers for the inventory tests: fresh SKUs and locations, levels, ledger sums, feeds."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
from sqlmodel import select

from activities.stock import ledger
from core.db.engine import session_scope
from core.db.schema import Location, Sku, Stock, StockHold
from core.domain.shipments import ShipmentLine, ShipmentPlan


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def new_sku(url: str, prefix: str = "INV", **fields: object) -> str:
    sku = uid(prefix)
    with session_scope(url) as s:
        s.add(Sku(sku=sku, name=f"Test {sku}", price_cents=1999, weight_kg=0.5, **fields))
    return sku


def new_location(
    url: str,
    kind: str = "warehouse",
    *,
    postcode: str = "20095",
    city: str = "Hamburg",
    lat: float = 53.55,
    lon: float = 10.0,
    **fields: object,
) -> str:
    # "ZT..." sorts after the demo network's ids, so helpers picking "the first warehouse"
    # in other tests still get a demo one.
    loc = uid({"warehouse": "ZTW", "store": "ZTS", "vendor": "ZTV"}[kind])
    with session_scope(url) as s:
        s.add(
            Location(
                id=loc,
                name=f"Test {loc}",
                kind=kind,
                postcode=postcode,
                city=city,
                latitude=lat,
                longitude=lon,
                daily_capacity=100_000,
                pickup_point=kind == "store",
                **fields,
            )
        )
    return loc


def level(url: str, loc: str, sku: str) -> tuple[int, int, int]:
    """(on_hand, reserved, held) of one stock row, (0, 0, 0) when there is none."""
    with session_scope(url) as s:
        row = s.get(Stock, (loc, sku))
        return (row.on_hand, row.reserved, row.held) if row else (0, 0, 0)


def ledger_sums(url: str, loc: str, sku: str) -> tuple[int, int, int]:
    with session_scope(url) as s:
        sums, _ = ledger.ledger_levels(s.connection(), loc, sku)
    return sums.on_hand, sums.reserved, sums.held


def active_hold_units(url: str, loc: str, sku: str) -> int:
    with session_scope(url) as s:
        rows = s.exec(
            select(StockHold).where(
                StockHold.location_id == loc, StockHold.sku == sku, StockHold.status == "active"
            )
        ).all()
    return sum(r.quantity for r in rows)


def plan(order_id: str, loc: str, *lines: tuple[str, int]) -> list[ShipmentPlan]:
    """A one-shipment plan as the routing activity would hand it to ``inventory.reserve``."""
    return [
        ShipmentPlan(
            shipment_id=f"{order_id}-S1",
            location_id=loc,
            lines=[
                ShipmentLine(line_id=f"L{i + 1}", sku=sku, quantity=qty)
                for i, (sku, qty) in enumerate(lines)
            ],
            carrier="parcel",
            ship_date=date(2026, 1, 5),
            promised_delivery=date(2026, 1, 6),
            cost_cents=500,
            goods_cents=1999,
        )
    ]


async def post_feed(
    api: httpx.AsyncClient,
    feed_id: str,
    body: str,
    *,
    mode: str = "delta",
    fmt: str = "csv",
    **params: str,
) -> httpx.Response:
    content_type = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return await api.post(
        f"/inventory/feeds/{feed_id}",
        params={"mode": mode, **params},
        content=body.encode(),
        headers={"content-type": content_type},
    )


def csv_body(rows: list[tuple[str, str, int]]) -> str:
    return "location_id,sku,quantity\n" + "".join(f"{loc},{sku},{q}\n" for loc, sku, q in rows)
