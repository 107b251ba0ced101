"""Returns over HTTP: customer service opens them, warehouse systems report them arriving and
inspected, anyone with the return's page reads it. Self-service and the store portal use
``start_returns`` too, so every channel applies the same rules.

Opening a return checks the order in the database (delivered, inside the window, not returned
already: a 422 naming the line otherwise, nothing written), routes the goods, writes the
return rows and starts one ``ReturnWorkflow`` per return (``return-<return number>``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.returns.label import render
from activities.returns.requests import ReturnRefused, open_returns
from api import deps
from api.http.errors import API_ERRORS, field_error, invalid
from api.http.security import CS_OR_OPS, CUSTOMER_SERVICE, WAREHOUSE
from core.db.engine import session_scope
from core.db.schema import Location, OrderRecord, ReturnRecord
from core.domain.inputs import InputModel
from core.domain.returns import (
    AgentReturnRequest,
    InspectedLine,
    ReturnChannel,
    ReturnDestination,
    ReturnInput,
    ReturnInspection,
    ReturnReceipt,
    ReturnRequest,
    ReturnScan,
    ReturnStatus,
    return_workflow_id,
)
from core.order_tokens import links
from core.settings import Settings
from workflows.returns.workflow import ReturnWorkflow

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


def _open(
    settings: Settings,
    order_id: str,
    req: ReturnRequest,
    channel: ReturnChannel,
    requested_by: str,
    store_id: str | None,
) -> list[ReturnRecord]:
    with session_scope(settings.database_url) as s:
        return open_returns(
            s,
            order_id,
            req,
            channel=channel,
            requested_by=requested_by,
            now=datetime.now(UTC),
            links=links(settings),
            store_id=store_id,
        )


async def start_returns(
    settings: Settings,
    client: Client,
    order_id: str,
    req: ReturnRequest,
    channel: ReturnChannel,
    requested_by: str,
    store_id: str | None = None,
) -> list[ReturnRecord]:
    """Open the returns (raises ReturnRefused, nothing written) and start their workflows.
    A workflow that cannot be started leaves its return expired, so its units are free."""
    records = await run_in_threadpool(
        _open, settings, order_id, req, channel, requested_by, store_id
    )
    for rec in records:
        ret = ReturnInput.model_validate(rec.payload)
        try:
            await client.start_workflow(
                ReturnWorkflow.run,
                ret,
                id=ret.workflow_id,
                task_queue=settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"Return {ret.return_id} of order {ret.order_id}: "
                f"{ret.channel} to {ret.destination.location_id}",
            )
        except Exception:
            await run_in_threadpool(_expire, settings.database_url, rec.return_id)
            raise
    return records


def _expire(url: str, return_id: str) -> None:
    with session_scope(url) as s:
        rec = s.get(ReturnRecord, return_id)
        if rec is not None:
            rec.status = ReturnStatus.EXPIRED.value
            s.add(rec)


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


def label_response(rec: ReturnRecord) -> Response:
    """The label PDF as issued (or rendered the same way if the workflow is a moment behind)."""
    if rec.channel != "mail":
        raise HTTPException(
            404, detail=f"return {rec.return_id} was booked in a store and has no label"
        )
    pdf = rec.label_pdf or render(ReturnInput.model_validate(rec.payload))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="return-label-{rec.return_id}.pdf"',
            "Cache-Control": "no-store",
        },
    )


def _known(s: Session, return_id: str) -> ReturnRecord:
    rec = s.get(ReturnRecord, return_id)
    if rec is None:
        raise HTTPException(404, detail=f"return {return_id} not found")
    return rec


class ReturnEventIn(InputModel):
    """What a warehouse system (or carrier) reports about a return parcel."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    return_id: str = Field(min_length=1, max_length=100)
    event: Literal["in_transit", "received", "inspected"]
    location_id: str | None = Field(
        default=None, max_length=64, description="received: where the parcel arrived"
    )
    carrier: str = Field(default="", max_length=50)
    tracking_number: str = Field(default="", max_length=100)
    lines: list[InspectedLine] = Field(
        default=[], max_length=100, description="inspected: each line sellable or not"
    )
    by: str = Field(default="warehouse system", max_length=100)


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


async def signal_return(client: Client, rec: ReturnRecord, body: ReturnEventIn) -> None:
    handle = client.get_workflow_handle(return_workflow_id(rec.return_id))
    try:
        if body.event == "in_transit":
            await handle.signal(
                ReturnWorkflow.in_transit,
                ReturnScan(carrier=body.carrier, tracking_number=body.tracking_number),
            )
        elif body.event == "received":
            assert body.location_id is not None
            await handle.signal(
                ReturnWorkflow.received,
                ReturnReceipt(location_id=body.location_id, by=body.by, at=datetime.now(UTC)),
            )
        else:
            await handle.signal(
                ReturnWorkflow.inspected, ReturnInspection(lines=body.lines, by=body.by)
            )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            if rec.status == "closed":
                return  # the return went all the way: a late resend changes nothing
            raise HTTPException(
                409, detail=f"return {rec.return_id} is closed ({rec.status})"
            ) from exc
        raise
