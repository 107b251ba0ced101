"""The customer-service console: server-rendered pages to find an order and act on it.

Agents log in with an API key whose roles (comma-separated in ``api_key.role``) include
``customer_service`` or ``operations``; the session is the portal's kind of signed cookie
(``api.pages.web_session``), naming the key, which is re-read on every request. Operations may
look; acting on an order needs ``customer_service``. Every action calls the same service
function as the JSON API (``api.routes.customer_service``, ``api.routes.returns``), so the
workflow's yes or no, with its reason, is what the flash message says, and a refusal changes
nothing. Every form carries an idempotency key per render (``api.http.idempotency``): the same
form posted twice is one action, its second answer the first one's. Pages and the console's own
messages are in the agent's language (``api.pages.translations``); the workflow's
reasons are its own words.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from temporalio.client import Client

from activities.returns.requests import ReturnRefused
from api import deps
from api.http.auth_keys import active_key, verify_key
from api.http.idempotency import FORM_FIELD, derived_id, request_key
from api.pages.console import views
from api.pages.translations import Words, words_for
from api.pages.web_session import WebArea, WebError, field_errors, read_form, switch_language
from api.services import order_actions
from api.services.order_actions import AssistedOrder
from api.services.returns import start_returns
from core.db.schema import ApiKey
from core.domain.commands import (
    ActionResult,
    CancelLinesRequest,
    CancelRequest,
    ModifyRequest,
    ReleaseNowRequest,
    ReviewDecision,
)
from core.domain.orders import Address
from core.domain.returns import ReturnRequest
from core.settings import Settings
from workflows.order.client import OrderRefused

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
AREA = WebArea("console", "oms_console", "oms_console_flash", "/")  # /console and /dashboard
LOGIN = "/console/login"
CUSTOMER_SERVICE, OPERATIONS = "customer_service", "operations"
STAFF_ROLES = frozenset({CUSTOMER_SERVICE, OPERATIONS})
RETURN_REASONS = [
    "defective",
    "wrong_size",
    "not_as_described",
    "changed_mind",
    "arrived_too_late",
    "other",
]


@dataclass(frozen=True)
class Agent:
    """Who is logged in: a customer-service or operations key, its roles, the form token."""

    key_id: int
    label: str
    roles: frozenset[str]
    csrf: str

    @property
    def can_act(self) -> bool:
        return CUSTOMER_SERVICE in self.roles

    @property
    def name(self) -> str:
        """What the order's event log records as the actor."""
        return (self.label or f"key {self.key_id}")[:64]


def key_roles(key: ApiKey) -> frozenset[str]:
    return frozenset(r.strip() for r in key.role.split(",") if r.strip())


def current_agent(request: Request, s: Session, settings: Settings) -> Agent | None:
    """The session's agent if the cookie is genuine and its key still active and staff."""
    session = AREA.session(request, settings)
    if session is None or not isinstance(session.get("k"), int):
        return None
    key = active_key(s, session["k"])
    if key is None or not key_roles(key) & STAFF_ROLES:
        return None
    return Agent(key.id or 0, key.label, key_roles(key), AREA.csrf(settings, session))


def agent(
    request: Request,
    s: Annotated[Session, Depends(deps.db)],
    settings: Annotated[Settings, Depends(deps.settings)],
) -> Agent:
    """Dependency: the logged-in agent, or a redirect to the login page (nothing done)."""
    found = current_agent(request, s, settings)
    if found is None:
        raise HTTPException(303, detail="log in first", headers={"Location": LOGIN})
    return found


AgentDep = Annotated[Agent, Depends(agent)]
DbDep = Annotated[Session, Depends(deps.db)]
SettingsDep = Annotated[Settings, Depends(deps.settings)]
ClientDep = Annotated[Client, Depends(deps.temporal)]


def page(
    request: Request,
    settings: Settings,
    who: Agent | None,
    name: str,
    status: int = 200,
    **context: Any,
) -> Response:
    return AREA.page(request, settings, name, status, agent=who, **context)


