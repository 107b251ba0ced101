"""File uploads of rows (stock feeds, master-data imports): which format a body is in, and
how a refused file is answered, so every row-file endpoint speaks alike."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel

RowFormat = Literal["csv", "jsonl"]

JSONL_TYPES = {
    "application/x-ndjson",
    "application/jsonl",
    "application/json-lines",
    "application/jsonlines",
    "application/x-jsonlines",
}
CSV_TYPES = {"text/csv", "application/csv"}


def row_format(explicit: str | None, content_type: str) -> RowFormat:
    """``?format=`` if given, else the body's media type; anything else is 415."""
    if explicit == "csv":
        return "csv"
    if explicit == "jsonl":
        return "jsonl"
    media = content_type.split(";")[0].strip().lower()
    if media in CSV_TYPES:
        return "csv"
    if media in JSONL_TYPES:
        return "jsonl"
    raise HTTPException(
        415,
        detail="send text/csv or application/x-ndjson (JSON lines), "
        "or name the format with ?format=csv|jsonl",
    )


def report_answer(report: BaseModel) -> JSONResponse:
    """The report as JSON; a rejected file is 422 with each bad row as a validation error
    (``loc`` = body, line, field), as FastAPI names a bad field."""
    content: dict[str, Any] = report.model_dump(mode="json")
    if content.get("status") != "rejected":
        return JSONResponse(content)
    content["detail"] = [
        {
            "loc": ["body", f"line {e['line']}", e["field"]],
            "msg": e["message"],
            "type": "invalid_row",
        }
        for e in content.get("errors", [])
    ]
    return JSONResponse(content, status_code=422)
