"""Regenerate the demo network's master data (catalogue.csv, locations.csv, stock.csv) from
``core.demo_network.build_network()``.

The CSV files are the demo's truth since the network became data the retailer imports
(``devstack.demo_data.load_demo`` loads them through the same importer as a retailer's
files); this script wrote them once and is kept so they can be rebuilt after a deliberate
change to the generator. Ids, prices, weights, flags, capacities, priorities and cut-off hours
are the generator's; new fields are filled sensibly: English names, GTINs from the in-store
GTIN range (prefix 2, never a real product's), a UN hazard class for hazardous goods, the
German state from the postcode table.

    .venv/bin/python demo/generate.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stdnum import ean  # noqa: E402

from activities.masterdata.rows import format_cutoffs  # noqa: E402
from core.demo_network import build_network  # noqa: E402
from core.geodata import lookup  # noqa: E402

DEMO = ROOT / "demo"
ENGLISH = {
    "T-Shirt": "T-shirt",
    "Hemd": "Shirt",
    "Bluse": "Blouse",
    "Pullover": "Jumper",
    "Jacke": "Jacket",
    "Sneaker": "Sneaker",
    "Stiefel": "Boots",
    "Sandale": "Sandal",
    "Laufschuh": "Running shoe",
    "Akkuschrauber": "Cordless screwdriver",
    "Bohrmaschine": "Drill",
    "Werkzeugkoffer": "Tool case",
    "Lithium-Akku": "Lithium battery",
    "Spraydose Lack": "Spray paint",
    "Grillanzünder": "Barbecue lighters",
    "Campinggas": "Camping gas",
    "Sofa": "Sofa",
    "Kleiderschrank": "Wardrobe",
    "Boxspringbett": "Box-spring bed",
    "Esstisch": "Dining table",
    "Kissen": "Cushion",
    "Lampe": "Lamp",
    "Teppich": "Rug",
    "Vase": "Vase",
    "Handtuch-Set": "Towel set",
}
HAZARD_CLASS = {  # UN dangerous-goods classes
    "Lithium-Akku": "9",
    "Spraydose Lack": "2.1",
    "Grillanzünder": "4.1",
    "Campinggas": "2.1",
}


def _yes(flag: bool) -> str:
    return "true" if flag else "false"


def _gtin(n: int) -> str:
    body = f"2{n:011d}"
    return body + ean.calc_check_digit(body)


def main() -> None:
    locations, skus, stock = build_network()
    with (DEMO / "catalogue.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["sku", "gtin", "name_de", "name_en", "price_cents", "vat_class", "weight_kg"]
            + ["bulky", "hazardous", "hazard_class", "returnable", "active"]
        )
        for n, s in enumerate(skus):
            base, number = s.name.rsplit(" ", 1)
            w.writerow(
                [s.sku, _gtin(n), s.name, f"{ENGLISH[base]} {number}", s.price_cents, "standard"]
                + [s.weight_kg, _yes(s.bulky), _yes(s.hazardous)]
                + [HAZARD_CLASS.get(base, "") if s.hazardous else "", "true", "true"]
            )
    with (DEMO / "locations.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["id", "name", "kind", "street", "postcode", "city", "country", "state"]
            + ["latitude", "longitude", "zone", "ships_to_customers", "pickup_point"]
            + ["hazmat_certified", "online", "daily_capacity", "priority", "cutoff_hour"]
            + ["cutoffs", "closed_dates"]
        )
        for loc in locations:
            pc = lookup(loc.postcode)
            assert pc is not None, loc.postcode
            w.writerow(
                [loc.id, loc.name, loc.kind, loc.street, loc.postcode, loc.city, "DE", pc.state]
                + [loc.latitude, loc.longitude, loc.zone, _yes(loc.ships_to_customers)]
                + [_yes(loc.pickup_point), _yes(loc.hazardous_certified), _yes(loc.online)]
                + [loc.daily_capacity, loc.priority, loc.cutoff_hour]
                + [format_cutoffs(loc.cutoffs), ";".join(loc.closed_dates)]
            )
    with (DEMO / "stock.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["location_id", "sku", "quantity"])
        for st in stock:
            w.writerow([st.location_id, st.sku, st.on_hand])
    print(f"{len(skus)} SKUs, {len(locations)} locations, {len(stock)} stock rows in {DEMO}")


if __name__ == "__main__":
    main()
