"""A realistic demo network: warehouses and stores in real German towns, a catalogue, stock.

Deterministic for a given seed, so tests, benchmarks and the demo all see the same network.
The demo loads it as data: ``demo/generate.py`` wrote ``demo/*.csv`` from ``build_network``
and ``devstack.demo_data.load_demo`` imports them like a retailer's files.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from sqlmodel import col, select

from core.db.engine import session_scope
from core.db.schema import ApiKey, Location, Sku, Stock, key_hash
from core.geodata import Postcode, postcodes

RETURNS_CENTRE_ID, RETURNS_CENTRE_TOWN = "RC-KASSEL", "Kassel"
WAREHOUSE_TOWNS = ["Hamburg", "Berlin", "Dortmund", "Frankfurt am Main", "Leipzig", "München"]
ZONES = {
    "SH": "north",
    "HH": "north",
    "NI": "north",
    "HB": "north",
    "MV": "north",
    "BE": "east",
    "BB": "east",
    "SN": "east",
    "ST": "east",
    "TH": "east",
    "NW": "west",
    "RP": "west",
    "SL": "west",
    "HE": "west",
    "BY": "south",
    "BW": "south",
}

_CATEGORIES = [
    # (prefix, names, price range cents, weight range, bulky, hazardous)
    (
        "TS",
        ["T-Shirt", "Hemd", "Bluse", "Pullover", "Jacke"],
        (1499, 8999),
        (0.2, 1.2),
        False,
        False,
    ),
    ("SH", ["Sneaker", "Stiefel", "Sandale", "Laufschuh"], (3999, 14999), (0.8, 1.8), False, False),
    (
        "HW",
        ["Akkuschrauber", "Bohrmaschine", "Werkzeugkoffer"],
        (4999, 19999),
        (1.5, 6.0),
        False,
        False,
    ),
    (
        "HZ",
        ["Lithium-Akku", "Spraydose Lack", "Grillanzünder", "Campinggas"],
        (499, 4999),
        (0.2, 2.0),
        False,
        True,
    ),
    (
        "FU",
        ["Sofa", "Kleiderschrank", "Boxspringbett", "Esstisch"],
        (29999, 149999),
        (25.0, 90.0),
        True,
        False,
    ),
    (
        "HO",
        ["Kissen", "Lampe", "Teppich", "Vase", "Handtuch-Set"],
        (999, 9999),
        (0.3, 4.0),
        False,
        False,
    ),
]


@dataclass(frozen=True)
class DemoSize:
    warehouses: int = 6
    stores: int = 36
    vendors: int = 2
    skus: int = 300


def _slug(text: str) -> str:
    text = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    return re.sub(r"[^A-Z0-9]+", "-", text.upper()).strip("-")[:20]


def _towns() -> list[tuple[str, Postcode, int]]:
    """Towns by population, each with a representative postcode."""
    by_town: dict[tuple[str, str], list[Postcode]] = defaultdict(list)
    for pc in postcodes().values():
        if pc.city:
            by_town[(pc.city, pc.state)].append(pc)
    towns = [
        (city, pcs[len(pcs) // 2], sum(p.population for p in pcs))
        for (city, _state), pcs in by_town.items()
    ]
    towns.sort(key=lambda t: (-t[2], t[0]))
    return towns


def build_network(
    seed: int = 42, size: DemoSize = DemoSize()
) -> tuple[list[Location], list[Sku], list[Stock]]:
    """Locations, SKUs and stock for the demo; pure, no database."""
    rng = random.Random(seed)
    towns = _towns()
    by_name = {t[0]: t for t in towns}
    locations: list[Location] = []
    for name in WAREHOUSE_TOWNS[: size.warehouses]:
        _, pc, _ = by_name[name]
        locations.append(
            Location(
                id=f"WH-{_slug(name)[:8]}",
                name=f"Lager {name}",
                kind="warehouse",
                postcode=pc.postcode,
                city=name,
                latitude=pc.latitude,
                longitude=pc.longitude,
                zone=ZONES.get(pc.state, "west"),
                hazardous_certified=name in {"Hamburg", "Leipzig", "München"},
                daily_capacity=5000,
                priority=10 + len(locations),
                cutoff_hour=17,
            )
        )
    for i, (name, pc, _pop) in enumerate(towns[: size.stores]):
        locations.append(
            Location(
                id=f"ST-{_slug(name)}",
                name=f"Filiale {name}",
                kind="store",
                postcode=pc.postcode,
                city=name,
                latitude=pc.latitude,
                longitude=pc.longitude,
                zone=ZONES.get(pc.state, "west"),
                ships_to_customers=i % 4 != 3,
                pickup_point=True,
                daily_capacity=150,
                priority=200 + i,
                cutoff_hour=15,
            )
        )
    for name in ["Bielefeld", "Nürnberg"][: size.vendors]:
        _, pc, _ = by_name[name]
        locations.append(
            Location(
                id=f"VD-{_slug(name)[:8]}",
                name=f"Möbelpartner {name}",
                kind="vendor",
                postcode=pc.postcode,
                city=name,
                latitude=pc.latitude,
                longitude=pc.longitude,
                zone=ZONES.get(pc.state, "west"),
                daily_capacity=400,
                priority=100,
                cutoff_hour=14,
            )
        )
    _, pc, _ = by_name[RETURNS_CENTRE_TOWN]  # defective returns; never ships, holds no stock
    locations.append(
        Location(
            id=RETURNS_CENTRE_ID,
            name=f"Retourenzentrum {RETURNS_CENTRE_TOWN}",
            kind="returns_centre",
            postcode=pc.postcode,
            city=RETURNS_CENTRE_TOWN,
            latitude=pc.latitude,
            longitude=pc.longitude,
            zone=ZONES.get(pc.state, "west"),
            ships_to_customers=False,
            daily_capacity=0,
            priority=1000,
            cutoff_hour=16,
        )
    )

    skus: list[Sku] = []
    for n in range(size.skus):
        prefix, names, (pmin, pmax), (wmin, wmax), bulky, hazardous = _CATEGORIES[
            n % len(_CATEGORIES)
        ]
        skus.append(
            Sku(
                sku=f"{prefix}-{n:04d}",
                name=f"{rng.choice(names)} {n:04d}",
                price_cents=rng.randrange(pmin, pmax, 100),
                weight_kg=round(rng.uniform(wmin, wmax), 2),
                bulky=bulky,
                hazardous=hazardous,
            )
        )

    stock: list[Stock] = []
    for loc in locations:
        if loc.kind == "returns_centre":
            continue
        for sku in skus:
            if loc.kind == "warehouse":
                if sku.bulky or rng.random() < 0.25:
                    continue
                qty = rng.randint(5, 200)
            elif loc.kind == "store":
                if sku.bulky or rng.random() < 0.6:
                    continue
                qty = rng.randint(1, 12)
            else:  # vendors carry furniture only
                if not sku.bulky:
                    continue
                qty = rng.randint(10, 60)
            stock.append(Stock(location_id=loc.id, sku=sku.sku, on_hand=qty))
    return locations, skus, stock


def demo_portal_key(location_id: str) -> str:
    """The embedded demo's portal key of a location. Public by design: demo only."""
    return f"demo-{location_id.lower()}"


