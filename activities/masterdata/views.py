"""What the API and the console show of a catalogue article and a location: plain pydantic
models, so table classes stay behind the activities and every reader sees the same fields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from activities.masterdata.calendar import WEEKDAYS, cutoffs
from core.db.schema import Location, Sku


class SkuView(BaseModel):
    sku: str
    name: str = Field(description="German name")
    name_en: str
    gtin: str | None
    price_cents: int = Field(description="list price, gross")
    vat_class: str
    weight_kg: float
    length_cm: float | None
    width_cm: float | None
    height_cm: float | None
    bulky: bool
    hazardous: bool
    hazard_class: str
    returnable: bool
    active: bool = Field(description="inactive: no new orders; running orders keep it")
    updated_at: datetime


class LocationView(BaseModel):
    id: str
    name: str
    kind: str
    street: str
    postcode: str
    city: str
    country: str
    state: str
    latitude: float
    longitude: float
    zone: str
    ships_to_customers: bool
    pickup_point: bool
    hazardous_certified: bool
    online: bool
    daily_capacity: int
    priority: int
    cutoff_hour: int
    cutoffs: dict[str, str] = Field(description="as stored; empty: Monday to Saturday")
    cutoff_by_weekday: dict[str, str | None] = Field(
        description='resolved cut-off "HH:MM" of every weekday, null where it does not ship'
    )
    closed_dates: list[str] = Field(description="own closing days (ISO), besides holidays")
    updated_at: datetime


class CalendarDay(BaseModel):
    """One day of a location's shipping calendar."""

    date: date
    weekday: str
    ships: bool
    cutoff: str | None = Field(description='"HH:MM" on a shipping day')
    reason: str | None = Field(description="why it does not ship that day")


class LocationDetail(LocationView):
    calendar: list[CalendarDay] = Field(
        default_factory=list, description="the next days from today (empty if not known)"
    )


def resolved_cutoffs(loc: Location) -> dict[str, str | None]:
    """Every weekday's cut-off as routing reads it (``calendar.cutoffs``), None where it does
    not ship."""
    open_days = cutoffs(loc)
    return {d: open_days.get(d) for d in WEEKDAYS}


def sku_view(row: Sku) -> SkuView:
    return SkuView.model_validate(row, from_attributes=True)


def location_view(row: Location) -> LocationView:
    return LocationView.model_validate(
        {**_columns(row), "cutoff_by_weekday": resolved_cutoffs(row), "updated_at": row.updated_at}
    )


def snapshot(row: Location | Sku) -> dict[str, Any]:
    """The record as the audit log keeps it: every column but ``updated_at``."""
    return {k: v for k, v in _columns(row).items() if k != "updated_at"}


def _columns(row: Location | Sku) -> dict[str, Any]:
    table = type(row).__table__  # type: ignore[union-attr]
    return {c.name: _copy(getattr(row, c.name)) for c in table.columns}


def _copy(value: Any) -> Any:
    """JSON columns are mutable: the audit's "before" must not follow later edits."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value
