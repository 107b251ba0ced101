"""Hold endpoints: stock held for a checkout or for reserve & collect, with an expiry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response
from sqlmodel import Session

from activities.stock import holds
from activities.stock.holds import HoldError, HoldInvalid, HoldRequest, HoldView
from api import deps
from api.http.errors import invalid
from api.http.security import CUSTOMER_SERVICE, READERS, SHOP_OR_CS
from core.settings import Settings

router = APIRouter(tags=["inventory: holds"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such hold"},
    409: {"description": "not enough stock, other content under this id, or the hold has ended"},
}


def _answer(exc: HoldError) -> Exception:
    if isinstance(exc, HoldInvalid):
        return invalid(exc.detail)
    return HTTPException(exc.status, detail=exc.detail)


@router.post(
    "/holds",
    dependencies=SHOP_OR_CS,
    response_model=HoldView,
    status_code=201,
    responses=_ERRORS,
    summary="Hold stock until it expires (idempotent by hold_id)",
)
def place_hold(
    req: HoldRequest, response: Response, settings: Annotated[Settings, Depends(deps.settings)]
) -> HoldView:
    try:
        hold, created = holds.place(settings.database_url, req, settings)
    except HoldError as exc:
        raise _answer(exc) from None
    if not created:
        response.status_code = 200
    return hold


@router.get(
    "/holds/{hold_id}",
    dependencies=READERS,
    response_model=HoldView,
    responses=_ERRORS,
    summary="A hold; lines past their expiry read as expired",
)
def get_hold(hold_id: str, s: Annotated[Session, Depends(deps.db)]) -> HoldView:
    found = holds.view(s, hold_id)
    if found is None:
        raise HTTPException(404, detail=f"hold {hold_id} not found")
    return found


@router.post(
    "/holds/{hold_id}/release",
    dependencies=SHOP_OR_CS,
    response_model=HoldView,
    responses=_ERRORS,
    summary="Give the held stock back (repeating it is harmless)",
)
def release_hold(hold_id: str, settings: Annotated[Settings, Depends(deps.settings)]) -> HoldView:
    try:
        return holds.release(settings.database_url, hold_id)
    except HoldError as exc:
        raise _answer(exc) from None


@router.post(
    "/holds/{hold_id}/collect",
    dependencies=CUSTOMER_SERVICE,
    response_model=HoldView,
    responses=_ERRORS,
    summary="Reserve & collect: picked up in store, the units leave on-hand stock",
)
def collect_hold(hold_id: str, settings: Annotated[Settings, Depends(deps.settings)]) -> HoldView:
    try:
        return holds.collect(settings.database_url, hold_id)
    except HoldError as exc:
        raise _answer(exc) from None
