"""Importing the retailer's catalogue, locations and stock levels from CSV or JSON lines.

Like stock feeds (activities/stock/feeds.py) the file is read twice from a spooled copy:
first every row is checked (bad rows reported by line and field; with ``on_error=reject``
any bad row refuses the whole file and nothing changes), then the good rows are applied in
chunks of ``masterdata_chunk_rows``, one transaction each: new records created, changed ones
updated, each change with an audit entry (before and after); stock levels are set through the
stock ledger, never below what is reserved. A dry run goes through the same comparison and
writes nothing. The import's id is its kind and the SHA-256 of its bytes, so the same file
posted again answers the stored report (``replayed``) and changes nothing.

A running import has status ``running`` on its record; two identical imports at once do the
same upserts, so neither needs to wait for the other, and an import that died mid-way is
simply run again by re-posting the file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import IO, Any, Literal, cast

from pydantic import BaseModel
from sqlalchemy import JSON, Connection, Table, insert, select, text, tuple_
from sqlalchemy.dialects import sqlite

from activities.masterdata.rows import (
    COLUMNS,
    Format,
    Kind,
    LocationRow,
    Parsed,
    StockRow,
    read,
)
from activities.stock import ledger
from activities.stock.feed_rows import FeedFormatError, RowError
from activities.stock.feeds import _conflict, _lock_rows, _write_levels
from core.db.engine import session_scope
from core.db.schema import AuditEntry, Location, MasterDataImport, Sku, Stock
from core.settings import Settings

KEEP_DETAILS = 1000
"""Errors and conflicts kept on the import's record (all are counted)."""

IMPORTS: Table = MasterDataImport.__table__  # type: ignore[attr-defined]
AUDIT: Table = AuditEntry.__table__  # type: ignore[attr-defined]
TABLES: dict[str, Table] = {
    "catalogue": Sku.__table__,  # type: ignore[attr-defined]
    "locations": Location.__table__,  # type: ignore[attr-defined]
    "stock": Stock.__table__,  # type: ignore[attr-defined]
}
ENTITY = {"catalogue": "sku", "locations": "location"}
_PARAMS_PER_QUERY = 500
"""Keys per ``IN (...)`` on SQLite, whose statements take a limited number of parameters."""

Status = Literal["running", "applied", "rejected", "dry_run"]


class ImportReport(BaseModel):
    """What an import did, or (dry run) would do."""

    import_id: str
    kind: str
    format: str
    on_error: str
    status: Status
    source: str = ""
    actor: str = ""
    rows_total: int = 0
    rows_bad: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = []
    errors_count: int = 0
    errors_truncated: bool = False
    conflicts: list[dict[str, Any]] = []
    conflicts_count: int = 0
    dry_run: bool = False
    replayed: bool = False
    created_at: datetime | None = None


@dataclass
class _Run:
    """One import in progress: the checks' outcome and the counters as chunks commit."""

    report: ImportReport
    bad_lines: set[int] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    def error(self, e: RowError) -> None:
        self.bad_lines.add(e.line)
        self.report.errors_count += 1
        if len(self.errors) < KEEP_DETAILS:
            field, message = _safe(e.field), _safe(e.message)
            self.errors.append({"line": e.line, "field": field, "message": message})


def _safe(text: str) -> str:
    """Text a database can store: NUL and lone surrogates (a bad file's column names, values
    quoted in messages) written as escapes."""
    return text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def _now() -> datetime:
    return datetime.now(UTC)


# ---- reports ---------------------------------------------------------------------------------


def get(url: str, import_id: str) -> ImportReport | None:
    """The stored report of an import (``running`` while one is applying)."""
    with session_scope(url) as s:
        rec = s.get(MasterDataImport, import_id)
        return None if rec is None else _from_record(rec)


def _from_record(rec: MasterDataImport, replayed: bool = False) -> ImportReport:
    errors = [e for e in rec.errors if "conflict" not in e]
    conflicts = [e["conflict"] for e in rec.errors if "conflict" in e]
    meta: dict[str, int] = next((e["counts"] for e in rec.errors if "counts" in e), {})
    errors = [e for e in errors if "counts" not in e]
    return ImportReport(
        import_id=rec.id,
        kind=rec.kind,
        format=rec.format,
        on_error=rec.on_error,
        status=rec.status,
        source=rec.source,
        actor=rec.actor,
        rows_total=rec.rows_total,
        rows_bad=rec.rows_bad,
        created=rec.rows_created,
        updated=rec.rows_updated,
        unchanged=rec.rows_unchanged,
        errors=errors,
        errors_count=meta.get("errors", len(errors)),
        errors_truncated=meta.get("errors", len(errors)) > len(errors),
        conflicts=conflicts,
        conflicts_count=meta.get("conflicts", len(conflicts)),
        replayed=replayed,
        created_at=rec.created_at,
    )


