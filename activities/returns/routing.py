"""Where returned goods go: the location where they are most useful and cheapest to send to.

Defective goods go to the returns centre (or, by policy, back to the drop-ship vendor that sent
them). Anything else goes where it is needed most: the candidate with the fewest *days of
cover* (available units / recent daily demand) for the returned SKUs. Candidates within
``cover_tolerance_days`` of the neediest count as equally useful, and among those the parcel
goes where it is cheapest to send from the sender's postcode: carrier tariff, then transit
days, then distance, as the routing package prices it (the sender is the origin, the
candidate the destination). A store booking an in-store return is a candidate itself at no
carriage at all, so it keeps the goods unless another location clearly needs them more.

The decision itself is pure and lives in ``core.rules.return_pick``; this module reads the
locations, stock and demand, prices the carriage, and hands the candidates to it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

import routing
from core.db.schema import Location, Stock, StockMovement
from core.domain.returns import ReturnDestination, ReturnLine
from core.policy import ReturnPolicy
from core.rules.return_pick import Candidate, NoDestination, line_cover, pick
from routing.geo import haversine_km


@dataclass(frozen=True)
class Origin:
    """Where the goods start: the customer's postcode, or the store that booked them."""

    postcode: str
    latitude: float
    longitude: float
    store_id: str | None = None


def group_by_destination(
    s: Session, policy: ReturnPolicy, lines: list[ReturnLine], origin: Origin, now: datetime
) -> list[tuple[ReturnDestination, list[ReturnLine]]]:
    """Split the returned lines by where they go: defective ones to the returns centre or
    their vendor, the others together to the location the rule picks."""
    groups: dict[str, list[ReturnLine]] = defaultdict(list)
    fixed: dict[str, ReturnDestination] = {}
    for ln in lines:
        if not ln.defective:
            groups[""].append(ln)
            continue
        dest = _defective_destination(s, policy, ln)
        fixed[dest.location_id] = dest
        groups[dest.location_id].append(ln)
    out = []
    if groups.get(""):
        out.append((choose(s, policy, groups[""], origin, now), groups[""]))
    out += [(fixed[loc], groups[loc]) for loc in sorted(fixed)]
    return out


def _defective_destination(s: Session, policy: ReturnPolicy, line: ReturnLine) -> ReturnDestination:
    source = s.get(Location, line.from_location_id) if line.from_location_id else None
    if policy.defective_to_vendor and source is not None and source.kind == "vendor":
        return _destination(source, "defective drop-ship goods go back to their vendor")
    centre = s.get(Location, policy.returns_centre_id)
    if centre is None:
        raise NoDestination(f"returns centre {policy.returns_centre_id!r} is not a location")
    return _destination(centre, "defective goods go to the returns centre")


def choose(
    s: Session, policy: ReturnPolicy, lines: list[ReturnLine], origin: Origin, now: datetime
) -> ReturnDestination:
    """The destination of non-defective goods by the rule (see the module docstring)."""
    kinds = policy.forward_kinds if origin.store_id else policy.mail_destination_kinds
    online = Location.online == True  # noqa: E712  (SQL, not Python truth)
    pool = list(s.exec(select(Location).where(col(Location.kind).in_(list(kinds)), online)))
    if origin.store_id and (store := s.get(Location, origin.store_id)) is not None:
        pool = [loc for loc in pool if loc.id != store.id] + [store]
    skus = sorted({ln.sku for ln in lines})
    cover = _days_of_cover(s, [loc.id for loc in pool], skus, policy, now)
    carrying = [loc for loc in pool if loc.id in cover] or pool
    candidates: list[Candidate[Location]] = []
    for loc in carrying:
        if loc.id == origin.store_id:
            carriage = (0, 0, 0.0, "none")
        elif (found := _carriage(lines, origin, loc, now)) is None:
            continue  # e.g. bulky goods beyond every carrier's distance limit
        else:
            carriage = found
        candidates.append(Candidate(loc, line_cover(cover.get(loc.id, {}), lines), *carriage))
    best = pick(candidates, policy.cover_tolerance_days)
    stays = best.location.id == origin.store_id
    why = (
        f"{best.days_of_cover:g} days of cover, the fewest (within "
        f"{policy.cover_tolerance_days:g} days) of {len(candidates)} candidate location(s); "
        + (
            "no carriage: it stays in this store"
            if stays
            else f"cheapest to reach: {best.carrier} {best.carriage_cents / 100:.2f} EUR, "
            f"{best.transit_days} day(s), {best.distance_km:.0f} km"
        )
    )
    return _destination(best.location, why, stays=stays, candidate=best)


