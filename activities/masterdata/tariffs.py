"""The retailer's carriers and tariffs, versioned: every change is a new `CarrierTariff` row
(with an audit entry), new plans use the newest, a planned order keeps what it was priced
with. Until the retailer loads any, routing uses the demo's set (demo/carriers.toml)."""

from __future__ import annotations

import hashlib
import json

from sqlmodel import Session, col, select

import routing
from activities.masterdata import audit
from core.db.engine import session_scope
from core.db.schema import CarrierTariff
from routing.carriers import default_carriers
from routing.tariff_file import carriers_document, parse_carriers

ENTITY = "carriers"

_parsed: dict[tuple[int, str], tuple[routing.Carrier, ...]] = {}
"""Carriers by tariff version and content hash: a version never changes, so each is parsed
once per process (the hash guards against a version number reused after a delete)."""


def content_sha256(carriers: list[routing.Carrier]) -> str:
    """Hash of the carriers' canonical JSON: equal content, equal hash, whatever the file's
    layout or field order was."""
    text = json.dumps(carriers_document(carriers), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _newest(s: Session) -> tuple[int, str] | None:
    """Version and content hash of the tariff in force (the highest version)."""
    query = select(CarrierTariff.version, CarrierTariff.content_sha256)
    row = s.exec(query.order_by(col(CarrierTariff.version).desc()).limit(1)).first()
    return None if row is None or row[0] is None else (row[0], row[1])


def current_carriers(s: Session) -> tuple[int | None, list[routing.Carrier]]:
    """The carriers in force and their version; (None, the demo's set) before any is loaded.
    Cheap per order: one small query, the carriers parsed once per version."""
    newest = _newest(s)
    if newest is None:
        return None, default_carriers()
    cached = _parsed.get(newest)
    if cached is None:
        row = s.get(CarrierTariff, newest[0])
        if row is None:  # removed between the two reads: ask again
            return current_carriers(s)
        cached = tuple(parse_carriers({"carriers": row.carriers}, f"carrier tariff {newest[0]}"))
        _parsed[newest] = cached
    return newest[0], list(cached)


def versions(s: Session) -> list[CarrierTariff]:
    """Every tariff version, newest first."""
    return list(s.exec(select(CarrierTariff).order_by(col(CarrierTariff.version).desc())).all())


def _lock_newest(s: Session) -> CarrierTariff | None:
    """The newest version, read after taking a row lock on it, so two writers of the same
    content queue up and the second sees the first's version instead of adding a twin."""
    query = select(CarrierTariff).order_by(col(CarrierTariff.version).desc()).limit(1)
    s.exec(query.with_for_update()).first()
    return s.exec(query).first()  # a fresh statement sees what a writer before us committed


def put_carriers(
    url: str, carriers: list[routing.Carrier], *, source: str, actor: str
) -> tuple[int, bool]:
    """Store the carriers as a new version unless they equal the newest one. Returns the
    version in force and whether it is new; a new one is written to the audit log."""
    document = carriers_document(carriers)["carriers"]
    digest = content_sha256(carriers)
    with session_scope(url) as s:
        newest = _lock_newest(s)
        if newest is not None and newest.content_sha256 == digest:
            assert newest.version is not None
            return newest.version, False
        row = CarrierTariff(
            content_sha256=digest, carriers=document, source=source[:200], actor=actor[:200]
        )
        s.add(row)
        s.flush()
        assert row.version is not None
        audit.record(
            s,
            actor=actor,
            entity=ENTITY,
            entity_id=str(row.version),
            action="update" if newest is not None else "create",
            before=None
            if newest is None
            else {"version": newest.version, "carriers": newest.carriers},
            after={"version": row.version, "carriers": document},
            source=source,
        )
        return row.version, True
