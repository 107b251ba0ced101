"""The master-data audit log: who changed what, when, with the record before and after."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from core.db.schema import AuditEntry

Action = str  # "create" | "update" | "delete"


def record(
    s: Session,
    *,
    actor: str,
    entity: str,
    entity_id: str,
    action: Action,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    source: str = "",
) -> None:
    """Add one entry in the caller's transaction, so the change and its audit commit together."""
    s.add(
        AuditEntry(
            actor=actor[:200],
            entity=entity,
            entity_id=entity_id[:100],
            action=action,
            before=before,
            after=after,
            source=source[:200],
        )
    )


def entries(
    s: Session,
    entity: str | None = None,
    entity_id: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditEntry]:
    """Newest first, paged by id (pass the last id seen as ``before_id``)."""
    q = select(AuditEntry)
    if entity:
        q = q.where(AuditEntry.entity == entity)
    if entity_id:
        q = q.where(AuditEntry.entity_id == entity_id)
    if before_id is not None:
        q = q.where(col(AuditEntry.id) < before_id)
    return list(s.exec(q.order_by(col(AuditEntry.id).desc()).limit(limit)).all())
