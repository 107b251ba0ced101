"""Inventory endpoints: availability to promise, delivery promises, the stock ledger, manual
adjustments, stock policies and replenishment proposals; stock feeds and holds come from their
own modules under the same prefix.

A store's or vendor's key (role ``location``) reads availability of its own location only: the
figures, network totals included, cover that location, and naming another one is 403. Every
other stock read is for roles that see the whole network."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from activities.stock import adjustments, ledger, replenishment, stock_policy
from activities.stock.adjustments import Adjustment, AdjustmentError, AdjustmentRequest
from activities.stock.availability import SkuAvailability, availability
from activities.stock.promise import CartLine, Promise, PromiseInvalid, PromiseRequest, promise
from activities.stock.replenishment import Proposal
from activities.stock.stock_policy import StockPolicy, StockPolicyIn
from api import deps
from api.http.errors import API_ERRORS, invalid
from api.http.security import CS_OR_OPS, OPERATIONS, READERS, STOCK_READERS, location_scope
from api.routes import inventory_feeds, inventory_holds
from api.services.backorders import wake_backorders
from core.db.schema import Sku
from core.domain.inputs import POSTCODE_PATTERN, Channel
from core.domain.orders import Speed
from core.settings import Settings

router = APIRouter(prefix="/inventory", tags=["inventory"], responses=API_ERRORS)
router.include_router(inventory_feeds.router)
router.include_router(inventory_holds.router)

DB = Annotated[Session, Depends(deps.db)]
SETTINGS = Annotated[Settings, Depends(deps.settings)]
LOCATIONS = Annotated[list[str] | None, Query(max_length=500, description="only these locations")]


class AvailabilityList(BaseModel):
    skus: list[SkuAvailability]


class LedgerPage(BaseModel):
    movements: list[ledger.Movement]
    next_after_id: int | None


class ProposalList(BaseModel):
    proposals: list[Proposal]


# ---- availability and promises -------------------------------------------------------------


def _readable_locations(request: Request, asked: list[str] | None) -> list[str] | None:
    """The locations the caller may read: what it asked for, or for a location key its own
    location (403 when it asks for another)."""
    scope = location_scope(request)
    if scope is None:
        return asked
    if asked and set(asked) != {scope}:
        raise HTTPException(403, detail="this key reads its own location's stock only")
    return [scope]


@router.get(
    "/availability/{sku}",
    dependencies=STOCK_READERS,
    response_model=SkuAvailability,
    summary="ATP of one SKU per location and for the network, for a channel",
)
def sku_availability(
    sku: str,
    request: Request,
    s: DB,
    settings: SETTINGS,
    channel: Channel = "web",
    location_id: LOCATIONS = None,
) -> SkuAvailability:
    locations = _readable_locations(request, location_id)
    if s.get(Sku, sku) is None:
        raise HTTPException(404, detail=f"SKU {sku} not found")
    return availability(s, [sku], channel, settings, location_ids=locations)[sku]


@router.get(
    "/availability",
    dependencies=STOCK_READERS,
    response_model=AvailabilityList,
    summary="ATP of several SKUs (repeat ?sku=) in one call",
)
def skus_availability(
    request: Request,
    s: DB,
    settings: SETTINGS,
    sku: Annotated[list[str], Query(min_length=1, max_length=100)],
    channel: Channel = "web",
    location_id: LOCATIONS = None,
) -> AvailabilityList:
    locations = _readable_locations(request, location_id)
    known = set(s.exec(select(Sku.sku).where(col(Sku.sku).in_(sku))))
    errors: list[dict[str, object]] = [
        {"loc": ["query", "sku", i], "msg": f"unknown SKU {x!r}", "type": "unknown_sku"}
        for i, x in enumerate(sku)
        if x not in known
    ]
    if errors:
        raise invalid(errors)
    found = availability(s, list(dict.fromkeys(sku)), channel, settings, location_ids=locations)
    return AvailabilityList(skus=list(found.values()))


@router.post(
    "/promise",
    dependencies=READERS,
    response_model=Promise,
    summary="Delivery promise for a whole cart: earliest date and where from",
)
def promise_cart(req: PromiseRequest, s: DB, settings: SETTINGS) -> Promise:
    try:
        return promise(s, req, settings)
    except PromiseInvalid as exc:
        raise invalid(exc.errors) from None


@router.get(
    "/promise",
    dependencies=READERS,
    response_model=Promise,
    summary="Delivery promise for one SKU: earliest date and where from",
)
def promise_sku(
    s: DB,
    settings: SETTINGS,
    sku: Annotated[str, Query(min_length=1, max_length=64)],
    postcode: Annotated[str, Query(pattern=POSTCODE_PATTERN)],
    quantity: Annotated[int, Query(gt=0, le=10_000)] = 1,
    speed: Speed = "standard",
    channel: Channel = "web",
) -> Promise:
    req = PromiseRequest(
        postcode=postcode,
        speed=speed,
        channel=channel,
        lines=[CartLine(sku=sku, quantity=quantity)],
    )
    try:
        return promise(s, req, settings)
    except PromiseInvalid as exc:
        raise invalid([_as_query_error(e) for e in exc.errors]) from None


def _as_query_error(error: dict[str, object]) -> dict[str, object]:
    """A promise error (shaped for a request body) re-pointed at its query parameter."""
    loc = error["loc"]
    assert isinstance(loc, list | tuple)
    return {**error, "loc": ["query", loc[-1]]}


# ---- the stock ledger and manual changes ---------------------------------------------------


@router.get(
    "/ledger",
    dependencies=OPERATIONS,
    response_model=LedgerPage,
    summary="Stock movements in order, filtered; page on with after_id",
)
def ledger_page(
    s: DB,
    location_id: str | None = None,
    sku: str | None = None,
    source: str | None = None,
    kind: str | None = None,
    after_id: Annotated[int, Query(ge=0, le=deps.DB_INT_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LedgerPage:
    rows = ledger.movements(
        s,
        location_id=location_id,
        sku=sku,
        source=source,
        kind=kind,
        after_id=after_id,
        limit=limit,
    )
    return LedgerPage(movements=rows, next_after_id=rows[-1].id if len(rows) == limit else None)


@router.get(
    "/stock/{location_id}/{sku}",
    dependencies=CS_OR_OPS,
    response_model=ledger.StockExplanation,
    summary="A stock level next to the sum of its movements, with the latest ones",
)
def stock_level(location_id: str, sku: str, s: DB) -> ledger.StockExplanation:
    found = ledger.explain(s, location_id, sku)
    if found is None:
        raise HTTPException(404, detail=f"no stock of {sku} at {location_id}")
    return found


@router.post(
    "/adjustments",
    dependencies=OPERATIONS,
    response_model=Adjustment,
    status_code=201,
    summary="Counted difference, damage or a return put back (idempotent by id)",
)
async def adjust(
    req: AdjustmentRequest,
    response: Response,
    settings: SETTINGS,
    client: Annotated[Client, Depends(deps.temporal)],
) -> Adjustment:
    """Stock added wakes the backorders (``api.services.backorders``)."""
    try:
        done, created = await run_in_threadpool(adjustments.adjust, settings.database_url, req)
    except AdjustmentError as exc:
        if exc.status == 422:
            raise invalid(exc.detail) from None
        raise HTTPException(exc.status, detail=exc.detail) from None
    if not created:
        response.status_code = 200
    elif done.quantity > 0:
        await wake_backorders(settings.database_url, client)
    return done


# ---- stock policies and replenishment ------------------------------------------------------


@router.get("/policies/{location_id}/{sku}", dependencies=OPERATIONS, response_model=StockPolicy)
def get_policy(location_id: str, sku: str, settings: SETTINGS) -> StockPolicy:
    found = stock_policy.get_policy(settings.database_url, location_id, sku)
    if found is None:
        raise HTTPException(404, detail=f"no stock or policy for {sku} at {location_id}")
    return found


@router.put(
    "/policies/{location_id}/{sku}",
    dependencies=OPERATIONS,
    response_model=StockPolicy,
    summary="Safety stock and (optionally) reorder point and order-up-to level",
)
def put_policy(location_id: str, sku: str, body: StockPolicyIn, settings: SETTINGS) -> StockPolicy:
    try:
        return stock_policy.set_policy(settings.database_url, location_id, sku, body)
    except LookupError as exc:
        raise HTTPException(404, detail=str(exc)) from None


@router.get(
    "/replenishment",
    dependencies=OPERATIONS,
    response_model=ProposalList,
    summary="Replenishment proposals: transfers between locations, supplier orders",
)
def replenishment_proposals(
    s: DB,
    settings: SETTINGS,
    location_id: str | None = None,
    sku: str | None = None,
    kind: Literal["transfer", "purchase"] | None = None,
) -> ProposalList:
    found = replenishment.proposals(s, settings, location_id=location_id, sku=sku)
    return ProposalList(proposals=[p for p in found if kind is None or p.kind == kind])


@router.get(
    "/replenishment.csv",
    dependencies=OPERATIONS,
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    summary="The replenishment proposals as CSV",
)
def replenishment_csv(
    s: DB, settings: SETTINGS, location_id: str | None = None, sku: str | None = None
) -> PlainTextResponse:
    found = replenishment.proposals(s, settings, location_id=location_id, sku=sku)
    return PlainTextResponse(
        replenishment.to_csv(found),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="replenishment.csv"'},
    )
