"""Stock feeds from warehouse systems, stores and partners: full snapshots per location or deltas.

A feed is claimed by its id first, so posting it again changes nothing: a finished feed is
answered from its record, one still running is refused, one that died mid-way (quiet for
``feed_stale_after_s``) is resumed after its last committed chunk. The rows stream from a
spooled file in two passes: validate everything (bad rows reported by line; with
``on_error=reject`` any bad row refuses the whole feed), then apply in chunks of
``feed_chunk_rows``, each one transaction that locks its stock rows in a fixed order, never sets
on-hand below what is reserved (clamped, reported as a conflict) and writes the ledger.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import IO, Any, Literal

from pydantic import BaseModel
from sqlalchemy import Connection, bindparam, select, text, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel import select as sm_select

from activities.stock import ledger
from activities.stock.feed_rows import FeedFormatError, FeedRow, RowError, read_rows
from core.db.engine import session_scope
from core.db.schema import Location, Sku, Stock, StockFeed
from core.settings import Settings

STOCK = Stock.__table__  # type: ignore[attr-defined]
FEED = StockFeed.__table__  # type: ignore[attr-defined]
KEEP_DETAILS = 1000
"""Errors and conflicts kept in full on the feed's record (all are counted)."""

Mode = Literal["snapshot", "delta"]

_PG_ENSURE = text(
    "INSERT INTO stock (location_id, sku, on_hand, reserved, safety_stock, held) "
    "SELECT loc, sku, 0, 0, 0, 0 FROM unnest(CAST(:locs AS varchar[]), CAST(:skus AS varchar[]))"
    " AS k(loc, sku) ORDER BY loc, sku ON CONFLICT DO NOTHING"
)
_PG_LOCK = text(
    "SELECT stock.location_id, stock.sku, stock.on_hand, stock.reserved FROM stock "
    "JOIN unnest(CAST(:locs AS varchar[]), CAST(:skus AS varchar[])) AS k(loc, sku) "
    "ON stock.location_id = k.loc AND stock.sku = k.sku "
    "ORDER BY stock.location_id, stock.sku FOR UPDATE OF stock"
)
_PG_SET = text(
    "UPDATE stock SET on_hand = v.on_hand FROM unnest(CAST(:locs AS varchar[]), "
    "CAST(:skus AS varchar[]), CAST(:vals AS integer[])) AS v(loc, sku, on_hand) "
    "WHERE stock.location_id = v.loc AND stock.sku = v.sku"
)


class FeedOptions(BaseModel):
    mode: Mode
    format: Literal["csv", "jsonl"]
    on_error: Literal["skip", "reject"] = "skip"
    location_id: str | None = None
    source: str = ""


class FeedReport(BaseModel):
    """What a feed did (or is doing: the counters move while it runs)."""

    feed_id: str
    status: str
    mode: str
    format: str
    on_error: str
    location_id: str | None
    source: str
    lines_received: int
    rows_total: int
    rows_bad: int
    rows_applied: int
    rows_changed: int
    zeroed: int
    conflicts_count: int
    errors: list[dict[str, Any]]
    errors_truncated: bool
    conflicts: list[dict[str, Any]]
    conflicts_truncated: bool
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    replayed: bool = False


