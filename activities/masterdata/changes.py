"""Changes operations make by hand between imports: a location's operating fields, removing a
location nobody uses, (de)activating a SKU. Each change and its audit entry (the record before
and after) commit in one transaction.

What ops may change here is what they run day to day (capacity, cut-offs, closing days, what a
location offers). Taking a location offline is not here: that is the re-routing path
(``/ops/locations/{id}/offline``), which moves its unshipped work. Running orders keep their
plans by design; a change counts for what is planned from now on.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, StrictBool, StrictInt, field_validator
from pydantic.json_schema import SkipJsonSchema
from sqlmodel import Session, col, delete, select

from activities.masterdata import audit
from activities.masterdata.rows import parse_cutoffs, parse_dates
from activities.masterdata.views import LocationView, SkuView, location_view, sku_view, snapshot
from core.db.engine import session_scope
from core.db.schema import (
    ApiKey,
    Location,
    ReplenishmentRule,
    Reservation,
    ReturnRecord,
    ShipmentRecord,
    Sku,
    Stock,
    StockHold,
    utcnow,
)
from core.domain.inputs import InputModel
from core.domain.shipments import DONE

MAX_NAMED = 20
"""At most this many ids of each kind are named in a refusal (the counts are complete)."""


class NotFound(Exception):
    """No such location or SKU."""


class Refused(Exception):
    """The change is refused in the current state (409); ``detail`` says what stands in the way."""

    def __init__(self, detail: dict[str, Any]) -> None:
        super().__init__(detail["message"])
        self.detail = detail


Capacity = Annotated[StrictInt, Field(ge=0, le=10_000_000)]


class LocationPatch(InputModel):
    """The fields to change; a field left out stays as it is. ``null`` is no value."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    street: str | None = Field(default=None, max_length=200)
    zone: str | None = Field(default=None, max_length=64)
    daily_capacity: Capacity | None = Field(default=None, description="units per day")
    priority: StrictInt | None = Field(default=None, ge=-1_000_000, le=1_000_000)
    cutoff_hour: StrictInt | None = Field(
        default=None, ge=0, le=24, description="cut-off of weekdays without their own"
    )
    cutoffs: dict[str, str] | None = Field(
        default=None,
        description='{"mon": "17:00", "sat": "12:00"}: weekdays not named are closed; '
        "{}: Monday to Saturday at cutoff_hour",
    )
    closed_dates: list[str] | None = Field(
        default=None, max_length=1000, description="ISO dates; replaces the list"
    )
    ships_to_customers: StrictBool | None = None
    pickup_point: StrictBool | None = None
    hazardous_certified: StrictBool | None = None
    online: SkipJsonSchema[object] = None
    """Not a field to set: named only to answer why (see ``_not_online``)."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null (leave the field out to keep it)")
        return value

    @field_validator("online", mode="before")
    @classmethod
    def _not_online(cls, value: object) -> object:
        raise ValueError(
            "not changed here: take a location offline with POST /ops/locations/{id}/offline "
            "(its unshipped orders are re-routed), back with .../online"
        )

    @field_validator("cutoffs")
    @classmethod
    def _cutoffs(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else parse_cutoffs(value)

    @field_validator("closed_dates")
    @classmethod
    def _dates(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else parse_dates(value)


def update_location(
    url: str, location_id: str, patch: LocationPatch, actor: str, source: str
) -> LocationView:
    """Apply ``patch``; an audit entry when anything changed (nothing changed, no entry)."""
    with session_scope(url) as s:
        loc = s.get(Location, location_id, with_for_update=True)
        if loc is None:
            raise NotFound(f"location {location_id} not found")
        before = snapshot(loc)
        for field, value in patch.model_dump(exclude_unset=True).items():
            setattr(loc, field, value)
        after = snapshot(loc)
        if after != before:
            loc.updated_at = utcnow()
            s.add(loc)
            audit.record(
                s,
                actor=actor,
                entity="location",
                entity_id=location_id,
                action="update",
                before=before,
                after=after,
                source=source,
            )
        s.flush()
        return location_view(loc)


def delete_location(url: str, location_id: str, actor: str, source: str) -> None:
    """Remove a location nothing refers to (with its empty stock rows and their replenishment
    rules); refused, naming what it still holds, otherwise."""
    with session_scope(url) as s:
        loc = s.get(Location, location_id, with_for_update=True)
        if loc is None:
            raise NotFound(f"location {location_id} not found")
        holding = what_it_holds(s, location_id)
        if holding:
            raise Refused(_refusal(location_id, holding))
        before = snapshot(loc)
        s.exec(delete(ReplenishmentRule).where(col(ReplenishmentRule.location_id) == location_id))
        s.exec(delete(Stock).where(col(Stock.location_id) == location_id))
        s.delete(loc)
        audit.record(
            s,
            actor=actor,
            entity="location",
            entity_id=location_id,
            action="delete",
            before=before,
            after=None,
            source=source,
        )


def what_it_holds(s: Session, location_id: str) -> dict[str, Any]:
    """Everything that still refers to the location, by kind; empty: it may go."""
    out: dict[str, Any] = {}
    reservations = s.exec(
        select(Reservation).where(col(Reservation.location_id) == location_id)
    ).all()
    active = [r for r in reservations if r.status == "active"]
    if active:
        out["reservations"] = [
            {
                "order_id": r.order_id,
                "shipment_id": r.shipment_id,
                "sku": r.sku,
                "units": r.quantity,
            }
            for r in active
        ]
    if len(reservations) > len(active):
        out["past_reservations"] = len(reservations) - len(active)
    shipments = s.exec(
        select(ShipmentRecord.shipment_id, ShipmentRecord.order_id, ShipmentRecord.status).where(
            col(ShipmentRecord.location_id) == location_id,
            col(ShipmentRecord.status).not_in(sorted(DONE)),
        )
    ).all()
    if shipments:
        out["shipments"] = [
            {"shipment_id": sid, "order_id": oid, "status": st} for sid, oid, st in shipments
        ]
    stock = s.exec(
        select(Stock).where(
            col(Stock.location_id) == location_id,
            (col(Stock.on_hand) > 0) | (col(Stock.reserved) > 0) | (col(Stock.held) > 0),
        )
    ).all()
    if stock:
        out["stock"] = [
            {"sku": r.sku, "on_hand": r.on_hand, "reserved": r.reserved, "held": r.held}
            for r in stock
        ]
    holds = s.exec(select(StockHold).where(col(StockHold.location_id) == location_id)).all()
    if holds:
        out["holds"] = [{"hold_id": h.hold_id, "status": h.status} for h in holds]
    keys = s.exec(select(ApiKey.id).where(col(ApiKey.location_id) == location_id)).all()
    if keys:
        out["api_keys"] = list(keys)
    returns = s.exec(
        select(ReturnRecord.return_id).where(
            (col(ReturnRecord.destination_id) == location_id)
            | (col(ReturnRecord.store_id) == location_id),
            col(ReturnRecord.closed_at).is_(None),
        )
    ).all()
    if returns:
        out["returns"] = list(returns)
    return out


def _refusal(location_id: str, holding: dict[str, Any]) -> dict[str, Any]:
    """The 409's detail: a sentence naming what is in the way, and the lists behind it."""
    parts: list[str] = []
    if "reservations" in holding:
        orders = sorted({r["order_id"] for r in holding["reservations"]})
        parts.append("active reservations of orders " + _names(orders))
    if "shipments" in holding:
        ids = [x["shipment_id"] for x in holding["shipments"]]
        parts.append("shipments not yet delivered or cancelled: " + _names(ids))
    if "stock" in holding:
        skus = [x["sku"] for x in holding["stock"]]
        parts.append("stock of " + _names(skus) + " (set it to zero, or take the location offline)")
    if "holds" in holding:
        parts.append("stock holds " + _names([h["hold_id"] for h in holding["holds"]]))
    if "returns" in holding:
        parts.append("open returns " + _names(holding["returns"]))
    if "api_keys" in holding:
        parts.append(f"{len(holding['api_keys'])} API key(s) of its staff")
    if "past_reservations" in holding:
        parts.append(
            f"the history of {holding['past_reservations']} past reservation(s) "
            "(take it offline instead)"
        )
    for kind in ("reservations", "shipments", "stock", "holds"):
        if kind in holding:
            holding[kind] = holding[kind][:MAX_NAMED]
    return {
        "message": f"location {location_id} still holds " + "; ".join(parts),
        "location_id": location_id,
        **holding,
    }


