"""Carrier tariffs: a default German set, transit days and parcel prices (weights in grams).

Weights are handled as whole grams everywhere so the optimiser, the greedy baselines and the
validator price a parcel identically.
"""

from __future__ import annotations

from routing.model import Carrier, DistanceBand, Speed, WeightBand


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


def default_carriers() -> list[Carrier]:
    """A plausible German carrier mix: parcel, economy, freight for bulky goods, city courier."""
    return [
        Carrier(
            name="parcel",
            speeds=["standard", "express"],
            weight_bands=[
                WeightBand(max_kg=2, cost_cents=449),
                WeightBand(max_kg=5, cost_cents=549),
                WeightBand(max_kg=10, cost_cents=749),
                WeightBand(max_kg=31.5, cost_cents=1049),
                WeightBand(cost_cents=2990),
            ],
            transit_bands=[DistanceBand(max_km=200, days=1), DistanceBand(days=2)],
            express_days=1,
            express_surcharge_cents=990,
            bulky_surcharge_cents=1990,
            bulky_max_km=250,
            hazardous_allowed=True,
        ),
        Carrier(
            name="economy",
            speeds=["standard"],
            weight_bands=[
                WeightBand(max_kg=2, cost_cents=379),
                WeightBand(max_kg=5, cost_cents=459),
                WeightBand(max_kg=10, cost_cents=629),
                WeightBand(max_kg=31.5, cost_cents=949),
                WeightBand(cost_cents=2790),
            ],
            transit_bands=[DistanceBand(max_km=100, days=2), DistanceBand(days=3)],
            bulky_allowed=False,
            hazardous_allowed=False,
        ),
        Carrier(
            name="freight",
            speeds=["standard"],
            weight_bands=[WeightBand(max_kg=31.5, cost_cents=3900), WeightBand(cost_cents=5900)],
            transit_bands=[DistanceBand(max_km=300, days=2), DistanceBand(days=3)],
            bulky_allowed=True,
            bulky_max_km=600,
            hazardous_allowed=True,
        ),
        Carrier(
            name="courier",
            speeds=["same_day"],
            weight_bands=[
                WeightBand(max_kg=10, cost_cents=990),
                WeightBand(max_kg=31.5, cost_cents=1990),
                WeightBand(cost_cents=4990),
            ],
            same_day_max_km=40,
            bulky_allowed=True,
            bulky_surcharge_cents=1500,
            bulky_max_km=40,
            hazardous_allowed=False,
        ),
    ]
