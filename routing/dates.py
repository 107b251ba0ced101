"""Ship and delivery dates: cut-off hours, no shipping or delivery on Sundays and holidays."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


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