def _record_values(run: _Run) -> dict[str, Any]:
    """The import's record; conflicts and the full counts ride in its ``errors`` list."""
    r = run.report
    details: list[dict[str, Any]] = list(run.errors)
    details += [{"conflict": c} for c in run.conflicts]
    details.append({"counts": {"errors": r.errors_count, "conflicts": r.conflicts_count}})
    return {
        "id": r.import_id,
        "kind": r.kind,
        "format": r.format,
        "on_error": r.on_error,
        "status": r.status,
        "source": _safe(r.source)[:200],
        "actor": _safe(r.actor)[:200],
        "rows_total": r.rows_total,
        "rows_bad": r.rows_bad,
        "rows_created": r.created,
        "rows_updated": r.updated,
        "rows_unchanged": r.unchanged,
        "errors": details,
        "created_at": r.created_at,
    }


def _save(conn: Connection, run: _Run) -> None:
    _upsert(conn, IMPORTS, [_record_values(run)], ["id"])


# ---- the import ------------------------------------------------------------------------------


def run_import(
    url: str,
    kind: Kind,
    fh: IO[bytes],
    *,
    fmt: Format,
    on_error: Literal["skip", "reject"] = "skip",
    dry_run: bool = False,
    source: str = "",
    actor: str,
    settings: Settings,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check, then apply (or, dry, compare) the rows of ``fh``. Blocking: run it in a thread."""
    if kind not in TABLES:
        raise ValueError(f"unknown import kind {kind!r}")
    with _spooled(fh) as (body, digest):
        import_id = f"{kind}:{digest}"
        with session_scope(url) as s:
            done = s.get(MasterDataImport, import_id)
            if done is not None and done.status == "applied":
                return _from_record(done, replayed=True).model_copy(update={"dry_run": dry_run})
        run = _Run(
            ImportReport(
                import_id=import_id,
                kind=kind,
                format=fmt,
                on_error=on_error,
                status="dry_run" if dry_run else "running",
                source=source,
                actor=actor,
                dry_run=dry_run,
                created_at=_now(),
            )
        )
        context = {"vat_rates": settings.vat_rates}
        try:
            _check(url, run, read(body, fmt, kind, context), settings.masterdata_chunk_rows)
        except FeedFormatError as exc:
            run.error(RowError(1, exc.field, str(exc)))
            run.report.rows_bad = 1
            return _finish(url, run, "rejected")
        run.report.rows_bad = len(run.bad_lines)
        if run.bad_lines and (on_error == "reject" or run.report.rows_bad == run.report.rows_total):
            # a file none of whose rows can be used is refused whole even with skip: nothing
            # would be applied, and the sender must hear so (422), not "applied"
            return _finish(url, run, "rejected")
        if not dry_run:
            with session_scope(url) as s:
                _save(s.connection(), run)
        good = (
            p
            for p in read(body, fmt, kind, context)
            if p.row is not None and p.line not in run.bad_lines
        )
        for chunk in _batches(good, settings.masterdata_chunk_rows):
            with session_scope(url) as s:
                conn = s.connection()
                APPLY[kind](conn, run, chunk, not dry_run)
                if not dry_run:
                    _save(conn, run)
            if progress is not None:
                progress(run.report.created + run.report.updated + run.report.unchanged)
        return _finish(url, run, "dry_run" if dry_run else "applied")


@contextmanager
def _spooled(fh: IO[bytes]) -> Iterator[tuple[IO[bytes], str]]:
    """``fh`` as a seekable file with its SHA-256 (copied to a spooled file if need be)."""
    if fh.seekable():
        yield fh, _sha256(fh)
        return
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as copy:
        shutil.copyfileobj(fh, copy)
        yield cast(IO[bytes], copy), _sha256(cast(IO[bytes], copy))


def _sha256(fh: IO[bytes]) -> str:
    digest = hashlib.sha256()
    fh.seek(0)
    while block := fh.read(1 << 20):
        digest.update(block)
    fh.seek(0)
    return digest.hexdigest()


def _finish(url: str, run: _Run, status: Status) -> ImportReport:
    run.report.status = status if not run.report.dry_run or status != "applied" else "dry_run"
    run.report.errors = run.errors
    run.report.errors_truncated = run.report.errors_count > len(run.errors)
    run.report.conflicts = run.conflicts
    if not run.report.dry_run:
        with session_scope(url) as s:
            _save(s.connection(), run)
    return run.report


def _batches(rows: Iterator[Parsed], size: int) -> Iterator[list[Parsed]]:
    while batch := list(islice(rows, size)):
        yield batch


# ---- checking --------------------------------------------------------------------------------


def _check(url: str, run: _Run, parsed: Iterator[Parsed], size: int) -> None:
    """Every row's fields, duplicate ids, and for stock that its SKU and location exist."""
    first_line: dict[Any, int] = {}
    known_locations: set[str] | None = None
    known_skus: set[str] = set()
    for batch in _batches(parsed, size):
        run.report.rows_total += len(batch)
        stock = [p.row for p in batch if isinstance(p.row, StockRow)]
        if stock:
            with session_scope(url) as s:
                conn = s.connection()
                if known_locations is None:
                    known_locations = set(conn.execute(select(TABLES["locations"].c.id)).scalars())
                new = {r.sku for r in stock} - known_skus
                known_skus |= _existing_skus(conn, sorted(new))
        for p in batch:
            for e in p.errors:
                run.error(e)
            if p.row is None:
                continue
            key_field = "id" if isinstance(p.row, LocationRow) else "sku"
            seen = first_line.setdefault(p.row.key, p.line)
            if seen != p.line:
                run.error(RowError(p.line, key_field, f"duplicate id (first on line {seen})"))
            if isinstance(p.row, StockRow):
                assert known_locations is not None
                if p.row.location_id not in known_locations:
                    message = f"unknown location {p.row.location_id!r}"
                    run.error(RowError(p.line, "location_id", message))
                if p.row.sku not in known_skus:
                    run.error(RowError(p.line, "sku", f"unknown SKU {p.row.sku!r}"))


def _existing_skus(conn: Connection, skus: list[str]) -> set[str]:
    table, found = TABLES["catalogue"], set()
    for start in range(0, len(skus), _PARAMS_PER_QUERY):
        part = skus[start : start + _PARAMS_PER_QUERY]
        found |= set(conn.execute(select(table.c.sku).where(table.c.sku.in_(part))).scalars())
    return found


# ---- applying --------------------------------------------------------------------------------


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Insert the rows, or overwrite the ones whose key exists: one statement per chunk."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _pg_insert(conn, table, rows, keys)
        return
    stmt = sqlite.insert(table)
    names = [c for c in rows[0] if c not in keys]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={n: stmt.excluded[n] for n in names}
    )
    conn.execute(stmt, rows)