class FeedError(Exception):
    """The feed cannot be taken: ``status`` is the HTTP answer, ``detail`` its body."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


@dataclass
class Claim:
    feed_id: str
    token: str
    state: Literal["new", "resume", "replay"]
    resume_line: int = 0


@dataclass
class _Checked:
    """The validation pass: which lines are bad, and for a snapshot which SKUs it names."""

    rows_total: int = 0
    bad_lines: set[int] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)
    named: dict[tuple[str, str], int] = field(default_factory=dict)
    locations: set[str] = field(default_factory=set)


def _now() -> datetime:
    return datetime.now(UTC)


def report(feed: StockFeed, replayed: bool = False) -> FeedReport:
    return FeedReport(
        feed_id=feed.id,
        status=feed.status,
        mode=feed.mode,
        format=feed.format,
        on_error=feed.on_error,
        location_id=feed.location_id,
        source=feed.source,
        lines_received=feed.lines_received,
        rows_total=feed.rows_total,
        rows_bad=feed.rows_bad,
        rows_applied=feed.rows_applied,
        rows_changed=feed.rows_changed,
        zeroed=feed.zeroed,
        conflicts_count=feed.conflicts_count,
        errors=feed.errors,
        errors_truncated=feed.rows_bad > len(feed.errors),
        conflicts=feed.conflicts,
        conflicts_truncated=feed.conflicts_count > len(feed.conflicts),
        started_at=feed.started_at,
        updated_at=feed.updated_at,
        finished_at=feed.finished_at,
        replayed=replayed,
    )


def get(url: str, feed_id: str) -> FeedReport | None:
    with session_scope(url) as s:
        feed = s.get(StockFeed, feed_id)
        return None if feed is None else report(feed)


# ---- claiming a feed id ----------------------------------------------------------------------


def claim(url: str, feed_id: str, opts: FeedOptions, settings: Settings) -> Claim:
    """Take the feed id for this request, or say why not (409), or that it is done (replay)."""
    with session_scope(url) as s:
        if opts.location_id and s.get(Location, opts.location_id) is None:
            raise FeedError(
                422,
                [
                    {
                        "loc": ["query", "location_id"],
                        "type": "unknown_location",
                        "msg": f"unknown location {opts.location_id!r}",
                    }
                ],
            )
    token, now = uuid.uuid4().hex, _now()
    try:
        with session_scope(url) as s:
            s.add(
                StockFeed(
                    id=feed_id,
                    status="receiving",
                    claim=token,
                    started_at=now,
                    updated_at=now,
                    **opts.model_dump(),
                )
            )
        return Claim(feed_id, token, "new")
    except IntegrityError:
        pass
    with session_scope(url) as s:
        feed = s.get(StockFeed, feed_id, with_for_update=True)
        assert feed is not None
        if _options(feed) != opts and feed.status != "rejected":
            raise FeedError(409, f"feed {feed_id} exists with other options")
        if feed.status == "applied":
            return Claim(feed_id, feed.claim, "replay")
        stale = _aware(feed.updated_at) < now - timedelta(seconds=settings.feed_stale_after_s)
        if feed.status != "rejected" and not stale:
            raise FeedError(
                409,
                f"feed {feed_id} is being processed ({feed.status}, "
                f"{feed.rows_applied} rows applied); see GET /inventory/feeds/"
                f"{feed_id}",
            )
        resume = feed.status != "rejected"
        feed.claim, feed.updated_at, feed.status = token, now, "receiving"
        if not resume:  # nothing of a refused feed was applied: start afresh
            for name, value in opts.model_dump().items():
                setattr(feed, name, value)
            feed.content_sha256, feed.started_at, feed.resume_line = "", now, 0
            feed.rows_applied = feed.rows_changed = feed.zeroed = feed.conflicts_count = 0
            feed.lines_received = feed.rows_total = feed.rows_bad = 0
            feed.conflicts, feed.errors, feed.finished_at = [], [], None
        return Claim(feed_id, token, "resume" if resume else "new", feed.resume_line)


def _options(feed: StockFeed) -> FeedOptions:
    return FeedOptions(
        mode=feed.mode,
        format=feed.format,
        on_error=feed.on_error,
        location_id=feed.location_id,
        source=feed.source,
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def progress(url: str, c: Claim, **values: Any) -> None:
    """Record progress; fails with 409 if another request took the feed over meanwhile."""
    with session_scope(url) as s:
        _touch(s.connection(), c, **values)


def _touch(conn: Connection, c: Claim, **values: Any) -> None:
    hit = conn.execute(
        update(FEED)
        .where(FEED.c.id == c.feed_id, FEED.c.claim == c.token)
        .values(updated_at=_now(), **values)
    )
    if hit.rowcount != 1:
        raise FeedError(409, f"feed {c.feed_id} was taken over by another request")


# ---- processing ----------------------------------------------------------------------------


def process(
    url: str, c: Claim, body: IO[bytes], digest: str, lines: int, settings: Settings
) -> FeedReport:
    """Validate, then apply (or refuse) the spooled feed body. Blocking: run it in a thread."""
    with session_scope(url) as s:
        feed = s.get(StockFeed, c.feed_id)
        assert feed is not None
        opts, stored_digest = _options(feed), feed.content_sha256
        if c.state == "replay":
            if stored_digest != digest:
                raise FeedError(409, f"feed {c.feed_id} was applied with other content")
            return report(feed, replayed=True)
    if c.state == "resume" and stored_digest and stored_digest != digest:
        raise FeedError(409, f"feed {c.feed_id} was started with other content")
    progress(url, c, status="validating", lines_received=lines, content_sha256=digest)
    try:
        checked = _validate(url, c, body, opts, settings)
    except FeedFormatError as exc:
        progress(
            url,
            c,
            status="rejected",
            finished_at=_now(),
            rows_bad=1,
            errors=[{"line": 1, "field": exc.field, "message": str(exc)}],
        )
        return _report(url, c)
    errors = checked.errors
    progress(
        url,
        c,
        rows_total=checked.rows_total,
        rows_bad=len(checked.bad_lines),
        errors=errors[:KEEP_DETAILS],
    )
    if errors and opts.on_error == "reject":
        progress(url, c, status="rejected", finished_at=_now())
    else:
        progress(url, c, status="applying")
        _apply(url, c, body, opts, checked, settings.feed_chunk_rows)
        if opts.mode == "snapshot":
            _zero_absent(url, c, opts, checked, settings.feed_chunk_rows)
        progress(url, c, status="applied", finished_at=_now())
    return _report(url, c)


def _report(url: str, c: Claim) -> FeedReport:
    found = get(url, c.feed_id)
    assert found is not None
    return found


def abandon(url: str, c: Claim, why: str) -> None:
    """The upload broke off before anything was applied: free the id for a new attempt."""
    progress(
        url,
        c,
        status="rejected",
        finished_at=_now(),
        rows_bad=0,
        errors=[{"line": 0, "field": "body", "message": why}],
    )


def _validate(
    url: str, c: Claim, body: IO[bytes], opts: FeedOptions, settings: Settings
) -> _Checked:
    checked = _Checked()
    with session_scope(url) as s:
        known_locations = set(s.exec(sm_select(Location.id)))
    known_skus: set[str] = set()
    for batch in _batches(read_rows(body, opts.format, opts.location_id), settings.feed_chunk_rows):
        new = {r.sku for r in batch if isinstance(r, FeedRow)} - known_skus
        if new:
            with session_scope(url) as s:
                known_skus |= set(s.exec(sm_select(Sku.sku).where(col(Sku.sku).in_(new))))
        checked.rows_total += len(batch)
        for r in batch:
            if isinstance(r, FeedRow):
                r = _check(r, opts.mode, known_locations, known_skus, checked.named)
            if isinstance(r, RowError):
                _bad(checked, r)
        if checked.rows_total % 10_000 < len(batch):
            progress(url, c, rows_total=checked.rows_total, rows_bad=len(checked.bad_lines))
    return checked


def _check(
    r: FeedRow, mode: Mode, locations: set[str], skus: set[str], named: dict[tuple[str, str], int]
) -> FeedRow | RowError:
    key = {"location_id": r.location_id, "sku": r.sku}
    if r.location_id not in locations:
        return RowError(r.line, "location_id", f"unknown location {r.location_id!r}")
    if r.sku not in skus:
        return RowError(r.line, "sku", f"unknown SKU {r.sku!r}")
    if mode == "snapshot":
        if r.quantity < 0:
            return RowError(r.line, "quantity", "a snapshot count cannot be negative", **key)
        first = named.get((r.location_id, r.sku))
        if first is not None:
            return RowError(
                r.line,
                "sku",
                f"{r.sku!r} at {r.location_id!r} already counted on line {first}",
                **key,
            )
        named[(r.location_id, r.sku)] = r.line
    return r


def _bad(checked: _Checked, r: RowError) -> None:
    checked.bad_lines.add(r.line)
    if len(checked.errors) < KEEP_DETAILS:
        checked.errors.append(r.as_dict())
    if r.location_id and r.sku:  # a snapshot leaves a SKU it could not read alone
        checked.named.setdefault((r.location_id, r.sku), r.line)


def _batches(rows: Iterator[FeedRow | RowError], size: int) -> Iterator[list[Any]]:
    while batch := list(islice(rows, size)):
        yield batch


def _apply(
    url: str, c: Claim, body: IO[bytes], opts: FeedOptions, checked: _Checked, size: int
) -> None:
    valid = (
        r
        for r in read_rows(body, opts.format, opts.location_id)
        if isinstance(r, FeedRow) and r.line not in checked.bad_lines and r.line > c.resume_line
    )
    for chunk in _batches(valid, size):
        checked.locations.update(r.location_id for r in chunk)
        _apply_chunk(
            url,
            c,
            chunk,
            opts,
            lambda r, cur: r.quantity if opts.mode == "snapshot" else cur + r.quantity,
        )
    if opts.mode == "snapshot":
        checked.locations.update(loc for loc, _ in checked.named)


def _apply_chunk(
    url: str,
    c: Claim,
    chunk: list[FeedRow],
    opts: FeedOptions,
    target: Callable[[FeedRow, int], int],
) -> None:
    """One transaction: lock the chunk's stock rows in order, set them, write the ledger."""
    kind = f"feed_{opts.mode}"
    with session_scope(url) as s:
        conn, now = s.connection(), _now()
        _touch(conn, c)  # locks the feed row: a takeover waits for this chunk
        keys = sorted({(r.location_id, r.sku) for r in chunk})
        levels = _lock_rows(conn, keys)
        moves, conflicts, changed = [], [], 0
        for r in sorted(chunk, key=lambda r: (r.location_id, r.sku, r.line)):
            level = levels[(r.location_id, r.sku)]
            want = target(r, level["on_hand"])
            new = max(want, level["reserved"])
            if new != want:
                conflicts.append(_conflict(r.line, r.location_id, r.sku, r.quantity, level, new))
            if new != level["on_hand"]:
                changed += 1
                moves.append(
                    ledger.movement(
                        r.location_id,
                        r.sku,
                        kind,
                        on_hand=new - level["on_hand"],
                        source=f"feed:{c.feed_id}",
                        reason=f"line {r.line}" + (f": {r.reason}" if r.reason else ""),
                        at=now,
                    )
                )
                level["on_hand"], level["dirty"] = new, True
        _write_levels(conn, levels)
        ledger.record(conn, moves)
        _add_progress(
            conn,
            c,
            applied=len(chunk),
            changed=changed,
            conflicts=conflicts,
            resume_line=max(r.line for r in chunk),
        )


