"""The store and vendor portal: server-rendered pages for ONE location's staff.

Staff log in with their location's key (``api.http.auth_keys``); the signed session cookie names the
key, and every page and action re-reads it and works on that key's location only. Another
location's shipment or order is answered 404 exactly like an unknown one, and nothing is sent.

Forms post and redirect (PRG) with a flash message. Shipment actions go through the same
``send_shipment_event`` as the shipment webhook; a pickup handover is the workflow's
``confirm_pickup`` Update, whose refusal (wrong code, not ready) is shown as the 409 it is.
Pages and the portal's own messages are in the user's language
(``api.pages.translations``); the order's reasons are its own words.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import ConfigDict, Field, ValidationError
from sqlmodel import Session
from temporalio.client import Client

from api import deps
from api.http.auth_keys import LOCATION, active_key, verify_key
from api.http.errors import refusal_answer
from api.http.idempotency import request_key
from api.pages.portal import views
from api.pages.translations import Words, words_for
from api.pages.web_session import (
    LOCAL_TZ,
    STATIC_DIR,
    TEMPLATES,
    WebArea,
    WebError,
    field_errors,
    read_form,
    switch_language,
)
from api.services.shipment_events import send_shipment_event
from core.db.engine import get_engine
from core.db.schema import Location, OrderRecord, ShipmentRecord
from core.domain.commands import ActionResult, PickupConfirmation
from core.domain.inputs import InputModel
from core.domain.shipments import GONE, LocationEventKind, ShipmentEvent
from core.settings import Settings
from workflows.order.client import OrderClient, OrderRefused

router = APIRouter(prefix="/portal", tags=["portal"], include_in_schema=False)
SESSION_COOKIE, FLASH_COOKIE = "oms_portal", "oms_portal_flash"
AREA = WebArea("portal", SESSION_COOKIE, FLASH_COOKIE, "/portal")
RECORD_WAIT_S = 5.0  # how long an action waits for the order to record it before redirecting
LOGIN = "/portal/login"
__all__ = ["LOCAL_TZ", "STATIC_DIR", "TEMPLATES"]


@dataclass(frozen=True)
class Staff:
    """Who is logged in: a location key, the location it opens, the form token."""

    key_id: int
    label: str
    location_id: str
    location_name: str
    location_kind: str
    pickup_point: bool
    csrf: str


PortalError = WebError


def current_staff(request: Request, s: Session, settings: Settings) -> Staff | None:
    """The session's staff if the cookie is genuine, young enough and its key still active."""
    session = AREA.session(request, settings)
    if session is None or not isinstance(session.get("k"), int):
        return None
    key = active_key(s, session["k"])
    if key is None or key.role != LOCATION or key.location_id != session.get("loc"):
        return None
    location = s.get(Location, key.location_id)
    if location is None:
        return None
    csrf = AREA.csrf(settings, session)
    return Staff(
        key.id or 0,
        key.label,
        location.id,
        location.name,
        location.kind,
        location.pickup_point,
        csrf,
    )


def staff(
    request: Request,
    s: Annotated[Session, Depends(deps.db)],
    settings: Annotated[Settings, Depends(deps.settings)],
) -> Staff:
    """Dependency: the logged-in staff, or a redirect to the login page (nothing done)."""
    found = current_staff(request, s, settings)
    if found is None:
        raise HTTPException(303, detail="log in first", headers={"Location": LOGIN})
    return found


StaffDep = Annotated[Staff, Depends(staff)]
DbDep = Annotated[Session, Depends(deps.db)]
SettingsDep = Annotated[Settings, Depends(deps.settings)]
ClientDep = Annotated[Client, Depends(deps.temporal)]


# ---- rendering -----------------------------------------------------------------------------


def _page(
    request: Request,
    settings: Settings,
    who: Staff | None,
    name: str,
    status: int = 200,
    **context: Any,
) -> Response:
    return AREA.page(request, settings, f"portal/{name}", status, staff=who, **context)


def _error(
    request: Request,
    settings: Settings,
    who: Staff | None,
    exc: PortalError,
    back: str = "/portal/queue",
) -> Response:
    return _page(request, settings, who, "error.html", exc.status, message=exc.message, back=back)


def _redirect(settings: Settings, to: str, ok: bool, message: str) -> RedirectResponse:
    return AREA.redirect(settings, to, ok, message)


async def _form(request: Request, who: Staff | None) -> dict[str, str]:
    """The posted HTML form; with a session, its form token must match (no cross-site posts)."""
    return await read_form(request, who.csrf if who is not None else None)


_field_errors = field_errors


# ---- login ---------------------------------------------------------------------------------


@router.get("", include_in_schema=False)
async def home() -> RedirectResponse:
    return RedirectResponse("/portal/queue", status_code=303)