# ---- login ---------------------------------------------------------------------------------


@router.get("/language/{lang}")
async def choose_language(lang: str, settings: SettingsDep, back: str = "/console") -> Response:
    """The language switch in the header (console and dashboard): remembered in a cookie."""
    return switch_language(settings, lang, back, "/console")


@router.get("/login")
async def login_page(request: Request, s: DbDep, settings: SettingsDep) -> Response:
    if current_agent(request, s, settings) is not None:
        return RedirectResponse("/console", status_code=303)
    return page(request, settings, None, "console/login.html")


@router.post("/login")
async def login(request: Request, s: DbDep, settings: SettingsDep) -> Response:
    try:
        form = await read_form(request, None)
    except WebError as exc:
        return page(request, settings, None, "console/login.html", exc.status, error=exc.message)
    words = words_for(request)
    key = verify_key(s, form.get("key", "")) if form.get("key", "").strip() else None
    if key is None or not key_roles(key) & STAFF_ROLES:
        return page(
            request,
            settings,
            None,
            "console/login.html",
            401,
            error=words.gettext("key: not a customer-service or operations key"),
        )
    welcome = words.gettext("logged in: %(who)s", who=key.label or key.role)
    resp = AREA.redirect(settings, "/console", True, welcome)
    AREA.log_in(resp, settings, {"k": key.id, "n": secrets.token_hex(8)})
    return resp


@router.post("/logout")
async def logout(request: Request, who: AgentDep, settings: SettingsDep) -> Response:
    try:
        await read_form(request, who.csrf)
    except WebError as exc:
        return page(request, settings, who, "console/error.html", exc.status, message=exc.message)
    resp = AREA.redirect(settings, LOGIN, True, words_for(request).gettext("logged out"))
    AREA.log_out(resp)
    return resp


# ---- pages ---------------------------------------------------------------------------------


@router.get("")
async def search_page(
    request: Request, who: AgentDep, s: DbDep, settings: SettingsDep, q: str = ""
) -> Response:
    return page(
        request,
        settings,
        who,
        "console/search.html",
        nav="search",
        q=q,
        orders=views.search(s, q[:200]),
    )