def _zero_absent(url: str, c: Claim, opts: FeedOptions, checked: _Checked, size: int) -> None:
    """A snapshot is the whole truth for its locations: SKUs it does not name have none left
    (down to what is reserved, which is reported)."""
    locations = sorted({opts.location_id} if opts.location_id else checked.locations)
    with session_scope(url) as s:
        rows = (
            s.connection()
            .execute(
                select(STOCK.c.location_id, STOCK.c.sku)
                .where(STOCK.c.location_id.in_(locations), STOCK.c.on_hand > STOCK.c.reserved)
                .order_by(STOCK.c.location_id, STOCK.c.sku)
            )
            .all()
        )
    absent = [(r.location_id, r.sku) for r in rows if (r.location_id, r.sku) not in checked.named]
    for start in range(0, len(absent), size):
        keys = absent[start : start + size]
        with session_scope(url) as s:
            conn, now = s.connection(), _now()
            _touch(conn, c)
            levels = _lock_rows(conn, keys)
            moves, conflicts = [], []
            for (loc, sku), level in sorted(levels.items()):
                new = level["reserved"]
                if new >= level["on_hand"]:
                    continue
                if new:
                    conflicts.append(_conflict(None, loc, sku, 0, level, new))
                moves.append(
                    ledger.movement(
                        loc,
                        sku,
                        "feed_snapshot",
                        on_hand=new - level["on_hand"],
                        source=f"feed:{c.feed_id}",
                        reason="absent from the snapshot",
                        at=now,
                    )
                )
                level["on_hand"], level["dirty"] = new, True
            _write_levels(conn, levels)
            ledger.record(conn, moves)
            _add_progress(conn, c, zeroed=len(moves), conflicts=conflicts)