def _insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _pg_insert(conn, table, rows, None)
    else:
        conn.execute(insert(table), rows)


def _pg_insert(
    conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str] | None
) -> None:
    """One ``INSERT ... SELECT FROM unnest(arrays)`` for the whole chunk (a column an array):
    three times faster than SQLAlchemy's multi-row VALUES, and psycopg's executemany sends a
    statement per row. JSON columns travel as text."""
    names = list(rows[0])
    casts, params = [], {}
    for i, name in enumerate(names):
        column = table.c[name]
        sql_type = column.type.compile(dialect=conn.dialect)
        values = [r[name] for r in rows]
        if isinstance(column.type, JSON):
            values = [None if v is None else json.dumps(v) for v in values]
        casts.append(f"CAST(:p{i} AS {sql_type}[])")
        params[f"p{i}"] = values
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({', '.join(casts)})"
    if keys is not None:
        updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in keys)
        sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    conn.execute(text(sql), params)


def _apply_records(conn: Connection, run: _Run, chunk: list[Parsed], write: bool) -> None:
    """Catalogue or locations: compare each row with its record; create or update."""
    kind = run.report.kind
    table = TABLES[kind]
    pk = table.c.sku if kind == "catalogue" else table.c.id
    compared = [c.name for c in table.columns if c.name != "updated_at"]
    rows = [p for p in chunk if p.row is not None]
    ids = [str(p.row.key) for p in rows if p.row is not None]
    query = select(*[table.c[n] for n in compared]).where(pk.in_(ids)).order_by(pk)
    if write and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    existing = {r[pk.name]: dict(r) for r in conn.execute(query).mappings()}
    now, writes, audit = _now(), [], []
    for p in rows:
        assert p.row is not None
        key = str(p.row.key)
        before = existing.get(key)
        if before is None:
            after = p.row.values(only_given=False)
            run.report.created += 1
        else:
            after = before | p.row.values(only_given=True)
            if after == before:
                run.report.unchanged += 1
                continue
            run.report.updated += 1
        writes.append(after | {"updated_at": now})
        audit.append(
            {
                "at": now,
                "actor": run.report.actor[:200],
                "entity": ENTITY[kind],
                "entity_id": key[:100],
                "action": "create" if before is None else "update",
                "before": before,
                "after": after,
                "source": run.report.import_id,
            }
        )
    if write and writes:
        _upsert(conn, table, writes, [pk.name])
        _insert(conn, AUDIT, audit)


