"""Stock feed endpoints: warehouse systems, stores and partners post snapshots or deltas.

The body streams to a spooled file (memory, then disk) as it arrives, with the line count on
the feed's record for anyone watching; validating and applying run in the thread pool.
"""

from __future__ import annotations

import hashlib
import tempfile
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect
from temporalio.client import Client

from activities.stock import feeds as stock_feeds
from activities.stock.feeds import Claim, FeedError, FeedOptions, FeedReport
from api import deps
from api.http.security import OPERATIONS
from api.http.uploads import report_answer, row_format
from api.services.backorders import wake_backorders
from core.settings import Settings

router = APIRouter(tags=["inventory: stock feeds"])

FEED_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"
REPORT_EVERY = 10_000
"""Lines between two progress updates while the body is still arriving."""

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "location_id,sku,quantity\nWH-HAMBURG,TS-0000,42\n",
            },
            "application/x-ndjson": {
                "schema": {"type": "string"},
                "example": '{"location_id": "WH-HAMBURG", "sku": "TS-0000", "quantity": 42}\n',
            },
        },
    }
}


@router.post(
    "/feeds/{feed_id}",
    dependencies=OPERATIONS,
    response_model=FeedReport,
    openapi_extra=_BODY_DOC,
    summary="Post a stock feed: full snapshot per location, or deltas (idempotent by feed id)",
    responses={
        409: {"description": "feed id in use by a running feed or other content"},
        415: {"description": "unknown body format"},
        422: {"description": "bad parameters, or bad rows with on_error=reject"},
    },
)
async def post_feed(
    feed_id: Annotated[str, Path(pattern=FEED_ID)],
    request: Request,
    settings: Annotated[Settings, Depends(deps.settings)],
    client: Annotated[Client, Depends(deps.temporal)],
    mode: Literal["snapshot", "delta"],
    on_error: Literal["skip", "reject"] = "skip",
    location_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="the location a snapshot covers (rows may then omit location_id)",
        ),
    ] = None,
    source: Annotated[str, Query(max_length=200, description="who sends it")] = "",
    format: Literal["csv", "jsonl"] | None = None,  # noqa: A002  (the query parameter's name)
) -> JSONResponse:
    fmt = row_format(format, request.headers.get("content-type", ""))
    opts = FeedOptions(
        mode=mode, format=fmt, on_error=on_error, location_id=location_id, source=source
    )
    url = settings.database_url
    try:
        claim = await run_in_threadpool(stock_feeds.claim, url, feed_id, opts, settings)
        with tempfile.SpooledTemporaryFile(max_size=8 << 20) as body:
            digest, lines = await _receive(request, body, claim, url)
            report = await run_in_threadpool(
                stock_feeds.process, url, claim, body, digest, lines, settings
            )
    except FeedError as exc:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)
    if claim.state != "replay":
        await wake_backorders(url, client)  # stock may have come in
    return report_answer(report)


async def _receive(request: Request, body: IO[bytes], claim: Claim, url: str) -> tuple[str, int]:
    """Spool the body, counting lines; returns its SHA-256 and line count."""
    digest, lines, last, next_report = hashlib.sha256(), 0, b"\n", REPORT_EVERY
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            body.write(chunk)
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
            if lines >= next_report and claim.state != "replay":
                await run_in_threadpool(stock_feeds.progress, url, claim, lines_received=lines)
                next_report = lines + REPORT_EVERY
    except (ClientDisconnect, HTTPException):  # gone, or over max_feed_bytes (413)
        if claim.state == "new":
            await run_in_threadpool(stock_feeds.abandon, url, claim, "upload broke off")
        raise
    return digest.hexdigest(), lines + (last != b"\n")


@router.get(
    "/feeds/{feed_id}",
    dependencies=OPERATIONS,
    response_model=FeedReport,
    summary="A feed's progress and result: counters move while it runs",
)
def get_feed(feed_id: str, settings: Annotated[Settings, Depends(deps.settings)]) -> FeedReport:
    found = stock_feeds.get(settings.database_url, feed_id)
    if found is None:
        raise HTTPException(404, detail=f"feed {feed_id} not found")
    return found
