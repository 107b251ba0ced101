"""Ship and delivery dates: cut-offs, open days, no delivery on Sundays and holidays.

A location ships on its open days: by default Monday to Saturday except the problem's holidays,
with one cut-off hour; with a `ShippingCalendar`, on the weekdays it names, each with its own
cut-off, except its closed dates. Delivery counts carrier working days at the destination:
Monday to Saturday except the problem's holidays.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from routing.model import WEEKDAYS, CandidateLocation, cutoff_minutes

ALL_DAY = 24 * 60
"""A "24:00" cut-off: every order of the day makes that day's collection."""


def local_time(order_time: datetime, timezone: str) -> datetime:
    """The order time on the locations' wall clock, where cut-offs are defined."""
    return order_time.astimezone(ZoneInfo(timezone))


def is_working_day(day: date, holidays: Collection[date]) -> bool:
    """Carriers collect and deliver Monday to Saturday, except public holidays."""
    return day.weekday() != 6 and day not in holidays


def next_working_day(day: date, holidays: Collection[date]) -> date:
    """The first working day strictly after `day`."""
    day += timedelta(days=1)
    while not is_working_day(day, holidays):
        day += timedelta(days=1)
    return day


def before_cutoff(local: datetime, cutoff_hour: int) -> bool:
    """Orders placed before the location's cut-off hour still make today's collection."""
    return local.hour < cutoff_hour


def ship_date(local: datetime, cutoff_hour: int, holidays: Collection[date]) -> date:
    """Today if it is a working day and before cut-off, else the next working day."""
    today = local.date()
    if is_working_day(today, holidays) and before_cutoff(local, cutoff_hour):
        return today
    return next_working_day(today, holidays)


def add_working_days(start: date, days: int, holidays: Collection[date]) -> date:
    """Delivery date after `days` working days in transit (0 = delivered the same day)."""
    day = start
    for _ in range(days):
        day = next_working_day(day, holidays)
    return day


def delivery_date(shipped: date, transit: int, holidays: Collection[date]) -> date:
    """Promised delivery: `transit` working days after shipping, never on a rest day. A
    location may ship on a day carriers do not deliver (its own Sunday opening, a holiday
    at the destination only), so a same-day transit rolls on to the next working day."""
    day = add_working_days(shipped, transit, holidays)
    return day if is_working_day(day, holidays) else next_working_day(day, holidays)


def cutoff_minute(loc: CandidateLocation, day: date, holidays: Collection[date]) -> int | None:
    """The location's cut-off on `day` in minutes after midnight, None if it does not ship."""
    calendar = loc.calendar
    if calendar is None:
        return loc.cutoff_hour * 60 if is_working_day(day, holidays) else None
    text = calendar.cutoffs.get(WEEKDAYS[day.weekday()])
    if text is None or day in calendar.closed:
        return None
    return cutoff_minutes(text)


def cutoff_on(loc: CandidateLocation, day: date, holidays: Collection[date] = ()) -> time | None:
    """The location's cut-off on `day` (wall clock), None when it does not ship that day.

    `holidays` only matters for a location without a calendar (the problem's holidays close
    it). A "24:00" cut-off is `time.max`, the end of the day."""
    minute = cutoff_minute(loc, day, holidays)
    if minute is None:
        return None
    if minute >= ALL_DAY:
        return time.max
    return time(minute // 60, minute % 60)


def open_before_cutoff(loc: CandidateLocation, local: datetime, holidays: Collection[date]) -> bool:
    """The location ships today and the order came before today's cut-off."""
    minute = cutoff_minute(loc, local.date(), holidays)
    return minute is not None and local.hour * 60 + local.minute < minute


def location_ship_date(loc: CandidateLocation, local: datetime, holidays: Collection[date]) -> date:
    """Today if the location ships today and the order is before the cut-off, else its next
    open day (a calendar names at least one weekday, and closed dates are finite)."""
    today = local.date()
    if open_before_cutoff(loc, local, holidays):
        return today
    day = today + timedelta(days=1)
    while cutoff_minute(loc, day, holidays) is None:
        day += timedelta(days=1)
    return day