class PortalKey(NamedTuple):
    location_id: str
    kind: str
    name: str
    key: str


def seed_portal_keys(url: str) -> list[PortalKey]:
    """A portal key per location for the embedded demo (only ever called by ``devstack up``);
    keys already there are kept, so a second start changes nothing."""
    keys: list[PortalKey] = []
    with session_scope(url) as session:
        known = set(session.exec(select(ApiKey.key_hash)).all())
        for loc in session.exec(
            select(Location).order_by(col(Location.priority), col(Location.id))
        ):
            key = demo_portal_key(loc.id)
            keys.append(PortalKey(loc.id, loc.kind, loc.name, key))
            if key_hash(key) not in known:
                session.add(
                    ApiKey(
                        key_hash=key_hash(key),
                        role="location",
                        location_id=loc.id,
                        label=f"{loc.name} (demo key)",
                    )
                )
    return keys


STAFF_KEYS = (
    ("demo-shop", "shop", "Web shop (demo key)"),
    ("demo-cs", "customer_service", "Customer service (demo key)"),
    ("demo-ops", "operations", "Operations (demo key)"),
    ("demo-agent", "agent", "Telefonbot (demo key)"),  # AI agents: the MCP server (/mcp) only
)


def seed_staff_keys(url: str) -> list[tuple[str, str]]:
    """The demo keys of the console (customer service, operations), the shop and an AI agent
    (the MCP server), for ``devstack up`` only; kept when already there. Returns (key, role)
    pairs."""
    with session_scope(url) as session:
        known = set(session.exec(select(ApiKey.key_hash)).all())
        for key, role, label in STAFF_KEYS:
            if key_hash(key) not in known:
                session.add(ApiKey(key_hash=key_hash(key), role=role, label=label))
    return [(key, role) for key, role, _ in STAFF_KEYS]
