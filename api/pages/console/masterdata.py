"""The console's read-only pages of the retailer's master data: the catalogue (search), one
SKU with its stock per location, the locations, and one location with its capacity, cut-offs,
closing days, the next three weeks' shipping calendar and its stock.

Same login and session as the rest of the console (``api.pages.console.routes``); changes go
through the JSON API (``PATCH /locations/{id}``, imports), which writes the audit log.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import col, select

from activities.masterdata import queries
from activities.masterdata.calendar import OWN_CLOSING
from activities.masterdata.queries import LocationFilter, SkuFilter
from activities.masterdata.views import CalendarDay, LocationDetail
from api.pages.console.routes import AgentDep, DbDep, SettingsDep, page
from api.pages.translations import Words, words_for
from core.db.schema import Location, Stock

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
PAGE_SIZE = 100
CALENDAR_DAYS = 21
Text = Annotated[str, Query(max_length=200)]
After = Annotated[str | None, Query(max_length=64)]


@router.get("/catalogue")
async def catalogue_page(
    request: Request,
    who: AgentDep,
    s: DbDep,
    settings: SettingsDep,
    q: Text = "",
    after: After = None,
) -> Response:
    found = queries.list_skus(s, SkuFilter(text=q or None), PAGE_SIZE, after)
    return page(request, settings, who, "console/catalogue.html", nav="catalogue", q=q, found=found)


@router.get("/catalogue/{sku}")
async def sku_page(
    sku: str, request: Request, who: AgentDep, s: DbDep, settings: SettingsDep
) -> Response:
    item = queries.get_sku(s, sku)
    if item is None:
        message = words_for(request).gettext("SKU %(sku)s not found", sku=sku)
        return page(request, settings, who, "console/error.html", 404, message=message)
    stock = s.exec(
        select(Stock).where(col(Stock.sku) == sku).order_by(col(Stock.location_id))
    ).all()
    return page(request, settings, who, "console/sku.html", nav="catalogue", item=item, stock=stock)


@router.get("/locations")
async def locations_page(
    request: Request,
    who: AgentDep,
    s: DbDep,
    settings: SettingsDep,
    kind: Literal["", "warehouse", "store", "vendor", "returns_centre"] = "",
    city: Text = "",
    after: After = None,
) -> Response:
    f = LocationFilter(kind=kind or None, city=city or None)
    found = queries.list_locations(s, f, PAGE_SIZE, after)
    return page(
        request,
        settings,
        who,
        "console/locations.html",
        nav="locations",
        kind=kind,
        city=city,
        found=found,
    )


@router.get("/locations/{location_id}")
async def location_page(
    location_id: str, request: Request, who: AgentDep, s: DbDep, settings: SettingsDep
) -> Response:
    words = words_for(request)
    row = s.get(Location, location_id)
    loc = queries.get_location(s, location_id, calendar_days=CALENDAR_DAYS) if row else None
    if row is None or loc is None:
        msg = words.gettext("location %(id)s not found", id=location_id)
        return page(request, settings, who, "console/error.html", 404, message=msg)
    stock = s.exec(
        select(Stock)
        .where(col(Stock.location_id) == location_id, col(Stock.on_hand) > 0)
        .order_by(col(Stock.on_hand).desc(), col(Stock.sku))
        .limit(20)
    ).all()
    return page(
        request,
        settings,
        who,
        "console/location.html",
        nav="locations",
        loc=loc,
        closed={d.date: closed_reason(loc, d, words) for d in loc.calendar if not d.ships},
        load=queries.location_load(s, row),
        stock=stock,
    )


def closed_reason(loc: LocationDetail, day: CalendarDay, words: Words) -> str:
    """Why the location does not ship that day, in the agent's language, in the calendar's
    order (``activities.masterdata.calendar.closed_days``): its weekday is not open, a public
    holiday (by name), or its own closing day."""
    if loc.cutoff_by_weekday.get(day.weekday) is None:
        return words.gettext("not open on %(day)s", day=words.weekday(day.weekday))
    if day.reason == OWN_CLOSING:
        return words.gettext("closed (own calendar)")
    return words.holiday(day.date, loc.state or "", day.reason or "")