def _names(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_NAMED])
    return shown if len(ids) <= MAX_NAMED else f"{shown} and {len(ids) - MAX_NAMED} more"


def set_sku_active(url: str, sku: str, active: bool, actor: str, source: str) -> SkuView:
    """(De)activate a SKU: inactive takes no new orders; running orders keep it."""
    with session_scope(url) as s:
        row = s.get(Sku, sku, with_for_update=True)
        if row is None:
            raise NotFound(f"SKU {sku} not found")
        if row.active != active:
            before = snapshot(row)
            row.active = active
            row.updated_at = utcnow()
            s.add(row)
            audit.record(
                s,
                actor=actor,
                entity="sku",
                entity_id=sku,
                action="update",
                before=before,
                after=snapshot(row),
                source=source,
            )
        s.flush()
        return sku_view(row)


def set_online(s: Session, loc: Location, online: bool, actor: str, source: str) -> bool:
    """Flag a location on- or offline in the caller's transaction, with an audit entry when
    the flag changes (a retried activity or a repeated call records nothing twice). Taking a
    location offline goes through the location outage workflow, which re-routes its work."""
    if loc.online == online:
        return False
    before = snapshot(loc)
    loc.online = online
    loc.updated_at = utcnow()
    s.add(loc)
    audit.record(
        s,
        actor=actor,
        entity="location",
        entity_id=loc.id,
        action="update",
        before=before,
        after=snapshot(loc),
        source=source,
    )
    return True
