"""The demo as data: ``demo/*.csv`` loaded through the importer gives the network
``build_network()`` describes (ids, prices, weights, flags, capacities, cut-offs, stock),
with every stock level explained by the ledger; loading again changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from core.db.engine import session_scope
from core.db.migrate import upgrade
from core.db.schema import Location, Sku, Stock, StockMovement
from core.demo_network import build_network
from core.geodata import lookup
from devstack.demo_data import load_demo

LOCATION_FIELDS = (
    "name", "kind", "postcode", "city", "latitude", "longitude", "zone", "ships_to_customers",
    "pickup_point", "hazardous_certified", "online", "daily_capacity", "priority",
    "cutoff_hour", "cutoffs", "closed_dates",
)  # fmt: skip
SKU_FIELDS = ["name", "price_cents", "weight_kg", "bulky", "hazardous"]


def test_demo_loads_as_build_network_describes_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    upgrade(url)
    assert load_demo(url) is True
    locations, skus, stock = build_network()
    with session_scope(url) as s:
        got_locations = {loc.id: loc for loc in s.exec(select(Location)).scalars()}
        got_skus = {sku.sku: sku for sku in s.exec(select(Sku)).scalars()}
        levels = {
            (st.location_id, st.sku): (st.on_hand, st.reserved)
            for st in s.exec(select(Stock)).scalars()
        }
        ledger = {
            (row[0], row[1]): row[2]
            for row in s.exec(
                select(
                    StockMovement.location_id,
                    StockMovement.sku,
                    func.sum(StockMovement.on_hand_delta),
                ).group_by(StockMovement.location_id, StockMovement.sku)
            )
        }
    assert set(got_locations) == {loc.id for loc in locations}
    for loc in locations:
        got = got_locations[loc.id]
        assert {f: getattr(got, f) for f in LOCATION_FIELDS} == {
            f: getattr(loc, f) for f in LOCATION_FIELDS
        }, loc.id
        pc = lookup(loc.postcode)
        assert pc is not None and got.state == pc.state
    assert set(got_skus) == {sku.sku for sku in skus}
    for sku in skus:
        got_sku = got_skus[sku.sku]
        assert {f: getattr(got_sku, f) for f in SKU_FIELDS} == {
            f: getattr(sku, f) for f in SKU_FIELDS
        }, sku.sku
        assert got_sku.vat_class == "standard" and got_sku.active and got_sku.gtin
        assert bool(got_sku.hazard_class) == sku.hazardous
    assert levels == {(st.location_id, st.sku): (st.on_hand, 0) for st in stock}
    assert ledger == {key: on_hand for key, (on_hand, _) in levels.items()}  # all explained

    assert load_demo(url) is False  # a database with a network keeps it
    with session_scope(url) as s:
        assert s.exec(select(func.count()).select_from(Sku)).one()[0] == len(skus)
