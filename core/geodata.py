"""German postcodes with coordinates and population (shipped copy of shared/data)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

POSTCODES_CSV = Path(__file__).resolve().parent / "data" / "de-postcodes.csv"


@dataclass(frozen=True)
class Postcode:
    postcode: str
    city: str
    state: str
    latitude: float
    longitude: float
    population: int


@lru_cache(maxsize=1)
def postcodes() -> dict[str, Postcode]:
    """All German postcodes by code."""
    with POSTCODES_CSV.open(newline="", encoding="utf-8") as fh:
        return {
            row["postcode"]: Postcode(
                postcode=row["postcode"],
                city=row["city"],
                state=row["state"],
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
                population=int(row["population_estimate"]),
            )
            for row in csv.DictReader(fh)
        }


def lookup(postcode: str) -> Postcode | None:
    return postcodes().get(postcode)