def _apply_stock(conn: Connection, run: _Run, chunk: list[Parsed], write: bool) -> None:
    """Stock: set on-hand of the named (location, SKU) rows through the ledger, never below
    what is reserved (kept at the reserved units and reported as a conflict)."""
    rows = sorted(
        (p for p in chunk if isinstance(p.row, StockRow)),
        key=lambda p: p.row.key,  # type: ignore[union-attr]
    )
    keys = [p.row.key for p in rows if isinstance(p.row, StockRow)]
    existed = _stock_levels(conn, keys)
    levels = (
        _lock_rows(conn, keys)
        if write
        else {k: existed.get(k, {"on_hand": 0, "reserved": 0}) | {"dirty": False} for k in keys}
    )
    now, moves = _now(), list[dict[str, Any]]()
    for p in rows:
        r = cast(StockRow, p.row)
        level = levels[r.key]
        new = max(r.quantity, level["reserved"])
        if new != r.quantity:
            run.report.conflicts_count += 1
            if len(run.conflicts) < KEEP_DETAILS:
                run.conflicts.append(_conflict(p.line, *r.key, r.quantity, level, new))
        if r.key not in existed:
            run.report.created += 1
        elif new != level["on_hand"]:
            run.report.updated += 1
        else:
            run.report.unchanged += 1
        if new != level["on_hand"]:
            moves.append(
                ledger.movement(
                    r.location_id,
                    r.sku,
                    "feed_snapshot",
                    on_hand=new - level["on_hand"],
                    source=run.report.import_id,
                    reason=f"stock import, line {p.line}",
                    at=now,
                )
            )
            level["on_hand"], level["dirty"] = new, True
    if write:
        _write_levels(conn, levels)
        ledger.record(conn, moves)


def _stock_levels(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """On-hand and reserved of the stock rows that exist among ``keys``."""
    table = TABLES["stock"]
    if conn.dialect.name == "postgresql":
        found = conn.execute(
            _PG_LEVELS, {"locs": [k[0] for k in keys], "skus": [k[1] for k in keys]}
        ).all()
    else:
        found = []
        for start in range(0, len(keys), _PARAMS_PER_QUERY):
            part = keys[start : start + _PARAMS_PER_QUERY]
            found += conn.execute(
                select(table.c.location_id, table.c.sku, table.c.on_hand, table.c.reserved).where(
                    tuple_(table.c.location_id, table.c.sku).in_(part)
                )
            ).all()
    return {(r.location_id, r.sku): {"on_hand": r.on_hand, "reserved": r.reserved} for r in found}


_PG_LEVELS = text(
    "SELECT stock.location_id, stock.sku, stock.on_hand, stock.reserved FROM stock "
    "JOIN unnest(CAST(:locs AS varchar[]), CAST(:skus AS varchar[])) AS k(loc, sku) "
    "ON stock.location_id = k.loc AND stock.sku = k.sku"
)

APPLY: dict[str, Callable[[Connection, _Run, list[Parsed], bool], None]] = {
    "catalogue": _apply_records,
    "locations": _apply_records,
    "stock": _apply_stock,
}

__all__ = ["COLUMNS", "ImportReport", "get", "run_import"]
