"""The retailer's network as routing sees it: a location row with its shipping calendar, the
carriers in force and the destination's holidays. One home for it, so orders, promises and
re-routing plan on the same data."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

import routing
from activities.masterdata.calendar import destination_holidays, shipping_calendar
from activities.masterdata.tariffs import current_carriers
from core.db.schema import Location

HORIZON_DAYS = 60
"""Days of calendar handed to routing: further than any transit plus closures."""


def candidate_location(
    loc: Location, *, stock: dict[str, int], capacity_left: int, start: date, backlog: int = 0
) -> routing.CandidateLocation:
    """A location row as a routing candidate, with its cut-offs, open days and holidays."""
    return routing.CandidateLocation(
        id=loc.id,
        kind=loc.kind,  # returns centres never reach routing
        postcode=loc.postcode,
        latitude=loc.latitude,
        longitude=loc.longitude,
        city=loc.city,
        stock=stock,
        capacity_left=max(0, capacity_left),
        backlog=backlog,
        ships_to_customers=loc.ships_to_customers,
        hazardous_certified=loc.hazardous_certified,
        zone=loc.zone,
        priority=loc.priority,
        cutoff_hour=min(max(loc.cutoff_hour, 0), 24),
        calendar=shipping_calendar(loc, start, HORIZON_DAYS),
    )


def carriers_and_holidays(
    s: Session, dest_postcode: str, start: date
) -> tuple[list[routing.Carrier], list[date]]:
    """The carriers and tariffs in force now, and the public holidays where the parcel goes
    (no delivery on them)."""
    _version, carriers = current_carriers(s)
    return carriers, destination_holidays(dest_postcode, start, HORIZON_DAYS)
