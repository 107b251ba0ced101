"""Opening returns and telling their workflows what happened, shared by the JSON routes, the
console, the customer's self-service page and the store portal, so every channel applies the
same rules.

Opening a return checks the order in the database (delivered, inside the window, not returned
already: ``ReturnRefused`` naming the line otherwise, nothing written), routes the goods, writes
the return rows and starts one ``ReturnWorkflow`` per return (``return-<return number>``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import HTTPException, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ConfigDict, Field
from temporalio.client import Client

from activities.returns.label import render
from activities.returns.requests import open_returns
from core.db.engine import session_scope
from core.db.schema import ReturnRecord
from core.domain.inputs import InputModel
from core.domain.returns import (
    InspectedLine,
    ReturnChannel,
    ReturnEventKind,
    ReturnInput,
    ReturnInspection,
    ReturnReceipt,
    ReturnRequest,
    ReturnScan,
    ReturnStatus,
)
from core.order_tokens import links
from core.settings import Settings
from workflows.returns.client import ReturnClient, ReturnClosed


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
            await ReturnClient.start(client, ret, settings.task_queue)
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


class ReturnEventIn(InputModel):
    """What a warehouse system (or carrier) reports about a return parcel."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    return_id: str = Field(min_length=1, max_length=100)
    event: ReturnEventKind
    location_id: str | None = Field(
        default=None, max_length=64, description="received: where the parcel arrived"
    )
    carrier: str = Field(default="", max_length=50)
    tracking_number: str = Field(default="", max_length=100)
    lines: list[InspectedLine] = Field(
        default=[], max_length=100, description="inspected: each line sellable or not"
    )
    by: str = Field(default="warehouse system", max_length=100)


async def signal_return(client: Client, rec: ReturnRecord, body: ReturnEventIn) -> None:
    returns = ReturnClient(client, rec.return_id)
    try:
        if body.event == "in_transit":
            await returns.in_transit(
                ReturnScan(carrier=body.carrier, tracking_number=body.tracking_number)
            )
        elif body.event == "received":
            assert body.location_id is not None
            await returns.received(
                ReturnReceipt(location_id=body.location_id, by=body.by, at=datetime.now(UTC))
            )
        else:
            await returns.inspected(ReturnInspection(lines=body.lines, by=body.by))
    except ReturnClosed as exc:
        if rec.status == ReturnStatus.CLOSED:
            return  # the return went all the way: a late resend changes nothing
        raise ReturnClosed(
            rec.return_id, f"return {rec.return_id} is closed ({rec.status})"
        ) from exc
