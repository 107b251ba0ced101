"""Shipping calendars from the retailer's location rows: open weekdays with their cut-offs,
the public holidays of the location's state and its own closing days. Routing gets them as a
`routing.ShippingCalendar`; the console shows why a day is closed; delivery days count the
holidays where the parcel goes."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

import routing
from core.db.schema import Location
from core.geodata import lookup

WEEKDAYS: tuple[routing.Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OWN_CLOSING = "closed (own calendar)"
HOLIDAY_LANGUAGE = "en_US"
"""Names of public holidays, fixed so the console reads the same on every machine's locale."""


@lru_cache(maxsize=512)
def _state_holidays(state: str, year: int) -> tuple[tuple[date, str], ...]:
    """Public holidays of a German state in one year (national ones without a state)."""
    calendar = holidays.Germany(subdiv=state or None, years=year, language=HOLIDAY_LANGUAGE)
    return tuple(sorted(calendar.items()))


def public_holidays(state: str, start: date, days: int) -> dict[date, str]:
    """Public holidays in [start, start + days) of `state` (a code like "HE"; "" = national)."""
    end = start + timedelta(days=days)
    out: dict[date, str] = {}
    for year in range(start.year, end.year + 1):
        for day, name in _state_holidays(state.strip().upper(), year):
            if start <= day < end:
                out[day] = name
    return out


def cutoffs(loc: Location) -> dict[routing.Weekday, str]:
    """The location's cut-off per open weekday; none given: Monday to Saturday at its hour."""
    if loc.cutoffs:
        given = {k.strip().lower(): v for k, v in loc.cutoffs.items()}
        return {day: given[day] for day in WEEKDAYS if day in given}
    hour = min(max(loc.cutoff_hour, 0), 24)
    return dict.fromkeys(WEEKDAYS[:6], f"{hour:02d}:00")


def own_closed_dates(loc: Location, start: date, days: int) -> list[date]:
    """The location's own closing days in [start, start + days)."""
    end = start + timedelta(days=days)
    found = {date.fromisoformat(text) for text in loc.closed_dates}
    return sorted(d for d in found if start <= d < end)


def shipping_calendar(loc: Location, start: date, days: int = 60) -> routing.ShippingCalendar:
    """When the location hands parcels to carriers, from `start` for `days` days: far enough
    for routing, which never looks beyond the first open day after the order."""
    closed = set(public_holidays(loc.state, start, days)) | set(own_closed_dates(loc, start, days))
    return routing.ShippingCalendar(cutoffs=cutoffs(loc), closed=sorted(closed))


def closed_days(loc: Location, start: date, days: int) -> dict[date, str]:
    """Every day in [start, start + days) the location does not ship, with the reason: its
    weekday is not open, a public holiday (by name), or its own closing day."""
    open_days = cutoffs(loc)
    holiday_names = public_holidays(loc.state, start, days)
    own = set(own_closed_dates(loc, start, days))
    out: dict[date, str] = {}
    for offset in range(days):
        day = start + timedelta(days=offset)
        weekday = WEEKDAYS[day.weekday()]
        if weekday not in open_days:
            out[day] = f"not open on {weekday}"
        elif day in holiday_names:
            out[day] = holiday_names[day]
        elif day in own:
            out[day] = OWN_CLOSING
    return out


def destination_holidays(postcode: str, start: date, days: int = 60) -> list[date]:
    """Public holidays where the parcel goes (its postcode's state; national ones if the
    postcode is unknown): carriers do not deliver on them."""
    found = lookup(postcode.strip())
    state = found.state if found is not None else ""
    return sorted(public_holidays(state, start, days))