@router.get("/language/{lang}")
async def choose_language(
    lang: str, settings: SettingsDep, back: str = "/portal/queue"
) -> Response:
    """The language switch in the header: remembered in a cookie."""
    return switch_language(settings, lang, back, "/portal/queue")


@router.get("/login")
async def login_page(request: Request, s: DbDep, settings: SettingsDep) -> Response:
    if current_staff(request, s, settings) is not None:
        return RedirectResponse("/portal/queue", status_code=303)
    return _page(request, settings, None, "login.html")


@router.post("/login")
async def login(request: Request, s: DbDep, settings: SettingsDep) -> Response:
    try:
        form = await _form(request, None)
    except PortalError as exc:
        return _error(request, settings, None, exc, back=LOGIN)
    words = words_for(request)
    key = verify_key(s, form.get("key", "")) if form.get("key", "").strip() else None
    if key is None or key.role != LOCATION or key.location_id is None:
        return _page(
            request,
            settings,
            None,
            "login.html",
            401,
            error=words.gettext("key: not recognised (ask your manager for your location's key)"),
        )
    welcome = words.gettext("logged in: %(who)s", who=key.label or key.location_id)
    resp = _redirect(settings, "/portal/queue", True, welcome)
    AREA.log_in(resp, settings, {"k": key.id, "loc": key.location_id, "n": secrets.token_hex(8)})
    return resp


@router.post("/logout")
async def logout(request: Request, who: StaffDep, settings: SettingsDep) -> Response:
    try:
        await _form(request, who)
    except PortalError as exc:
        return _error(request, settings, who, exc)
    resp = _redirect(settings, LOGIN, True, words_for(request).gettext("logged out"))
    AREA.log_out(resp)
    return resp


# ---- pages ---------------------------------------------------------------------------------


@router.get("/queue")
async def queue_page(request: Request, who: StaffDep, s: DbDep, settings: SettingsDep) -> Response:
    return _page(
        request,
        settings,
        who,
        "queue.html",
        nav="queue",
        shipments=views.queue(s, who.location_id, words_for(request)),
    )


@router.get("/shipments/{shipment_id}")
async def pick_list(
    shipment_id: str, request: Request, who: StaffDep, s: DbDep, settings: SettingsDep
) -> Response:
    words = words_for(request)
    rec = views.owned_shipment(s, who.location_id, shipment_id)
    if rec is None:
        return _error(request, settings, who, _not_yours(shipment_id, words))
    return _page(
        request,
        settings,
        who,
        "picklist.html",
        nav="queue",
        shipment=views.shipment_view(s, rec, words),
        printed=datetime.now(UTC),
    )


@router.get("/pickups")
async def pickups_page(
    request: Request, who: StaffDep, s: DbDep, settings: SettingsDep
) -> Response:
    return _page(
        request,
        settings,
        who,
        "pickups.html",
        nav="pickups",
        pickups=views.pickups(s, who.location_id),
    )


@router.get("/shipped")
async def shipped_page(
    request: Request, who: StaffDep, s: DbDep, settings: SettingsDep
) -> Response:
    return _page(
        request,
        settings,
        who,
        "shipped.html",
        nav="shipped",
        shipments=views.recently_left(s, who.location_id, words=words_for(request)),
    )


# ---- actions -------------------------------------------------------------------------------