def _days_of_cover(
    s: Session, location_ids: list[str], skus: list[str], policy: ReturnPolicy, now: datetime
) -> dict[str, dict[str, float]]:
    """Per location and SKU it carries or sold: available units x window days / units shipped
    in the window (at least one, so a location without sales history is judged by stock)."""
    if not location_ids:
        return {}
    since = now - policy.demand_window
    shipped = s.exec(
        select(StockMovement.location_id, StockMovement.sku, func.sum(StockMovement.on_hand_delta))
        .where(
            StockMovement.kind == "shipment",
            col(StockMovement.sku).in_(skus),
            col(StockMovement.location_id).in_(location_ids),
            StockMovement.at >= since,
        )
        .group_by(StockMovement.location_id, StockMovement.sku)
    ).all()
    demand = {(loc, sku): -int(total) for loc, sku, total in shipped}
    rows = s.exec(
        select(Stock).where(col(Stock.sku).in_(skus), col(Stock.location_id).in_(location_ids))
    ).all()
    available = {(r.location_id, r.sku): max(0, r.on_hand - r.reserved) for r in rows}
    window_days = max(policy.demand_window.total_seconds() / 86400, 1 / 24)
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for key in set(available) | {k for k, v in demand.items() if v > 0}:
        units = available.get(key, 0)
        out[key[0]][key[1]] = units * window_days / max(demand.get(key, 0), 1)
    return out


def _carriage(
    lines: list[ReturnLine], origin: Origin, loc: Location, now: datetime
) -> tuple[int, int, float, str] | None:
    """Price the parcel from the sender to ``loc`` with the routing package: the sender is the
    only origin holding the goods, ``loc`` the destination."""
    problem = routing.RoutingProblem(
        order_id="return",
        lines=[
            routing.OrderLine(
                line_id=ln.line_id,
                sku=ln.sku,
                quantity=ln.quantity,
                weight_kg=ln.weight_kg,
                bulky=ln.bulky,
            )
            for ln in lines
        ],
        destination=routing.Destination(
            postcode=loc.postcode, latitude=loc.latitude, longitude=loc.longitude, city=loc.city
        ),
        speed="standard",
        order_time=now,
        locations=[
            routing.CandidateLocation(
                id="sender",
                kind="warehouse",
                postcode=origin.postcode,
                latitude=origin.latitude,
                longitude=origin.longitude,
                stock=_units(lines),
                capacity_left=sum(ln.quantity for ln in lines),
                hazardous_certified=True,
                cutoff_hour=24,
            )
        ],
    )
    plan = routing.solve(problem, strategy="nearest")
    if plan.uncovered or not plan.shipments:
        return None
    cost = sum(sh.cost_cents for sh in plan.shipments)
    days = max((sh.promised_delivery - sh.ship_date).days for sh in plan.shipments)
    distance = haversine_km(origin.latitude, origin.longitude, loc.latitude, loc.longitude)
    return cost, days, round(distance, 1), plan.shipments[0].carrier


def _units(lines: list[ReturnLine]) -> dict[str, int]:
    units: dict[str, int] = defaultdict(int)
    for ln in lines:
        units[ln.sku] += ln.quantity
    return dict(units)


def _destination(
    loc: Location, why: str, stays: bool = False, candidate: Candidate[Location] | None = None
) -> ReturnDestination:
    extra = {}
    if candidate is not None:
        extra = {
            "carrier": candidate.carrier,
            "carriage_cents": candidate.carriage_cents,
            "transit_days": candidate.transit_days,
            "distance_km": candidate.distance_km,
            "days_of_cover": candidate.days_of_cover,
        }
    return ReturnDestination(
        location_id=loc.id,
        name=loc.name,
        kind=loc.kind,
        postcode=loc.postcode,
        city=loc.city,
        why=why,
        stays=stays,
        **extra,
    )
