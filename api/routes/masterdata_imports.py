"""Master-data imports: the retailer's catalogue, locations and stock levels as CSV or JSON
lines, streamed like stock feeds (api/routes/inventory_feeds.py) and applied by
activities/masterdata/importer.py in the thread pool. Idempotent by content: the same file
again answers its stored report (``replayed``)."""

from __future__ import annotations

import tempfile
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from activities.masterdata import importer
from activities.masterdata.importer import ImportReport
from api import deps
from api.http.security import OPERATIONS, actor_of
from api.http.uploads import report_answer, row_format
from core.settings import Settings

router = APIRouter(prefix="/masterdata", tags=["master data: imports"])

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "sku,name_de,name_en,price,vat_class,weight_kg\n"
                "EX-0001,T-Shirt,T-shirt,19.99,standard,0.25\n",
            },
            "application/x-ndjson": {
                "schema": {"type": "string"},
                "example": '{"sku": "EX-0001", "name_de": "T-Shirt", "price_cents": 1999}\n',
            },
        },
    }
}


@router.post(
    "/imports/{kind}",
    dependencies=OPERATIONS,
    response_model=ImportReport,
    openapi_extra=_BODY_DOC,
    summary="Import catalogue, locations or stock levels (idempotent by content)",
    responses={
        415: {"description": "unknown body format"},
        422: {"description": "bad parameters, or bad rows with on_error=reject (nothing changed)"},
    },
)
async def post_import(
    kind: Literal["catalogue", "locations", "stock"],
    request: Request,
    settings: Annotated[Settings, Depends(deps.settings)],
    on_error: Literal["skip", "reject"] = "skip",
    dry_run: Annotated[bool, Query(description="report what would change; change nothing")] = False,
    source: Annotated[str, Query(max_length=200, description="who sends it")] = "",
    format: Literal["csv", "jsonl"] | None = None,  # noqa: A002  (the query parameter's name)
) -> JSONResponse:
    fmt = row_format(format, request.headers.get("content-type", ""))
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as body:
        await _receive(request, body)
        report = await run_in_threadpool(
            lambda: importer.run_import(
                settings.database_url,
                kind,
                body,
                fmt=fmt,
                on_error=on_error,
                dry_run=dry_run,
                source=source,
                actor=actor_of(request),
                settings=settings,
            )
        )
    return report_answer(report)


async def _receive(request: Request, body: IO[bytes]) -> None:
    """Spool the body as it arrives (memory, then disk): never all of it in memory."""
    async for chunk in request.stream():
        body.write(chunk)


@router.get(
    "/imports/{import_id}",
    dependencies=OPERATIONS,
    response_model=ImportReport,
    summary="An import's report (status running while it applies)",
    responses={404: {"description": "no import with that id"}},
)
def get_import(
    import_id: str, settings: Annotated[Settings, Depends(deps.settings)]
) -> ImportReport:
    found = importer.get(settings.database_url, import_id)
    if found is None:
        raise HTTPException(404, detail=f"import {import_id} not found")
    return found