def _conflict(
    line: int | None, loc: str, sku: str, reported: int, level: dict[str, Any], applied: int
) -> dict[str, Any]:
    return {
        "line": line,
        "location_id": loc,
        "sku": sku,
        "reported": reported,
        "on_hand_before": level["on_hand"],
        "reserved": level["reserved"],
        "on_hand_after": applied,
        "message": f"on hand kept at {applied}: {level['reserved']} units are reserved",
    }


def _lock_rows(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """Create missing stock rows, then lock all of them in key order; their levels by key."""
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_ENSURE, {"locs": [k[0] for k in keys], "skus": [k[1] for k in keys]})
    else:
        conn.execute(
            sqlite.insert(STOCK).on_conflict_do_nothing(),
            [
                {
                    "location_id": loc,
                    "sku": sku,
                    "on_hand": 0,
                    "reserved": 0,
                    "safety_stock": 0,
                    "held": 0,
                }
                for loc, sku in keys
            ],
        )
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            _PG_LOCK, {"locs": [k[0] for k in keys], "skus": [k[1] for k in keys]}
        ).all()
    else:
        rows = []
        for start in range(0, len(keys), 500):
            rows += conn.execute(
                select(STOCK.c.location_id, STOCK.c.sku, STOCK.c.on_hand, STOCK.c.reserved)
                .where(tuple_(STOCK.c.location_id, STOCK.c.sku).in_(keys[start : start + 500]))
                .order_by(STOCK.c.location_id, STOCK.c.sku)
            ).all()
    return {
        (r.location_id, r.sku): {"on_hand": r.on_hand, "reserved": r.reserved, "dirty": False}
        for r in rows
    }