class EventForm(InputModel):
    """One of the buttons of a shipment in the queue."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    event: LocationEventKind
    carrier: str = Field(default="", max_length=50)
    tracking_number: str = Field(default="", max_length=100)
    line_id: str = Field(default="", max_length=64)
    reason: str = Field(default="", max_length=150)


@router.post("/shipments/{shipment_id}/events")
async def shipment_action(
    shipment_id: str,
    request: Request,
    who: StaffDep,
    s: DbDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    """Accept, picked, packed, shipped (carrier + tracking number) or reject (a line with a
    reason: the whole shipment is refused and the order re-routes it elsewhere)."""
    words = words_for(request)
    try:
        form = await _form(request, who)
        rec = views.owned_shipment(s, who.location_id, shipment_id)
        if rec is None:
            raise _not_yours(shipment_id, words)
        event = _event(rec, form, words)
        if problem := views.refusal(rec, event.kind, words):
            raise PortalError(409, problem)
        before = rec.status
        s.close()  # hand the connection back while the order works on it
        try:
            await send_shipment_event(
                client, settings.database_url, rec, event, settings.event_clock_skew
            )
        except RequestValidationError as exc:
            raise PortalError(422, _field_errors(exc)) from exc
        except HTTPException as exc:
            raise PortalError(exc.status_code, str(exc.detail)) from exc
        except OrderRefused as exc:
            raise PortalError(*refusal_answer(exc)) from exc
    except PortalError as exc:
        return _error(request, settings, who, exc)
    status, order_status = await _recorded(settings.database_url, rec, before)
    return _redirect(
        settings,
        "/portal/queue",
        True,
        _outcome(rec.shipment_id, event.kind, before, status, order_status, words),
    )


@router.post("/pickups/{order_id}/handover")
async def hand_over(
    order_id: str,
    request: Request,
    who: StaffDep,
    s: DbDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    """The customer shows the pickup code; the order's workflow checks it (and the store)."""
    words = words_for(request)
    try:
        form = await _form(request, who)
        order = views.pickup_order(s, who.location_id, order_id)
        if order is None:
            message = words.gettext("order %(id)s is not picked up at your store", id=order_id)
            raise PortalError(404, message)
        try:
            confirmation = PickupConfirmation(
                location_id=who.location_id, code=form.get("code", ""), staff=form.get("staff", "")
            )
        except ValidationError as exc:
            raise PortalError(422, _field_errors(exc)) from exc
        s.close()  # hand the connection back while the order works on it
        await _confirm_pickup(client, order, confirmation, request_key(request))
    except PortalError as exc:
        return _error(request, settings, who, exc, back="/portal/pickups")
    done = words.gettext(
        "order %(id)s handed over to %(customer)s", id=order_id, customer=order.customer_name
    )
    return _redirect(settings, "/portal/pickups", True, done)


def _not_yours(shipment_id: str, words: Words) -> PortalError:
    message = words.gettext("shipment %(id)s is not in the queue of your location", id=shipment_id)
    return PortalError(404, message)


def _event(rec: ShipmentRecord, form: dict[str, str], words: Words) -> ShipmentEvent:
    try:
        data = EventForm.model_validate(form)
    except ValidationError as exc:
        raise PortalError(422, _field_errors(exc)) from exc
    if data.event == "shipped":
        missing = [f for f in ("carrier", "tracking_number") if not getattr(data, f)]
        if missing:
            raise PortalError(
                422,
                "; ".join(
                    words.gettext("%(field)s: required to confirm shipped", field=f)
                    for f in missing
                ),
            )
    reason = None
    if data.event == "rejected":
        line = next((ln for ln in rec.lines if ln.get("line_id") == data.line_id), None)
        if line is None:
            message = words.gettext(
                "line_id: %(line)r is not a line of this shipment", line=data.line_id
            )
            raise PortalError(422, message)
        if not data.reason:
            raise PortalError(422, words.gettext("reason: say why the line cannot be shipped"))
        reason = f"line {data.line_id} ({line['sku']}): {data.reason}"
    return ShipmentEvent(
        shipment_id=rec.shipment_id,
        kind=data.event,
        carrier=data.carrier or None,
        tracking_number=data.tracking_number or None,
        reason=reason,
    )


async def _confirm_pickup(
    client: Client,
    order: OrderRecord,
    confirmation: PickupConfirmation,
    request_id: str | None = None,
) -> ActionResult:
    try:
        return await OrderClient(client, order.order_id).confirm_pickup(confirmation, request_id)
    except OrderRefused as exc:
        raise PortalError(*refusal_answer(exc)) from exc


async def _recorded(url: str, rec: ShipmentRecord, before: str) -> tuple[str, str]:
    """The shipment's and order's status once the order recorded the event (or as they are
    when the short wait is over: the page then says it is still on its way)."""
    deadline = time.monotonic() + RECORD_WAIT_S
    while True:
        status, order_status = await run_in_threadpool(_statuses, url, rec)
        if status != before or time.monotonic() >= deadline:
            return status, order_status
        await asyncio.sleep(0.1)


def _statuses(url: str, rec: ShipmentRecord) -> tuple[str, str]:
    with Session(get_engine(url, readonly=True)) as s:  # never in the writers' way
        shipment = s.get(ShipmentRecord, rec.shipment_id)
        order = s.get(OrderRecord, rec.order_id)
        return (shipment.status if shipment else "", order.status if order else "")


def _outcome(
    shipment_id: str, kind: str, before: str, after: str, order_status: str, words: Words
) -> str:
    if after == before:
        return words.gettext(
            "%(id)s: '%(action)s' sent; the order has not recorded it yet, reload in a moment",
            id=shipment_id,
            action=words.label(kind, "portal action"),
        )
    if after in GONE:
        return words.gettext(
            "%(id)s rejected: the order moves it elsewhere; it left your queue", id=shipment_id
        )
    return words.gettext(
        "%(id)s is %(status)s; order status: %(order_status)s",
        id=shipment_id,
        status=words.label(after, "shipment status"),
        order_status=words.label(order_status, "order status"),
    )
