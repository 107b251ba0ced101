"""Carriers and tariffs: read the set in force, list its versions, put a new one (the file the
retailer edits, as JSON or TOML). A new version prices the next plans; planned orders keep
theirs. Bad input answers 422 naming carrier and field, and nothing is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlmodel import Session

import routing
from activities.masterdata import tariffs
from api import deps
from api.http.errors import API_ERRORS, invalid
from api.http.security import OPERATIONS, READERS, actor_of
from core.settings import Settings
from routing.tariff_file import TariffFileError, TariffFormat, loads_carriers

router = APIRouter(tags=["master data: carriers"], responses=API_ERRORS)

TOML_TYPES = {"application/toml", "text/toml", "application/x-toml"}


def _is_json(media: str) -> bool:
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


_EXAMPLE_TOML = """[[carrier]]
name = "parcel"
speeds = ["standard", "express"]
weight_bands = [{ max_kg = 2, cost_cents = 449 }, { max_kg = 31.5, cost_cents = 1049 },
                { cost_cents = 2990 }]
transit_bands = [{ max_km = 200, days = 1 }, { days = 2 }]
express_surcharge_cents = 990
"""
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["carriers"],
                    "properties": {
                        "carriers": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "object"},
                            "description": "the fields of a carrier, as GET /carriers shows",
                        }
                    },
                },
                "example": {
                    "carriers": [
                        {
                            "name": "parcel",
                            "speeds": ["standard"],
                            "weight_bands": [{"max_kg": 2, "cost_cents": 449}, {"cost_cents": 990}],
                        }
                    ]
                },
            },
            "application/toml": {"schema": {"type": "string"}, "example": _EXAMPLE_TOML},
        },
    }
}


class CarriersInForce(BaseModel):
    version: int | None = Field(
        description="tariff version in force; null: none loaded yet, the demo's set applies"
    )
    carriers: list[routing.Carrier]


class CarriersStored(BaseModel):
    version: int = Field(description="the version in force after this call")
    created: bool = Field(description="false: same content as the version in force, unchanged")
    names: list[str] = Field(description="the carriers of that version")


class TariffVersion(BaseModel):
    version: int
    content_sha256: str
    source: str
    actor: str
    created_at: datetime
    names: list[str] = Field(description="its carriers")


def _body_format(content_type: str) -> TariffFormat:
    media = content_type.split(";")[0].strip().lower()
    if media in TOML_TYPES:
        return "toml"
    if _is_json(media):
        return "json"
    raise HTTPException(
        415, detail="send application/json ({'carriers': [...]}) or application/toml"
    )


def _field_errors(exc: TariffFileError) -> list[dict[str, object]]:
    """Each mistake as FastAPI names a bad field: ``["body", "carriers", 0, "weight_bands", 2,
    "cost_cents"]``, the message saying which carrier."""
    out: list[dict[str, object]] = []
    for p in exc.problems:
        loc: list[str | int] = ["body"]
        if p.index is not None:
            loc += ["carriers", p.index]
        loc += list(p.field)
        where = p.where()
        out.append(
            {"loc": loc, "msg": f"{where}: {p.message}" if where else p.message, "type": p.kind}
        )
    return out


@router.get(
    "/carriers",
    dependencies=READERS,
    response_model=CarriersInForce,
    summary="The carriers and tariffs new plans use, with their version",
)
def get_carriers(s: Annotated[Session, Depends(deps.db)]) -> CarriersInForce:
    version, carriers = tariffs.current_carriers(s)
    return CarriersInForce(version=version, carriers=carriers)


@router.get(
    "/carriers/versions",
    dependencies=OPERATIONS,
    response_model=list[TariffVersion],
    summary="Every tariff version, newest first: when, by whom, from where",
)
def get_versions(s: Annotated[Session, Depends(deps.db)]) -> list[TariffVersion]:
    return [
        TariffVersion(
            version=row.version or 0,
            content_sha256=row.content_sha256,
            source=row.source,
            actor=row.actor,
            created_at=row.created_at,
            names=[str(c.get("name", "")) for c in row.carriers],
        )
        for row in tariffs.versions(s)
    ]


@router.put(
    "/carriers",
    dependencies=OPERATIONS,
    response_model=CarriersStored,
    openapi_extra=_BODY_DOC,
    summary="Put the carriers and tariffs (JSON or TOML): a new version unless unchanged",
    responses={
        415: {"description": "neither JSON nor TOML"},
        422: {"description": "a bad file: each mistake named by carrier and field; unchanged"},
    },
)
async def put_carriers(
    request: Request,
    settings: Annotated[Settings, Depends(deps.settings)],
    source: Annotated[str, Query(max_length=200, description="who sends it")] = "",
) -> CarriersStored:
    fmt = _body_format(request.headers.get("content-type", ""))
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid([{"loc": ["body"], "msg": "not UTF-8 text", "type": "unicode"}]) from None
    try:
        carriers = loads_carriers(text, fmt, "body")
    except TariffFileError as exc:
        raise invalid(_field_errors(exc)) from None
    version, created = await run_in_threadpool(
        tariffs.put_carriers,
        settings.database_url,
        carriers,
        source=source or "PUT /carriers",
        actor=actor_of(request),
    )
    return CarriersStored(version=version, created=created, names=[c.name for c in carriers])