def _write_levels(conn: Connection, levels: dict[tuple[str, str], dict]) -> None:
    dirty = [
        {"b_loc": loc, "b_sku": sku, "b_on_hand": level["on_hand"]}
        for (loc, sku), level in sorted(levels.items())
        if level["dirty"]
    ]
    if dirty and conn.dialect.name == "postgresql":  # one statement, not one per row
        conn.execute(
            _PG_SET,
            {
                "locs": [d["b_loc"] for d in dirty],
                "skus": [d["b_sku"] for d in dirty],
                "vals": [d["b_on_hand"] for d in dirty],
            },
        )
    elif dirty:
        conn.execute(
            update(STOCK)
            .where(STOCK.c.location_id == bindparam("b_loc"), STOCK.c.sku == bindparam("b_sku"))
            .values(on_hand=bindparam("b_on_hand")),
            dirty,
        )


def _add_progress(
    conn: Connection,
    c: Claim,
    *,
    applied: int = 0,
    changed: int = 0,
    zeroed: int = 0,
    conflicts: list[dict[str, Any]],
    resume_line: int | None = None,
) -> None:
    feed = conn.execute(
        select(FEED.c.conflicts, FEED.c.conflicts_count, FEED.c.resume_line).where(
            FEED.c.id == c.feed_id
        )
    ).one()
    kept = list(feed.conflicts)
    kept += conflicts[: max(0, KEEP_DETAILS - len(kept))]
    _touch(
        conn,
        c,
        rows_applied=FEED.c.rows_applied + applied,
        rows_changed=FEED.c.rows_changed + changed,
        zeroed=FEED.c.zeroed + zeroed,
        conflicts=kept,
        conflicts_count=feed.conflicts_count + len(conflicts),
        resume_line=resume_line if resume_line is not None else feed.resume_line,
    )
