"""Carrier tariffs: the demo's default set, transit days and parcel prices (weights in grams).

Weights are handled as whole grams everywhere so the optimiser, the greedy baselines and the
validator price a parcel identically.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from routing.model import Carrier, Speed
from routing.tariff_file import load_carriers


def grams(kg: float) -> int:
    """Whole grams, the unit all weight comparisons use."""
    return round(kg * 1000)


def leitregion(postcode: str) -> str:
    """Leitregion: the first two digits of a German postcode."""
    return postcode.strip()[:2]


def band_limits_g(carrier: Carrier) -> list[int | None]:
    """Upper weight limit in grams of each band (None for the open last band)."""
    return [None if b.max_kg is None else grams(b.max_kg) for b in carrier.weight_bands]


def band_index(carrier: Carrier, weight_g: int) -> int:
    """Index of the cheapest band a parcel of this weight falls into."""
    for i, limit in enumerate(band_limits_g(carrier)):
        if limit is None or weight_g <= limit:
            return i
    return len(carrier.weight_bands) - 1  # unreachable: the last band is open


def surcharge_cents(carrier: Carrier, speed: Speed, bulky: bool) -> int:
    """Fixed extras per parcel: speed surcharge and, if it holds bulky goods, the bulky one."""
    extra = {
        "standard": 0,
        "express": carrier.express_surcharge_cents,
        "same_day": carrier.same_day_surcharge_cents,
    }[speed]
    return extra + (carrier.bulky_surcharge_cents if bulky else 0)


def parcel_cost_cents(carrier: Carrier, weight_g: int, speed: Speed, bulky: bool) -> int:
    """Price of one parcel: weight band plus speed and bulky surcharges."""
    band = carrier.weight_bands[band_index(carrier, weight_g)]
    return band.cost_cents + surcharge_cents(carrier, speed, bulky)


def transit_days(
    carrier: Carrier, origin_postcode: str, dest_postcode: str, distance_km: float, speed: Speed
) -> int:
    """Working days in transit: fixed for express and same-day, else by region or distance."""
    if speed == "same_day":
        return 0
    if speed == "express":
        return carrier.express_days
    origin, dest = leitregion(origin_postcode), leitregion(dest_postcode)
    for key in (f"{origin}-{dest}", dest):
        if key in carrier.region_days:
            return carrier.region_days[key]
    for band in carrier.transit_bands:
        if band.max_km is None or distance_km <= band.max_km:
            return band.days
    return carrier.transit_bands[-1].days  # unreachable: the last band is open


def bulky_ok(carrier: Carrier, distance_km: float) -> bool:
    """Whether this carrier may take bulky goods over this distance."""
    if not carrier.bulky_allowed:
        return False
    return carrier.bulky_max_km is None or distance_km <= carrier.bulky_max_km


DEMO_CARRIERS = Path(__file__).resolve().parent.parent / "demo" / "carriers.toml"
"""The demo's carriers and tariffs: what routing uses until the retailer loads its own."""


@lru_cache(maxsize=1)
def _demo_carriers() -> tuple[Carrier, ...]:
    return tuple(load_carriers(DEMO_CARRIERS))


def default_carriers() -> list[Carrier]:
    """The demo's carrier mix (demo/carriers.toml): parcel, economy, freight for bulky goods,
    city courier. Read once; each call gets its own copies, so a caller may change them."""
    return [c.model_copy(deep=True) for c in _demo_carriers()]
