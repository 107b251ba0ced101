"""Which destination wins for non-defective returned goods (pure; the database facts are
gathered by ``activities.returns.routing``).

The neediest candidate is the one with the fewest *days of cover* for the returned SKUs.
Candidates within ``tolerance_days`` of the neediest count as equally useful, and among those
the cheapest to reach wins; ties by transit days, distance, then location id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from core.domain.returns import ReturnLine

NO_DEMAND_COVER_DAYS = 3650.0
"""Days of cover of a SKU a location does not carry and never sold: as good as never needed."""


class NoDestination(ValueError):
    """No location may take these goods (unknown returns centre, nothing reachable)."""


class Place(Protocol):
    """Whatever stands for a location here; only its id matters to the rule (the last
    tie-break)."""

    @property
    def id(self) -> str: ...


P = TypeVar("P", bound=Place)


@dataclass(frozen=True)
class Candidate(Generic[P]):
    location: P
    days_of_cover: float
    carriage_cents: int
    transit_days: int
    distance_km: float
    carrier: str


def line_cover(per_sku: Mapping[str, float], lines: Sequence[ReturnLine]) -> float:
    """A location's days of cover for these lines: each SKU's cover weighted by the units
    returned (a SKU it neither carries nor sold counts as ``NO_DEMAND_COVER_DAYS``), rounded
    to two decimals."""
    units = sum(ln.quantity for ln in lines)
    days = sum(per_sku.get(ln.sku, NO_DEMAND_COVER_DAYS) * ln.quantity for ln in lines) / units
    return round(days, 2)


def pick(candidates: Sequence[Candidate[P]], tolerance_days: float) -> Candidate[P]:
    """The rule itself: among the locations needing the goods about as much as the neediest
    one, the cheapest to reach; ties by transit days, distance, then id."""
    if not candidates:
        raise NoDestination("no location can take these goods")
    neediest = min(c.days_of_cover for c in candidates)
    useful = [c for c in candidates if c.days_of_cover <= neediest + tolerance_days]
    return min(
        useful, key=lambda c: (c.carriage_cents, c.transit_days, c.distance_km, c.location.id)
    )
