"""The master-data audit log over HTTP: who changed which SKU, location, carrier tariff or VAT
rate, when, from where, with the record before and after. Newest first, paged by id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlmodel import Session

from activities.masterdata import audit
from api import deps
from api.deps import DB_INT_MAX
from api.http.errors import API_ERRORS
from api.http.security import OPERATIONS

router = APIRouter(prefix="/ops", tags=["operations"], responses=API_ERRORS)


class AuditView(BaseModel):
    id: int
    at: datetime
    actor: str
    entity: str
    entity_id: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    source: str


class AuditPage(BaseModel):
    entries: list[AuditView]
    next_before_id: int | None


@router.get(
    "/audit",
    dependencies=OPERATIONS,
    response_model=AuditPage,
    summary="Master-data changes, newest first (page on with before_id=next_before_id)",
)
def audit_log(
    s: Annotated[Session, Depends(deps.db)],
    entity: Annotated[
        str | None, Query(max_length=32, description="sku, location, carriers, vat, ...")
    ] = None,
    entity_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
) -> AuditPage:
    rows = audit.entries(s, entity, entity_id, limit + 1, before_id)
    more = len(rows) > limit
    page = [AuditView.model_validate(r, from_attributes=True) for r in rows[:limit]]
    return AuditPage(entries=page, next_before_id=page[-1].id if more and page else None)
