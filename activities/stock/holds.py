"""Holds: stock held for a checkout or for reserve & collect, until it expires.

A hold raises ``stock.held`` with the same conditional update as a reservation (ATP must cover
it), so concurrent holds and orders never promise the same unit twice. Whatever touches a stock
row first ends the expired holds on it (row locks taken in the order hold rows → stock row, by
ascending location and SKU, everywhere), so an expired hold stops counting at once; the cleanup
schedule ends the ones nobody touches.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, and_, case, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from activities.stock import ledger
from activities.stock.availability import availability, channel_buffer
from core.db.engine import session_scope
from core.db.schema import Location, Sku, Stock, StockHold
from core.domain.inputs import ORDER_ID_PATTERN, Channel, InputModel
from core.settings import Settings

HOLD = StockHold.__table__  # type: ignore[attr-defined]
STOCK = Stock.__table__  # type: ignore[attr-defined]
HOLD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"

_HOLD = text(
    "UPDATE stock SET held = held + :qty WHERE location_id = :loc AND sku = :sku "
    "AND on_hand - reserved - held - safety_stock - :buffer >= :qty"
)
_UNHOLD = text("UPDATE stock SET held = held - :qty WHERE location_id = :loc AND sku = :sku")
_TAKE = text(
    "UPDATE stock SET on_hand = on_hand - :qty "
    "WHERE location_id = :loc AND sku = :sku AND on_hand - :qty >= reserved"
)


class _Strict(InputModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HoldLineIn(_Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=10_000)
    location_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="where to hold it; omitted: the OMS picks",
    )


class HoldRequest(_Strict):
    """Hold stock until ``ttl_seconds`` (default by purpose) pass; ``order_id`` names the order
    that will take the hold over when it reserves."""

    hold_id: str = Field(pattern=HOLD_ID_PATTERN)
    purpose: Literal["checkout", "reserve_collect"] = "checkout"
    channel: Channel = "web"
    order_id: str | None = Field(default=None, pattern=ORDER_ID_PATTERN)
    ttl_seconds: int | None = Field(default=None, gt=0)
    lines: list[HoldLineIn] = Field(min_length=1, max_length=100)


class HeldLine(BaseModel):
    location_id: str
    sku: str
    quantity: int
    status: str


class HoldView(BaseModel):
    hold_id: str
    purpose: str
    channel: str
    order_id: str | None
    status: str = Field(description="active | released | expired | converted | collected")
    expires_at: datetime
    created_at: datetime
    lines: list[HeldLine]


class ExpiredHolds(BaseModel):
    holds: int = 0
    units: int = 0
    rows: int = 0


class HoldError(Exception):
    """A hold request that cannot be honoured; ``status`` is the HTTP answer."""

    status = 409

    def __init__(self, detail: Any) -> None:
        super().__init__(str(detail))
        self.detail = detail


class HoldInvalid(HoldError):
    status = 422


class HoldNotFound(HoldError):
    status = 404


def _field(loc: tuple[str | int, ...], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": kind}


# ---- ending holds on one stock row (shared with reservations) ------------------------------


_KIND = {
    "expired": "hold_expired",
    "converted": "hold_converted",
    "released": "hold_release",
    "collected": "collected",
}


def settle_row(
    conn: Connection,
    loc: str,
    sku: str,
    now: datetime,
    *,
    order_id: str | None = None,
    hold_id: str | None = None,
    end_as: str = "released",
) -> list[dict[str, Any]]:
    """End the expired holds on one stock row, and in the same statement (one lock order: hold
    rows, then the stock row) the holds an order takes over (``order_id``: its reservation
    replaces them) or one hold being released or collected (``hold_id``, ``end_as``). Returns
    the ledger movements; a collect whose units are gone raises :class:`HoldError`."""
    expired = HOLD.c.expires_at <= now
    ending: Any = expired
    status: Any = "expired"
    if order_id is not None:
        mine = HOLD.c.order_id == order_id
        ending, status = or_(expired, mine), case((mine, "converted"), else_="expired")
    elif hold_id is not None:
        mine = HOLD.c.hold_id == hold_id
        ending, status = or_(expired, mine), case((and_(mine, ~expired), end_as), else_="expired")
    rows = conn.execute(
        update(HOLD)
        .where(HOLD.c.location_id == loc, HOLD.c.sku == sku, HOLD.c.status == "active", ending)
        .values(status=status, ended_at=now)
        .returning(HOLD.c.hold_id, HOLD.c.quantity, HOLD.c.status)
    ).all()
    if not rows:
        return []
    conn.execute(_UNHOLD, {"qty": sum(r.quantity for r in rows), "loc": loc, "sku": sku})
    taken = sum(r.quantity for r in rows if r.status == "collected")
    if taken and conn.execute(_TAKE, {"qty": taken, "loc": loc, "sku": sku}).rowcount != 1:
        raise HoldError({"message": f"{sku} is no longer on hand at {loc}"})
    return [
        ledger.movement(
            loc,
            sku,
            _KIND[r.status],
            held=-r.quantity,
            on_hand=-r.quantity if r.status == "collected" else 0,
            source=f"hold:{r.hold_id}",
            reason=_REASON[r.status],
            at=now,
        )
        for r in rows
    ]


_REASON = {
    "expired": "hold expired",
    "converted": "taken over by its order's reservation",
    "released": "released",
    "collected": "collected in store",
}


def own_hold_rows(conn: Connection, order_id: str) -> set[tuple[str, str]]:
    """Stock rows where the order still has active holds."""
    rows = conn.execute(
        select(HOLD.c.location_id, HOLD.c.sku).where(
            HOLD.c.order_id == order_id, HOLD.c.status == "active"
        )
    ).all()
    return {(r.location_id, r.sku) for r in rows}


# ---- placing, reading, releasing, collecting ----------------------------------------------


def request_hash(req: HoldRequest) -> str:
    return hashlib.sha256(req.model_dump_json().encode()).hexdigest()


def view(s: Session, hold_id: str, now: datetime | None = None) -> HoldView | None:
    """The hold as the caller sees it; an active line past its expiry reads as expired."""
    now = now or datetime.now(UTC)
    rows = (
        s.connection()
        .execute(
            select(HOLD).where(HOLD.c.hold_id == hold_id).order_by(HOLD.c.location_id, HOLD.c.sku)
        )
        .all()
    )
    if not rows:
        return None
    expires_at = _aware(rows[0].expires_at)

    def status(r: Any) -> str:
        return "expired" if r.status == "active" and expires_at <= now else r.status

    lines = [
        HeldLine(location_id=r.location_id, sku=r.sku, quantity=r.quantity, status=status(r))
        for r in rows
    ]
    states = {ln.status for ln in lines}
    first = rows[0]
    return HoldView(
        hold_id=hold_id,
        purpose=first.purpose,
        channel=first.channel,
        order_id=first.order_id,
        status=states.pop()
        if len(states) == 1
        else ("active" if "active" in states else sorted(states)[0]),
        expires_at=expires_at,
        created_at=_aware(first.created_at),
        lines=lines,
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _ttl(req: HoldRequest, settings: Settings) -> timedelta:
    if req.ttl_seconds is not None:
        if req.ttl_seconds > settings.hold_max_ttl_s:
            raise HoldInvalid(
                [
                    _field(
                        ("ttl_seconds",),
                        f"at most {settings.hold_max_ttl_s} seconds",
                        "less_than_equal",
                    )
                ]
            )
        return timedelta(seconds=req.ttl_seconds)
    default = (
        settings.hold_ttl_checkout_s
        if req.purpose == "checkout"
        else settings.hold_ttl_reserve_collect_s
    )
    return timedelta(seconds=default)


def _check_references(s: Session, req: HoldRequest) -> None:
    """Unknown SKUs and locations, duplicate lines, collect lines without a pickup store: 422."""
    skus = set(s.exec(sm_select(Sku.sku).where(col(Sku.sku).in_([ln.sku for ln in req.lines]))))
    locations = _locations(s, {ln.location_id for ln in req.lines if ln.location_id})
    errors, seen = [], set()
    for i, ln in enumerate(req.lines):
        if ln.sku not in skus:
            errors.append(_field(("lines", i, "sku"), f"unknown SKU {ln.sku!r}", "unknown_sku"))
        if ln.location_id and ln.location_id not in locations:
            errors.append(
                _field(
                    ("lines", i, "location_id"),
                    f"unknown location {ln.location_id!r}",
                    "unknown_location",
                )
            )
        if req.purpose == "reserve_collect":
            loc = locations.get(ln.location_id or "")
            if ln.location_id is None or (loc is not None and not loc.pickup_point):
                errors.append(
                    _field(
                        ("lines", i, "location_id"),
                        "reserve & collect needs a pickup store on every line",
                        "pickup_store_required",
                    )
                )
        if (ln.sku, ln.location_id) in seen:
            errors.append(_field(("lines", i), "the same SKU and location twice", "duplicate"))
        seen.add((ln.sku, ln.location_id))
    if errors:
        raise HoldInvalid(errors)


def _locations(s: Session, ids: set[str]) -> dict[str, Location]:
    if not ids:
        return {}
    return {loc.id: loc for loc in s.exec(sm_select(Location).where(col(Location.id).in_(ids)))}


def _allocate(
    s: Session, req: HoldRequest, settings: Settings, now: datetime
) -> dict[tuple[str, str], int]:
    """Units per (location, SKU): as asked, else from the locations with the most ATP."""
    wanted: dict[tuple[str, str], int] = defaultdict(int)
    free = [ln for ln in req.lines if ln.location_id is None]
    atp = (
        availability(s, sorted({ln.sku for ln in free}), req.channel, settings, now) if free else {}
    )
    short = []
    for i, ln in enumerate(req.lines):
        if ln.location_id is not None:
            wanted[(ln.location_id, ln.sku)] += ln.quantity
            continue
        options = sorted(
            (loc for loc in atp[ln.sku].locations if loc.counts_for_network and loc.available > 0),
            key=lambda loc: (-loc.available, loc.location_id),
        )
        left = ln.quantity
        for loc in options:
            take = min(left, loc.available - wanted.get((loc.location_id, ln.sku), 0))
            if take > 0:
                wanted[(loc.location_id, ln.sku)] += take
                left -= take
            if left == 0:
                break
        if left:
            short.append({"line": i, "sku": ln.sku, "missing": left})
    if short:
        raise HoldError({"message": "not enough stock to hold", "lines": short})
    return wanted


def place(url: str, req: HoldRequest, settings: Settings) -> tuple[HoldView, bool]:
    """Hold the stock, all lines or none. Returns the hold and whether it was created now; the
    same request again returns the existing hold, another request under its id is a conflict."""
    digest = request_hash(req)
    try:
        with session_scope(url) as s:
            existing = _existing(s, req.hold_id, digest)
            if existing is not None:
                return existing, False
            _check_references(s, req)
            now = datetime.now(UTC)
            expires_at = now + _ttl(req, settings)
            wanted = _allocate(s, req, settings, now)
            where = _locations(s, {k[0] for k in wanted})
            conn, moves, short = s.connection(), [], []
            for (loc, sku), qty in sorted(wanted.items()):
                moves += settle_row(conn, loc, sku, now)
                hit = (
                    where[loc].online
                    and conn.execute(
                        _HOLD,
                        {
                            "qty": qty,
                            "loc": loc,
                            "sku": sku,
                            "buffer": channel_buffer(where[loc].kind, req.channel, settings),
                        },
                    ).rowcount
                    == 1
                )
                if not hit:
                    short.append({"location_id": loc, "sku": sku, "quantity": qty})
                    continue
                moves.append(
                    ledger.movement(
                        loc,
                        sku,
                        "hold",
                        held=qty,
                        source=f"hold:{req.hold_id}",
                        reason=f"{req.purpose} ({req.channel})",
                        at=now,
                    )
                )
            if short:
                s.rollback()
                raise HoldError({"message": "not enough stock to hold", "lines": short})
            conn.execute(
                insert(HOLD),
                [
                    {
                        "hold_id": req.hold_id,
                        "location_id": loc,
                        "sku": sku,
                        "quantity": qty,
                        "purpose": req.purpose,
                        "channel": req.channel,
                        "order_id": req.order_id,
                        "status": "active",
                        "request_hash": digest,
                        "expires_at": expires_at,
                        "created_at": now,
                        "ended_at": None,
                    }
                    for (loc, sku), qty in sorted(wanted.items())
                ],
            )
            ledger.record(conn, moves)
    except IntegrityError:  # the same hold id placed concurrently: answer like a repeat
        with session_scope(url) as s:
            existing = _existing(s, req.hold_id, digest)
            if existing is None:
                raise
            return existing, False
    with session_scope(url) as s:
        created = view(s, req.hold_id)
    assert created is not None
    return created, True


def _existing(s: Session, hold_id: str, digest: str) -> HoldView | None:
    first = (
        s.connection()
        .execute(select(HOLD.c.request_hash).where(HOLD.c.hold_id == hold_id).limit(1))
        .first()
    )
    if first is None:
        return None
    if first.request_hash != digest:
        raise HoldError({"message": f"hold {hold_id} exists with other content"})
    return view(s, hold_id)


def release(url: str, hold_id: str) -> HoldView:
    """Give the held stock back (the customer left the checkout). Repeating it is harmless."""
    return _end(url, hold_id, "released")


def collect(url: str, hold_id: str) -> HoldView:
    """Reserve & collect: the customer took the goods in the store, so they leave on-hand."""
    return _end(url, hold_id, "collected")


def _end(url: str, hold_id: str, status: str) -> HoldView:
    now = datetime.now(UTC)
    with session_scope(url) as s:
        current = view(s, hold_id, now)
        if current is None:
            raise HoldNotFound(f"hold {hold_id} not found")
        if status == "collected" and current.status not in ("active", "collected"):
            raise HoldError({"message": f"hold {hold_id} is {current.status}"})
        conn, moves = s.connection(), []
        for line in current.lines:  # sorted by location and SKU
            moves += settle_row(
                conn, line.location_id, line.sku, now, hold_id=hold_id, end_as=status
            )
        if status == "collected" and any(
            m["kind"] == "hold_expired" and m["source"] == f"hold:{hold_id}" for m in moves
        ):
            raise HoldError({"message": f"hold {hold_id} is expired"})
        ledger.record(conn, moves)
        ended = view(s, hold_id, now)
    assert ended is not None
    return ended


# ---- cleanup (run by the schedule's workflow) ---------------------------------------------


def expire_due(url: str, limit: int = 500) -> ExpiredHolds:
    """End expired holds, one stock row per transaction (short locks); up to ``limit`` rows."""
    now = datetime.now(UTC)
    with session_scope(url) as s:
        keys = (
            s.connection()
            .execute(
                select(HOLD.c.location_id, HOLD.c.sku)
                .where(HOLD.c.status == "active", HOLD.c.expires_at <= now)
                .group_by(HOLD.c.location_id, HOLD.c.sku)
                .order_by(HOLD.c.location_id, HOLD.c.sku)
                .limit(limit)
            )
            .all()
        )
    result = ExpiredHolds(rows=len(keys))
    for loc, sku in keys:
        with session_scope(url) as s:
            conn = s.connection()
            moves = settle_row(conn, loc, sku, now)
            ledger.record(conn, moves)
        result.holds += len(moves)
        result.units -= sum(m["held_delta"] for m in moves)
    return result
