"""Returns over HTTP: customer service opens them, warehouse systems report them arriving and
inspected, anyone with the return's page reads it. The rules are in ``api.services.returns``,
shared with the console, the self-service page and the store portal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel
from sqlmodel import Session, col, select
from temporalio.client import Client

from activities.returns.requests import ReturnRefused
from api import deps
from api.http.errors import API_ERRORS, field_error, invalid
from api.http.security import CS_OR_OPS, CUSTOMER_SERVICE, WAREHOUSE
from api.services.returns import ReturnEventIn, label_response, signal_return, start_returns
from core.db.schema import Location, OrderRecord, ReturnRecord
from core.domain.returns import (
    AgentReturnRequest,
    ReturnDestination,
    ReturnInput,
    ReturnRequest,
)
from core.settings import Settings

router = APIRouter(tags=["returns"], responses=API_ERRORS)


class ReturnView(BaseModel):
    return_id: str
    order_id: str
    workflow_id: str
    channel: str
    status: str
    destination: ReturnDestination
    lines: list[dict[str, object]]
    goods_cents: int
    shipping_refund_cents: int
    refund_cents: int
    refunded_cents: int
    label_url: str
    page_url: str
    created_at: datetime
    updated_at: datetime
    arrived_at_location: str | None = None


class ReturnsOpened(BaseModel):
    returns: list[ReturnView]


def view(rec: ReturnRecord) -> ReturnView:
    ret = ReturnInput.model_validate(rec.payload)
    return ReturnView(
        return_id=rec.return_id,
        order_id=rec.order_id,
        workflow_id=ret.workflow_id,
        channel=rec.channel,
        status=rec.status,
        destination=ret.destination,
        lines=rec.lines,
        goods_cents=rec.goods_cents,
        shipping_refund_cents=rec.shipping_refund_cents,
        refund_cents=ret.refund_cents,
        refunded_cents=rec.refunded_cents,
        label_url=ret.label_url,
        page_url=ret.page_url,
        created_at=rec.created_at,
        updated_at=rec.updated_at,
        arrived_at_location=rec.arrived_at_location,
    )


def refusal(exc: ReturnRefused) -> Exception:
    """The refusal as the API answers it: 422 naming each field, or 404/409."""
    if exc.status == 422:
        return invalid([field_error(loc, msg, "return_refused") for loc, msg in exc.errors])
    return HTTPException(exc.status, detail=str(exc))


@router.post(
    "/orders/{order_id}/returns",
    dependencies=CUSTOMER_SERVICE,
    status_code=201,
    response_model=ReturnsOpened,
    summary="Open a return for a customer (customer service)",
)
async def open_for_customer(
    order_id: str,
    body: AgentReturnRequest,
    settings: Annotated[Settings, Depends(deps.settings)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> ReturnsOpened:
    try:
        records = await start_returns(
            settings,
            client,
            order_id,
            ReturnRequest(lines=body.lines),
            "mail",
            requested_by=body.agent,
        )
    except ReturnRefused as exc:
        raise refusal(exc) from exc
    return ReturnsOpened(returns=[view(r) for r in records])


@router.get(
    "/orders/{order_id}/returns",
    dependencies=CS_OR_OPS,
    response_model=ReturnsOpened,
    summary="The returns of an order",
)
def order_returns(order_id: str, s: Annotated[Session, Depends(deps.db)]) -> ReturnsOpened:
    if s.get(OrderRecord, order_id) is None:
        raise HTTPException(404, detail=f"order {order_id} not found")
    rows = s.exec(
        select(ReturnRecord)
        .where(ReturnRecord.order_id == order_id)
        .order_by(col(ReturnRecord.created_at))
    ).all()
    return ReturnsOpened(returns=[view(r) for r in rows])


@router.get(
    "/returns/{return_id}", dependencies=CS_OR_OPS, response_model=ReturnView, summary="One return"
)
def get_return(return_id: str, s: Annotated[Session, Depends(deps.db)]) -> ReturnView:
    return view(_known(s, return_id))


@router.get(
    "/returns/{return_id}/label.pdf",
    dependencies=CS_OR_OPS,
    summary="The return label (PDF)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def get_label(return_id: str, s: Annotated[Session, Depends(deps.db)]) -> Response:
    return label_response(_known(s, return_id))


def _known(s: Session, return_id: str) -> ReturnRecord:
    rec = s.get(ReturnRecord, return_id)
    if rec is None:
        raise HTTPException(404, detail=f"return {return_id} not found")
    return rec


@router.post(
    "/webhooks/returns",
    dependencies=WAREHOUSE,
    status_code=202,
    summary="Return parcel scanned, received or inspected",
)
async def return_event(
    body: ReturnEventIn,
    s: Annotated[Session, Depends(deps.db)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> dict[str, str]:
    rec = _known(s, body.return_id)
    if body.event == "received":
        if not body.location_id:
            raise invalid([field_error(("location_id",), "required for received", "missing")])
        if s.get(Location, body.location_id) is None:
            raise invalid(
                [
                    field_error(
                        ("location_id",), f"unknown location {body.location_id}", "unknown_location"
                    )
                ]
            )
    if body.event == "inspected":
        known = {ln["line_id"] for ln in rec.lines}
        bad = [i for i, ln in enumerate(body.lines) if ln.line_id not in known]
        if not body.lines or bad:
            raise invalid(
                [
                    field_error(
                        ("lines", *bad[:1]),
                        "name the return's lines "
                        f"({', '.join(sorted(known))}) with sellable true/false",
                        "bad_lines",
                    )
                ]
            )
    s.close()
    await signal_return(client, rec, body)
    return {"status": "accepted", "return_id": rec.return_id}
