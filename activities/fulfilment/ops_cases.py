"""Cases for a person in operations: what the OMS must not decide alone. The first kind is a
parcel reported as moving (shipped, in transit, delivered) for a shipment the order had
withdrawn or never released: it physically left, so it is never dropped silently.

Raising a case is idempotent by its key (kind + shipment + event), so a partner's resend or a
workflow retry opens it once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.db.engine import session_scope
from core.db.schema import OpsCase

PARCEL_MOVED_UNEXPECTEDLY = "parcel_moved_unexpectedly"


class CaseView(BaseModel):
    id: int
    kind: str
    order_id: str
    shipment_id: str | None
    detail: dict[str, Any]
    status: str
    created_at: datetime
    resolved_at: datetime | None


def case_key(kind: str, shipment_id: str, event_kind: str) -> str:
    return f"{kind}:{shipment_id}:{event_kind}"


def open_case(
    url: str, key: str, kind: str, order_id: str, shipment_id: str | None, detail: dict[str, Any]
) -> int:
    """Open the case once; a repeat with the same key answers the existing case's id."""
    try:
        with session_scope(url) as s:
            case = OpsCase(
                key=key, kind=kind, order_id=order_id, shipment_id=shipment_id, detail=detail
            )
            s.add(case)
            s.flush()
            assert case.id is not None
            return case.id
    except IntegrityError:
        with session_scope(url) as s:
            existing = s.exec(select(OpsCase).where(OpsCase.key == key)).one()
            assert existing.id is not None
            return existing.id


def view(case: OpsCase) -> CaseView:
    assert case.id is not None
    return CaseView(
        id=case.id,
        kind=case.kind,
        order_id=case.order_id,
        shipment_id=case.shipment_id,
        detail=case.detail,
        status=case.status,
        created_at=case.created_at,
        resolved_at=case.resolved_at,
    )


def cases(s: Session, status: str | None = "open", order_id: str | None = None) -> list[CaseView]:
    query = select(OpsCase).order_by(col(OpsCase.created_at), col(OpsCase.id))
    if status:
        query = query.where(OpsCase.status == status)
    if order_id:
        query = query.where(OpsCase.order_id == order_id)
    return [view(c) for c in s.exec(query).all()]


def resolve(url: str, case_id: int, note: str, by: str) -> CaseView | None:
    """Close a case (a second resolve changes nothing)."""
    with session_scope(url) as s:
        case = s.get(OpsCase, case_id)
        if case is None:
            return None
        if case.status != "resolved":
            case.status = "resolved"
            case.resolved_at = datetime.now(UTC)
            case.detail = {**case.detail, "resolution": note, "resolved_by": by}
            s.add(case)
        s.flush()
        return view(case)
