"""In-store returns in the store portal: staff book what a customer brings back, and the OMS
says where it goes next: onto this store's shelf, or on to a warehouse that needs it more.

Same login, session and form token as the rest of the portal (``api.pages.portal``). Booking is the
same ``start_returns`` as every other channel (same checks, same 422 reasons), with the store
as where the goods are. Staff at a return's destination confirm its arrival here too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session, col, or_, select

from activities.returns.requests import ReturnRefused, returnable
from api.http.errors import refusal_answer
from api.pages.portal.routes import (
    ClientDep,
    DbDep,
    PortalError,
    SettingsDep,
    StaffDep,
    _error,
    _field_errors,
    _form,
    _page,
    _redirect,
)
from api.pages.translations import Words, words_for
from api.services.returns import ReturnEventIn, signal_return, start_returns
from core.db.schema import OrderRecord, ReturnRecord
from core.domain.orders import OrderInput
from core.domain.returns import ReturnInput, ReturnReason, ReturnRequest
from workflows.returns.client import ReturnClosed

router = APIRouter(prefix="/portal/returns", tags=["portal"], include_in_schema=False)
BACK = "/portal/returns"


def _lines_of(s: Session, order_id: str) -> tuple[OrderRecord | None, list[dict[str, Any]]]:
    rec = s.get(OrderRecord, order_id)
    if rec is None:
        return None, []
    order = OrderInput.model_validate(rec.payload)
    left = returnable(s, order, datetime.now(UTC))
    return rec, [{"line": ln, "left": left[ln.line_id].left} for ln in order.lines]


def _mine(s: Session, location_id: str) -> list[tuple[ReturnRecord, ReturnInput]]:
    """Returns booked at this location, or on their way to it."""
    rows = s.exec(
        select(ReturnRecord)
        .where(
            or_(ReturnRecord.store_id == location_id, ReturnRecord.destination_id == location_id)
        )
        .order_by(col(ReturnRecord.created_at).desc())
        .limit(50)
    ).all()
    return [(r, ReturnInput.model_validate(r.payload)) for r in rows]


@router.get("")
async def returns_page(
    request: Request, who: StaffDep, s: DbDep, settings: SettingsDep, order_id: str = ""
) -> Response:
    order, lines = _lines_of(s, order_id.strip()) if order_id.strip() else (None, [])
    return _page(
        request,
        settings,
        who,
        "returns.html",
        nav="returns",
        order_id=order_id.strip(),
        order=order,
        lines=lines,
        reasons=get_args(ReturnReason),
        returns=_mine(s, who.location_id),
    )


@router.post("")
async def book_return(
    request: Request, who: StaffDep, s: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    """Book what the customer hands over; the OMS decides where it goes."""
    words = words_for(request)
    try:
        form = await _form(request, who)
        order_id = form.get("order_id", "").strip()
        rec = s.get(OrderRecord, order_id) if order_id else None
        if rec is None:
            raise PortalError(404, words.gettext("order_id: order %(id)r not found", id=order_id))
        req = _request(OrderInput.model_validate(rec.payload), form, words)
        s.close()  # end the read before the return's rows are written (SQLite locks)
        try:
            opened = await start_returns(
                settings,
                client,
                order_id,
                req,
                "store",
                requested_by=who.label or who.location_id,
                store_id=who.location_id,
            )
        except ReturnRefused as exc:
            raise PortalError(
                exc.status,
                "; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in exc.errors),
            ) from exc
    except PortalError as exc:
        return _error(request, settings, who, exc, back=BACK)
    first = opened[0]
    return _redirect(
        settings,
        f"{BACK}/{first.return_id}",
        True,
        words.gettext("return %(ids)s booked", ids=", ".join(r.return_id for r in opened)),
    )


def _request(order: OrderInput, form: dict[str, str], words: Words) -> ReturnRequest:
    lines = []
    for ln in order.lines:
        raw = form.get(f"qty_{ln.line_id}", "").strip() or "0"
        if not raw.isdigit():
            field = f"qty_{ln.line_id}"
            raise PortalError(422, words.gettext("%(field)s: a whole number, please", field=field))
        if int(raw) > 0:
            lines.append(
                {
                    "line_id": ln.line_id,
                    "quantity": int(raw),
                    "reason": form.get(f"reason_{ln.line_id}", ""),
                }
            )
    if not lines:
        raise PortalError(422, words.gettext("lines: enter the quantity of at least one item"))
    try:
        return ReturnRequest.model_validate({"lines": lines})
    except ValidationError as exc:
        raise PortalError(422, _field_errors(exc)) from exc


@router.get("/{return_id}")
async def return_page(
    return_id: str, request: Request, who: StaffDep, s: DbDep, settings: SettingsDep
) -> Response:
    words = words_for(request)
    rec = s.get(ReturnRecord, return_id)
    if rec is None or who.location_id not in (rec.store_id, rec.destination_id):
        message = words.gettext("return %(id)s is not one of your location's returns", id=return_id)
        return _error(request, settings, who, PortalError(404, message), back=BACK)
    return _page(
        request,
        settings,
        who,
        "returns_decision.html",
        nav="returns",
        r=rec,
        ret=ReturnInput.model_validate(rec.payload),
    )


@router.post("/{return_id}/received")
async def confirm_received(
    return_id: str,
    request: Request,
    who: StaffDep,
    s: DbDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    """Staff at the destination confirm the parcel arrived (stock is booked here)."""
    words = words_for(request)
    try:
        await _form(request, who)
        rec = s.get(ReturnRecord, return_id)
        if rec is None or rec.destination_id != who.location_id:
            message = words.gettext(
                "return %(id)s is not on its way to your location", id=return_id
            )
            raise PortalError(404, message)
        if rec.arrived_at_location == who.location_id:
            message = words.gettext("return %(id)s was already received here", id=return_id)
            raise PortalError(409, message)
        s.close()
        await signal_return(
            client,
            rec,
            ReturnEventIn(
                return_id=return_id,
                event="received",
                location_id=who.location_id,
                by=who.label or who.location_id,
            ),
        )
    except PortalError as exc:
        return _error(request, settings, who, exc, back=BACK)
    except ReturnClosed as exc:
        return _error(request, settings, who, PortalError(*refusal_answer(exc)), back=BACK)
    received = words.gettext("return %(id)s received", id=return_id)
    return _redirect(settings, f"{BACK}/{return_id}", True, received)
