"""Operations endpoints: take a location offline (its orders are re-routed) or back online;
the cases the OMS raises for a person to look at."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session
from temporalio.client import Client

from activities.fulfilment import ops_cases
from activities.masterdata import changes
from api import deps
from api.deps import DbId
from api.http.errors import API_ERRORS
from api.http.security import CS_OR_OPS, OPERATIONS, actor_of
from core.db.engine import session_scope
from core.db.schema import Location
from core.domain.inputs import InputModel
from core.settings import Settings
from workflows.ops.client import OutageResult, take_location_offline

router = APIRouter(prefix="/ops", tags=["operations"], responses=API_ERRORS)


class OfflineRequest(InputModel):
    reason: str = Field(default="taken offline by operations", min_length=1, max_length=200)


class LocationView(BaseModel):
    id: str
    name: str
    kind: str
    city: str
    online: bool


def _location(s: Session, location_id: str) -> Location:
    loc = s.get(Location, location_id)
    if loc is None:
        raise HTTPException(404, detail=f"location {location_id} not found")
    return loc


@router.get("/locations/{location_id}", dependencies=CS_OR_OPS, response_model=LocationView)
def get_location(location_id: str, s: Annotated[Session, Depends(deps.db)]) -> LocationView:
    return LocationView.model_validate(_location(s, location_id), from_attributes=True)


@router.post(
    "/locations/{location_id}/offline",
    dependencies=OPERATIONS,
    response_model=OutageResult,
    summary="Take a location offline and re-route its unshipped shipments",
)
async def take_offline(
    location_id: str,
    body: OfflineRequest,
    s: Annotated[Session, Depends(deps.db)],
    settings: Annotated[Settings, Depends(deps.settings)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> OutageResult:
    _location(s, location_id)
    return await take_location_offline(client, location_id, body.reason, settings.task_queue)


@router.post(
    "/locations/{location_id}/online",
    dependencies=OPERATIONS,
    response_model=LocationView,
    summary="Put a location back into routing",
)
def bring_online(
    location_id: str, request: Request, settings: Annotated[Settings, Depends(deps.settings)]
) -> LocationView:
    with session_scope(settings.database_url) as s:
        loc = _location(s, location_id)
        source = f"api: POST /ops/locations/{location_id}/online"[:200]
        changes.set_online(s, loc, True, actor=actor_of(request), source=source)
        return LocationView.model_validate(loc, from_attributes=True)


class CaseList(BaseModel):
    cases: list[ops_cases.CaseView]


class Resolution(InputModel):
    note: str = Field(min_length=1, max_length=500)
    by: str = Field(min_length=1, max_length=100)


@router.get(
    "/cases",
    dependencies=CS_OR_OPS,
    response_model=CaseList,
    summary="Cases for operations (e.g. a parcel reported shipped for a cancelled order)",
)
def list_cases(
    s: Annotated[Session, Depends(deps.db)],
    status: Literal["open", "resolved", "all"] = "open",
    order_id: Annotated[str | None, Query(max_length=64)] = None,
) -> CaseList:
    return CaseList(
        cases=ops_cases.cases(s, status=None if status == "all" else status, order_id=order_id)
    )


@router.post(
    "/cases/{case_id}/resolve",
    dependencies=OPERATIONS,
    response_model=ops_cases.CaseView,
    summary="Close a case with what was done",
)
def resolve_case(
    case_id: DbId, body: Resolution, settings: Annotated[Settings, Depends(deps.settings)]
) -> ops_cases.CaseView:
    case = ops_cases.resolve(settings.database_url, case_id, body.note, body.by)
    if case is None:
        raise HTTPException(404, detail=f"case {case_id} not found")
    return case
