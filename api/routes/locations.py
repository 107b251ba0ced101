"""Locations over HTTP: filtered and paged by key, one location with its next two weeks of
shipping calendar, and (operations) changing its operating fields or removing one nobody uses.

Taking a location offline is not a field here: ``POST /ops/locations/{id}/offline`` does it and
re-routes its unshipped work. The network itself is loaded by import (``/masterdata/imports``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlmodel import Session

from activities.masterdata import changes, queries
from activities.masterdata.changes import LocationPatch
from activities.masterdata.queries import LocationFilter, LocationPage
from activities.masterdata.views import LocationDetail, LocationView
from api import deps
from api.http.errors import API_ERRORS
from api.http.security import OPERATIONS, READERS, actor_of
from core.settings import Settings

router = APIRouter(prefix="/locations", tags=["locations"], responses=API_ERRORS)

DB = Annotated[Session, Depends(deps.db)]
SETTINGS = Annotated[Settings, Depends(deps.settings)]
CALENDAR_DAYS = 14


@router.get(
    "",
    dependencies=READERS,
    response_model=LocationPage,
    summary="Locations in id order, filtered; page on with after=next_after",
)
def list_locations(
    s: DB,
    kind: Literal["warehouse", "store", "vendor", "returns_centre"] | None = None,
    online: bool | None = None,
    zone: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=2, description="German state, e.g. HE")] = None,
    city: Annotated[str | None, Query(max_length=200, description="part of the city")] = None,
    pickup_point: bool | None = None,
    ships_to_customers: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = queries.DEFAULT_LIMIT,
    after: Annotated[str | None, Query(max_length=64, description="next_after of a page")] = None,
) -> LocationPage:
    f = LocationFilter(
        kind=kind,
        online=online,
        zone=zone,
        state=state,
        city=city,
        pickup_point=pickup_point,
        ships_to_customers=ships_to_customers,
    )
    return queries.list_locations(s, f, limit, after)


@router.get(
    "/{location_id}",
    dependencies=READERS,
    response_model=LocationDetail,
    summary="One location, with its shipping calendar of the next 14 days",
)
def get_location(location_id: str, s: DB) -> LocationDetail:
    found = queries.get_location(s, location_id, calendar_days=CALENDAR_DAYS)
    if found is None:
        raise HTTPException(404, detail=f"location {location_id} not found")
    return found


@router.patch(
    "/{location_id}",
    dependencies=OPERATIONS,
    response_model=LocationView,
    summary="Change capacity, cut-offs, closing days, what it offers (audited)",
    description="Fields left out stay; orders already planned keep their plans. Not `online`: "
    "take a location offline with `POST /ops/locations/{id}/offline` (re-routes its work).",
)
def patch_location(
    location_id: str, body: LocationPatch, request: Request, settings: SETTINGS
) -> LocationView:
    try:
        return changes.update_location(
            settings.database_url,
            location_id,
            body,
            actor=actor_of(request),
            source=f"api: PATCH /locations/{location_id}"[:200],
        )
    except changes.NotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None


@router.delete(
    "/{location_id}",
    dependencies=OPERATIONS,
    status_code=204,
    summary="Remove a location nothing refers to any more (audited)",
    responses={409: {"description": "it still holds reservations, shipments, stock, ..."}},
)
def delete_location(location_id: str, request: Request, settings: SETTINGS) -> Response:
    try:
        changes.delete_location(
            settings.database_url,
            location_id,
            actor=actor_of(request),
            source=f"api: DELETE /locations/{location_id}"[:200],
        )
    except changes.NotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None
    except changes.Refused as exc:
        raise HTTPException(409, detail=exc.detail) from None
    return Response(status_code=204)
