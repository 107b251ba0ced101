"""The routing problem and plan types: plain pydantic models so they cross any boundary as JSON."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Speed = Literal["standard", "express", "same_day"]
LocationKind = Literal["warehouse", "store", "vendor"]
Criterion = Literal["parcels", "delivery_days", "cost", "backlog"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""In ``date.weekday()`` order, so ``WEEKDAYS[day.weekday()]`` names a date's weekday."""
CRITERIA: tuple[Criterion, ...] = ("parcels", "delivery_days", "cost", "backlog")

PICKUP_CARRIER = "pickup"
"""Pseudo-carrier of the shipment a pickup store serves from its own shelves (no carriage)."""


class _Model(BaseModel):
    """Strict base: unknown fields are errors, so typos in JSON or config do not pass silently;
    so are NaN and infinities (TOML writes them as `nan` and `inf`), which JSON cannot carry."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class OrderLine(_Model):
    """One order position; weight is per unit."""

    line_id: str
    sku: str
    quantity: int = Field(ge=1)
    weight_kg: float = Field(default=0.5, ge=0)
    bulky: bool = False
    hazardous: bool = False


class Destination(_Model):
    """Where the customer wants the parcels; city decides same-day eligibility."""

    postcode: str
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    city: str = ""


def cutoff_minutes(text: str) -> int:
    """Minutes after midnight of an "HH:MM" cut-off (00:00 to 24:00; 24:00 = all day)."""
    hours, sep, minutes = text.partition(":")
    ok = sep == ":" and len(hours) == 2 and len(minutes) == 2
    ok = ok and hours.isdigit() and minutes.isdigit() and hours.isascii() and minutes.isascii()
    value = int(hours) * 60 + int(minutes) if ok else -1
    if not ok or int(minutes) > 59 or not 0 <= value <= 24 * 60:
        raise ValueError(f"cut-off {text!r} must be HH:MM between 00:00 and 24:00")
    return value


class ShippingCalendar(_Model):
    """When a location hands parcels to carriers: open weekdays with their cut-off, minus
    closed dates. An order before the day's cut-off (local time) ships that day."""

    cutoffs: dict[Weekday, str] = Field(
        min_length=1, description='"HH:MM" per open weekday; a weekday not named is closed'
    )
    closed: list[date] = Field(
        default_factory=list,
        description="public holidays of the location's state and its own closing days",
    )

    @field_validator("cutoffs")
    @classmethod
    def _cutoff_format(cls, value: dict[Weekday, str]) -> dict[Weekday, str]:
        for text in value.values():
            cutoff_minutes(text)
        return value