@router.get("/orders/{order_id}")
async def order_page(
    order_id: str,
    request: Request,
    who: AgentDep,
    s: DbDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    words = words_for(request)
    view = views.order_page(s, order_id)
    if view is None:
        message = words.gettext("order %(id)s not found", id=order_id)
        return page(request, settings, who, "console/error.html", 404, message=message)
    wf = await views.workflow_state(client, order_id, words)
    return page(
        request,
        settings,
        who,
        "console/order.html",
        nav="search",
        o=view,
        wf=wf,
        running=wf.running,
        wf_status=wf.status,
        waiting=wf.waiting,
        reasons=RETURN_REASONS,
    )


@router.get("/new")
async def new_order_page(request: Request, who: AgentDep, settings: SettingsDep) -> Response:
    return page(request, settings, who, "console/new.html", nav="new", form={})


# ---- actions -------------------------------------------------------------------------------

Action = Callable[[dict[str, str], Words], Awaitable[str]]


async def _act(
    request: Request, who: Agent, settings: Settings, back: str, action: Action
) -> Response:
    """Run one action from a posted form and redirect with its outcome as the flash (in the
    agent's language; a refusal's reason in the words of whoever refused)."""
    words = words_for(request)
    try:
        form = await read_form(request, who.csrf, max_fields=40)
        if not who.can_act:
            no = words.gettext("this key may look but not act (role customer_service needed)")
            raise WebError(403, no)
        message = await action(form, words)
    except WebError as exc:
        why = exc.message
    except HTTPException as exc:
        why = str(exc.detail)
    except OrderRefused as exc:
        why = exc.reason
    except (RequestValidationError, ValidationError) as exc:
        why = field_errors(exc)
    else:
        return AREA.redirect(settings, back, True, message)
    return AREA.redirect(settings, back, False, words.gettext("refused: %(why)s", why=why))


def _outcome(what: str, result: ActionResult, words: Words) -> str:
    """The workflow's answer to an action: its message, the order's status and total, and
    what was voided or refunded."""
    money = []
    if result.voided_cents:
        money.append(words.gettext("voided %(amount)s", amount=words.money(result.voided_cents)))
    if result.refunded_cents:
        refunded = words.money(result.refunded_cents)
        money.append(words.gettext("refunded %(amount)s", amount=refunded))
    said = words.gettext(
        "%(action)s: %(message)s; status %(status)s, total %(total)s",
        action=what,
        message=result.message,
        status=words.label(result.status, "order status"),
        total=words.money(result.total_cents),
    )
    return said + (f" ({', '.join(money)})" if money else "")


@router.post("/orders/{order_id}/cancel")
async def cancel(
    order_id: str,
    request: Request,
    who: AgentDep,
    s: DbDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    async def run(form: dict[str, str], words: Words) -> str:
        body = CancelRequest(agent=who.name, reason=form.get("reason", ""))
        return _outcome(
            words.pgettext("action", "cancel"),
            await order_actions.cancel(s, client, order_id, body, request_key(request)),
            words,
        )

    return await _act(request, who, settings, f"/console/orders/{order_id}", run)


@router.post("/orders/{order_id}/cancel-lines")
async def cancel_lines(
    order_id: str,
    request: Request,
    who: AgentDep,
    s: DbDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    async def run(form: dict[str, str], words: Words) -> str:
        body = CancelLinesRequest.model_validate(
            {
                "agent": who.name,
                "reason": form.get("reason", ""),
                "lines": [{"line_id": form.get("line_id", ""), "quantity": form.get("quantity")}],
            }
        )
        done = await order_actions.cancel_lines(s, client, order_id, body, request_key(request))
        return _outcome(words.pgettext("action", "cancel lines"), done, words)

    return await _act(request, who, settings, f"/console/orders/{order_id}", run)


@router.post("/orders/{order_id}/modify")
async def modify(
    order_id: str,
    request: Request,
    who: AgentDep,
    s: DbDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    async def run(form: dict[str, str], words: Words) -> str:
        data: dict[str, Any] = {"agent": who.name, "reason": form.get("reason", "")}
        fields = ("name", "street", "postcode", "city")
        if any(form.get(f, "").strip() for f in fields):
            rec = views.order_page(s, order_id)
            current = rec.address if rec else {}
            data["delivery_address"] = Address.model_validate(
                {f: form.get(f, "").strip() or current.get(f, "") for f in fields}
            )
        if form.get("shipping_speed"):
            data["shipping_speed"] = form["shipping_speed"]
        if form.get("delivery_instructions", "").strip():
            data["delivery_instructions"] = form["delivery_instructions"]
        body = ModifyRequest.model_validate(data)
        done = await order_actions.modify(s, client, order_id, body, request_key(request))
        return _outcome(words.pgettext("action", "modify"), done, words)

    return await _act(request, who, settings, f"/console/orders/{order_id}", run)


@router.post("/orders/{order_id}/release-now")
async def release_now(
    order_id: str,
    request: Request,
    who: AgentDep,
    s: DbDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    async def run(form: dict[str, str], words: Words) -> str:
        body = ReleaseNowRequest(agent=who.name, reason=form.get("reason", ""))
        done = await order_actions.release_now(s, client, order_id, body, request_key(request))
        return _outcome(words.pgettext("action", "release now"), done, words)

    return await _act(request, who, settings, f"/console/orders/{order_id}", run)


@router.post("/orders/{order_id}/review")
async def review(
    order_id: str,
    request: Request,
    who: AgentDep,
    s: DbDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Response:
    async def run(form: dict[str, str], words: Words) -> str:
        if form.get("decision") not in ("approve", "reject"):
            raise WebError(422, words.gettext("decision: approve or reject"))
        body = ReviewDecision(
            agent=who.name, reason=form.get("reason", ""), approve=form["decision"] == "approve"
        )
        done = await order_actions.review(s, client, order_id, body, request_key(request))
        what = (
            words.pgettext("action", "review approve")
            if body.approve
            else words.pgettext("action", "review reject")
        )
        return _outcome(what, done, words)

    return await _act(request, who, settings, f"/console/orders/{order_id}", run)


@router.post("/orders/{order_id}/returns")
async def start_return(
    order_id: str, request: Request, who: AgentDep, settings: SettingsDep, client: ClientDep
) -> Response:
    async def run(form: dict[str, str], words: Words) -> str:
        req = ReturnRequest.model_validate(
            {
                "lines": [
                    {
                        "line_id": form.get("line_id", ""),
                        "quantity": form.get("quantity"),
                        "reason": form.get("reason", ""),
                        "note": form.get("note", ""),
                    }
                ]
            }
        )
        try:
            records = await start_returns(
                settings, client, order_id, req, "mail", requested_by=who.name
            )
        except ReturnRefused as exc:
            raise WebError(exc.status, str(exc)) from exc
        opened = ", ".join(
            words.gettext("%(id)s to %(destination)s", id=r.return_id, destination=r.destination_id)
            for r in records
        )
        return words.gettext("return opened: %(returns)s", returns=opened)

    return await _act(request, who, settings, f"/console/orders/{order_id}", run)


@router.post("/new")
async def place_order(
    request: Request, who: AgentDep, settings: SettingsDep, client: ClientDep
) -> Response:
    """An order placed for a customer on the phone or in a store; the agent is recorded."""
    placed: list[str] = []

    async def run(form: dict[str, str], words: Words) -> str:
        order_id = form.get("order_id", "").strip() or _new_order_id(form)
        address = {f: form.get(f, "").strip() for f in ("name", "street", "postcode", "city")}
        body = AssistedOrder.model_validate(
            {
                "agent": who.name,
                "order_id": order_id,
                "channel": form.get("channel", "phone"),
                "customer": {
                    "id": form.get("customer_id", "").strip()
                    or f"C-{uuid.uuid5(uuid.NAMESPACE_URL, form.get('email', '')).hex[:10]}",
                    "email": form.get("email", "").strip(),
                    "name": address["name"],
                    "locale": form.get("locale", "de"),
                },
                "delivery_address": address,
                "lines": _lines(form.get("lines", ""), words),
                "shipping_speed": form.get("shipping_speed", "standard"),
                "payment_method": form.get("payment_method", "invoice"),
            }
        )
        accepted = await order_actions.place_for_customer(body, settings, client)
        placed.append(accepted.order_id)
        return words.gettext(
            "order %(id)s placed for %(name)s", id=accepted.order_id, name=address["name"]
        )

    resp = await _act(request, who, settings, "/console/new", run)
    if placed:
        resp.headers["Location"] = f"/console/orders/{placed[0]}"
    return resp


def _new_order_id(form: dict[str, str]) -> str:
    """An order number for a form without one, made from the form's idempotency key: the same
    form sent twice (a double click, a reload) places the same order, never a second one."""
    key = form.get(FORM_FIELD, "")
    return f"CS-{derived_id(key) if key else uuid.uuid4().hex[:10].upper()}"


def _lines(text: str, words: Words) -> list[dict[str, Any]]:
    """``SKU quantity`` per line (quantity 1 if left out)."""
    out = []
    for raw in text.replace(",", "\n").splitlines():
        parts = raw.split()
        if not parts:
            continue
        qty = parts[1] if len(parts) > 1 else "1"
        if not qty.isdigit():
            message = words.gettext("lines: %(line)r is not 'SKU quantity'", line=raw.strip())
            raise WebError(422, message)
        out.append({"sku": parts[0], "quantity": int(qty)})
    if not out:
        raise WebError(422, words.gettext("lines: at least one 'SKU quantity'"))
    return out
