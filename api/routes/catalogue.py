"""The catalogue over HTTP: SKUs filtered and paged by key, one SKU, and (operations) switching
a SKU off for new orders. The catalogue itself is loaded by import (``/masterdata/imports``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import ConfigDict, Field, StrictBool
from sqlmodel import Session

from activities.masterdata import changes, queries
from activities.masterdata.queries import SkuFilter, SkuPage
from activities.masterdata.views import SkuView
from api import deps
from api.http.errors import API_ERRORS
from api.http.security import OPERATIONS, READERS, actor_of
from core.domain.inputs import InputModel
from core.settings import Settings

router = APIRouter(prefix="/catalogue", tags=["catalogue"], responses=API_ERRORS)

DB = Annotated[Session, Depends(deps.db)]
SETTINGS = Annotated[Settings, Depends(deps.settings)]


class SkuChange(InputModel):
    model_config = ConfigDict(extra="forbid")

    active: StrictBool = Field(description="false: no new orders take it; running orders keep it")


@router.get(
    "/skus",
    dependencies=READERS,
    response_model=SkuPage,
    summary="SKUs in SKU order, filtered; page on with after=next_after",
)
def list_skus(
    s: DB,
    q: Annotated[
        str | None, Query(max_length=200, description="part of the SKU, name or GTIN (any case)")
    ] = None,
    active: bool | None = None,
    vat_class: Annotated[str | None, Query(max_length=32)] = None,
    bulky: bool | None = None,
    hazardous: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = queries.DEFAULT_LIMIT,
    after: Annotated[str | None, Query(max_length=64, description="next_after of a page")] = None,
) -> SkuPage:
    f = SkuFilter(text=q, active=active, vat_class=vat_class, bulky=bulky, hazardous=hazardous)
    return queries.list_skus(s, f, limit, after)


@router.get("/skus/{sku}", dependencies=READERS, response_model=SkuView, summary="One SKU")
def get_sku(sku: str, s: DB) -> SkuView:
    found = queries.get_sku(s, sku)
    if found is None:
        raise HTTPException(404, detail=f"SKU {sku} not found")
    return found


@router.patch(
    "/skus/{sku}",
    dependencies=OPERATIONS,
    response_model=SkuView,
    summary="Take a SKU off sale for new orders, or back (audited)",
)
def patch_sku(sku: str, body: SkuChange, request: Request, settings: SETTINGS) -> SkuView:
    try:
        return changes.set_sku_active(
            settings.database_url,
            sku,
            body.active,
            actor=actor_of(request),
            source=f"api: PATCH /catalogue/skus/{sku}"[:200],
        )
    except changes.NotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None