class CandidateLocation(_Model):
    """A warehouse, store or drop-ship vendor that may fulfil (part of) the order."""

    id: str
    kind: LocationKind
    postcode: str
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    city: str = ""
    stock: dict[str, int] = Field(default_factory=dict)
    capacity_left: int = Field(ge=0)
    backlog: int = Field(default=0, ge=0)
    ships_to_customers: bool = True
    hazardous_certified: bool = False
    zone: str = ""
    priority: int = 100
    cutoff_hour: int = Field(default=16, ge=0, le=24)
    calendar: ShippingCalendar | None = Field(
        default=None,
        description="own open days and cut-offs; None: Monday to Saturday at cutoff_hour, "
        "closed on the problem's holidays",
    )

    @field_validator("stock")
    @classmethod
    def _no_negative_stock(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [sku for sku, units in value.items() if units < 0]
        if bad:
            raise ValueError(f"negative stock for {bad}")
        return value


class WeightBand(_Model):
    """Price of one parcel up to max_kg; the last band of a carrier is open (max_kg None)."""

    max_kg: float | None = Field(default=None, gt=0)
    cost_cents: int = Field(ge=0)


class DistanceBand(_Model):
    """Standard transit days for parcels travelling up to max_km (None = any distance)."""

    max_km: float | None = Field(default=None, gt=0)
    days: int = Field(ge=0)


def _standard_only() -> list[Speed]:
    return ["standard"]


class Carrier(_Model):
    """A carrier service: where it goes, how fast, what it costs and what it may carry.

    Standard transit comes from `region_days` (Leitregion = first two postcode digits; key
    "DD" for the destination region or "OO-DD" for an origin/destination pair, the pair wins)
    and otherwise from `transit_bands` by distance.
    """

    name: str
    speeds: list[Speed] = Field(default_factory=_standard_only, min_length=1)
    weight_bands: list[WeightBand] = Field(min_length=1)
    transit_bands: list[DistanceBand] = Field(
        default_factory=lambda: [DistanceBand(max_km=None, days=2)], min_length=1
    )
    region_days: dict[str, int] = Field(default_factory=dict)
    express_days: int = Field(default=1, ge=0)
    express_surcharge_cents: int = Field(default=0, ge=0)
    same_day_surcharge_cents: int = Field(default=0, ge=0)
    same_day_max_km: float = Field(default=50.0, gt=0)
    bulky_allowed: bool = True
    bulky_surcharge_cents: int = Field(default=0, ge=0)
    bulky_max_km: float | None = Field(default=None, gt=0)
    hazardous_allowed: bool = True

    @field_validator("weight_bands")
    @classmethod
    def _bands_ascending_and_open(cls, bands: list[WeightBand]) -> list[WeightBand]:
        limits = [b.max_kg for b in bands]
        if limits[-1] is not None:
            raise ValueError("the last weight band must be open-ended (max_kg omitted)")
        closed = limits[:-1]
        if any(x is None for x in closed) or closed != sorted(closed):  # type: ignore[type-var]
            raise ValueError("weight bands must have ascending max_kg, only the last open")
        costs = [b.cost_cents for b in bands]
        if costs != sorted(costs):
            raise ValueError("a heavier weight band must not cost less than a lighter one")
        return bands

    @field_validator("transit_bands")
    @classmethod
    def _transit_ascending_and_open(cls, bands: list[DistanceBand]) -> list[DistanceBand]:
        limits = [b.max_km for b in bands]
        if limits[-1] is not None:
            raise ValueError("the last transit band must be open-ended (max_km omitted)")
        closed = limits[:-1]
        if any(x is None for x in closed) or closed != sorted(closed):  # type: ignore[type-var]
            raise ValueError("transit bands must have ascending max_km, only the last open")
        return bands

    @field_validator("region_days")
    @classmethod
    def _region_keys(cls, value: dict[str, int]) -> dict[str, int]:
        for key, days in value.items():
            parts = key.split("-")
            ok = len(parts) in (1, 2) and all(len(p) == 2 and p.isdigit() for p in parts)
            if not ok:
                raise ValueError(f"region key {key!r} must be 'DD' or 'OO-DD' (Leitregion digits)")
            if days < 0:
                raise ValueError(f"region {key!r}: days must be >= 0")
        return value


class RuleProfile(_Model):
    """How a customer group trades parcels, delivery days, cost and backlog balance.

    `priorities` lists tiers, most important first; within a tier the criteria are added with
    their `weights` (default 1; cost is in cents, delivery_days in days, backlog in units times
    excess backlog). A later tier only breaks ties of the earlier ones. Covering as much of the
    order as possible always comes first.
    """

    name: str = "default"
    description: str = ""
    priorities: list[list[Criterion]] = Field(min_length=1)
    weights: dict[Criterion, int] = Field(default_factory=dict)
    allow_line_split: bool = True

    @field_validator("priorities")
    @classmethod
    def _each_criterion_once(cls, tiers: list[list[Criterion]]) -> list[list[Criterion]]:
        seen: set[str] = set()
        for tier in tiers:
            if not tier:
                raise ValueError("a priority tier must name at least one criterion")
            for crit in tier:
                if crit in seen:
                    raise ValueError(f"criterion {crit!r} appears in more than one place")
                seen.add(crit)
        return tiers

    @model_validator(mode="after")
    def _weights_match(self) -> RuleProfile:
        listed = {c for tier in self.priorities for c in tier}
        for crit, weight in self.weights.items():
            if crit not in listed:
                raise ValueError(f"weights.{crit}: criterion is not listed in priorities")
            if weight < 1:
                raise ValueError(f"weights.{crit}: weight must be a positive integer")
        return self

    def weight(self, criterion: Criterion) -> int:
        """Weight of a criterion inside its tier (1 unless configured)."""
        return self.weights.get(criterion, 1)


def _default_carriers() -> list[Carrier]:
    from routing.carriers import default_carriers  # late import: carriers builds on this module

    return default_carriers()


class RoutingProblem(_Model):
    """Everything routing needs to plan one order; a pure value, no database or clock."""

    order_id: str
    lines: list[OrderLine] = Field(min_length=1)
    destination: Destination
    pickup_store_id: str | None = None
    speed: Speed = "standard"
    order_time: datetime
    customer_group: str = "default"
    locations: list[CandidateLocation]
    carriers: list[Carrier] = Field(default_factory=_default_carriers)
    profile: RuleProfile | None = None
    timezone: str = "Europe/Berlin"
    holidays: list[date] = Field(default_factory=list)

    @field_validator("order_time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("order_time must be timezone-aware")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> RoutingProblem:
        for what, ids in (
            ("lines.line_id", [x.line_id for x in self.lines]),
            ("locations.id", [x.id for x in self.locations]),
            ("carriers.name", [x.name for x in self.carriers]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{what} must be unique, duplicated: {dupes}")
        if PICKUP_CARRIER in {c.name for c in self.carriers}:
            raise ValueError(f"carriers.name {PICKUP_CARRIER!r} is reserved")
        if self.pickup_store_id is not None:
            store = next((x for x in self.locations if x.id == self.pickup_store_id), None)
            if store is None:
                raise ValueError("pickup_store_id must be one of locations")
            if store.kind != "store":
                raise ValueError("pickup_store_id must name a location of kind 'store'")
        return self


class PlannedLine(_Model):
    """Part (or all) of an order line, as served by one shipment or left uncovered."""

    line_id: str
    sku: str
    quantity: int = Field(ge=1)


class PlannedShipment(_Model):
    """One parcel from one location; with click & collect a transfer into the pickup store."""

    location_id: str
    lines: list[PlannedLine]
    carrier: str
    ship_date: date
    promised_delivery: date
    cost_cents: int
    transfer_to: str | None = None
    distance_km: float = 0.0
    weight_kg: float = 0.0


class RoutingPlan(_Model):
    """The answer: shipments, what could not be covered, and how good and how proven it is."""

    order_id: str
    shipments: list[PlannedShipment]
    uncovered: list[PlannedLine]
    objective: float
    optimal: bool
    strategy: str
    solve_ms: float
    criteria: dict[str, int] = Field(default_factory=dict)
    note: str = ""
