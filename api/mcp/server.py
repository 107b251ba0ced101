"""The OMS's MCP server: the tools a phone or chat bot (any MCP client) uses to answer a
customer, served by the API process over streamable HTTP at ``/mcp`` and over stdio
(``python -m api.mcp``) for desktop clients.

Every tool goes through the same services as the REST API and the self-service page
(``api.services.order_actions``, ``api.services.returns``, the promise service), so the order's
workflow validates each change with its own Update validators and refuses in its own words; the
agent gets that text as the tool's error. Who may see what is ``api.mcp.callers``; what the
answers say, in the customer's language, is ``api.mcp.answers``.

What the agent can never do here: see another customer's orders (the same answer as an unknown
order), change money directly (no refund, payment, price or voucher tool), decide a review, or
reach any staff endpoint (the ``agent`` role is allowed nowhere else: 403).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field, ValidationError
from sqlmodel import Session, col, func, select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.client import Client

from activities.messaging.templates import euro, local_date
from activities.returns.requests import ReturnRefused, returnable
from activities.stock.promise import CartLine, PromiseInvalid, PromiseRequest, promise
from api.http.errors import refusal_answer
from api.http.security import Principal, caller_of
from api.mcp import answers, callers, records
from api.mcp.answers import (
    ActionAnswer,
    CustomerOrders,
    HandedOver,
    OrderStatusAnswer,
    PromiseAnswer,
    ReturnStarted,
    Verification,
)
from api.mcp.callers import NotAllowed
from api.mcp.callers import Scope as CallerScope
from api.services import order_actions
from api.services.returns import start_returns
from core.db.engine import get_engine
from core.db.schema import OrderRecord, ReturnRecord, ShipmentRecord
from core.domain.commands import (
    ActionResult,
    CancelLinesRequest,
    CancelRequest,
    LineQuantity,
    ModifyRequest,
)
from core.domain.inputs import Locale
from core.domain.orders import TERMINAL_STATUSES, Address, OrderInput, OrderState, Speed
from core.domain.returns import ReturnInput, ReturnLineRequest, ReturnRequest
from core.domain.shipments import GONE
from core.settings import Settings
from workflows.order.client import OrderClient, OrderRefused

PATH = "/mcp"
QUERY_TIMEOUT = timedelta(seconds=5)
ASKED = ("cancel", "cancel_lines", "modify")
"""The order's own answers (its ``actions`` query) that the agent's tools depend on."""

INSTRUCTIONS = """\
Order tools of the shop's order management system, for answering a customer by phone or chat.

1. Verify the caller first: ask for the order number and either the e-mail address or the
   delivery postcode (or the link from an order e-mail), then call verify-customer. Pass the
   `verification` it returns to every other tool. It opens only this customer's orders; an
   order of anyone else answers exactly like an order that does not exist. Never guess: wrong
   answers are counted and, after a few, the check is paused.
2. Answer in the customer's language (`locale`); the tools' texts, amounts and dates already
   are. Read `summary` and `waiting_for` of get-order out rather than the raw codes.
3. Before you cancel, change or start a return, say what will happen and get a clear yes.
   A refusal comes with the order's own reason: pass it on, do not try around it.
4. Anything you cannot do (money, complaints, a caller you cannot verify): hand-over-to-human
   with a short summary of the conversation.
Every change is recorded in the order's history under this agent's name."""

VERIFICATION_ARG = Annotated[
    str,
    Field(
        description="the `verification` verify-customer returned (customer-bound sessions); "
        "staff-assist sessions (a customer-service key) may leave it empty"
    ),
]
ORDER_ARG = Annotated[str, Field(min_length=1, max_length=64, description="the order number")]
REASON_ARG = Annotated[
    str, Field(max_length=300, description="why, in the customer's words (for the order history)")
]
REQUEST_ARG = Annotated[
    str,
    Field(
        max_length=100,
        description="your id for this one action (any unique text); send the same id when you "
        "retry it after an error or a lost answer: the order then does it once",
    ),
]
DEFAULT_REASON = "asked by the customer"


def _update_id(scope: CallerScope, request_id: str) -> str | None:
    """The order's Update id for an agent's action: the same id twice is one action (Temporal
    answers the repeat with the first result). Namespaced by the agent's key, so two agents'
    ids never meet."""
    return f"mcp:{scope.actor}:{request_id}" if request_id else None


@dataclass(frozen=True)
class Runtime:
    """What the tools need from the process: settings, the Temporal client, and (stdio only)
    the key the server was started with; over HTTP the key comes with each request."""

    settings: Settings
    temporal: Callable[[], Client]
    principal: Principal | None = None


# ---- the door: API key on every HTTP request ---------------------------------------------------


class Guard:
    """ASGI wrapper of the streamable-HTTP endpoint: an ``agent`` key (customer-bound) or a
    ``customer_service`` key (staff assist) in ``X-API-Key`` or ``Authorization: Bearer``; 401
    without a valid key, 403 for any other role; the caller rides along in the request's
    state to the tools."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        principal = await caller_of(Request(scope, receive))
        if principal is None:
            answer = JSONResponse(
                {"detail": "an API key is needed (header X-API-Key or Authorization: Bearer)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        elif not callers.may_connect(principal):
            answer = JSONResponse(
                {"detail": "the MCP server serves agent and customer-service keys only"},
                status_code=403,
            )
        else:
            scope.setdefault("state", {})["principal"] = principal
            await self.app(scope, receive, send)
            return
        await answer(scope, receive, send)


def mount(app: FastAPI, settings: Settings) -> StreamableHTTPSessionManager:
    """Serve the MCP server at ``/mcp`` of ``app``; the caller runs the returned session
    manager in the app's lifespan (``async with manager.run()``). Stateless: every request
    stands alone (the verification travels with the tool calls), so any replica answers."""
    server = build_server(Runtime(settings, lambda: app.state.temporal))
    server.streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        json_response=True,
        # Every request must carry an API key in a header, which a page in a browser (the
        # DNS-rebinding attack this check guards against) cannot send; public host names work.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager
    app.router.routes.append(
        Route(
            PATH,
            Guard(StreamableHTTPASGIApp(manager)),
            methods=["GET", "POST", "DELETE"],
            include_in_schema=False,
        )
    )
    return manager


# ---- tool plumbing ---------------------------------------------------------------------------


def _principal(ctx: Context, rt: Runtime) -> Principal:
    request = ctx.request_context.request
    state = getattr(request, "scope", {}).get("state", {}) if request is not None else {}
    principal = state.get("principal") if isinstance(state, dict) else None
    principal = principal or rt.principal
    if not isinstance(principal, Principal):
        raise ToolError("no API key: connect with an agent or customer-service key")
    return principal


@contextlib.contextmanager
def _answering() -> Iterator[None]:
    """What may go wrong, as the tool's error text: the caller's scope, the order's refusal
    (its own words), a request it cannot take (each field named)."""
    try:
        yield
    except NotAllowed as exc:
        raise ToolError(str(exc)) from exc
    except OrderRefused as exc:
        raise ToolError(f"The order refused: {refusal_answer(exc)[1]}") from exc
    except ReturnRefused as exc:
        raise ToolError("; ".join(msg for _, msg in exc.errors)) from exc
    except RequestValidationError as exc:
        raise ToolError(_fields(exc.errors())) from exc
    except ValidationError as exc:
        raise ToolError(_fields(exc.errors())) from exc
    except HTTPException as exc:
        raise ToolError(str(exc.detail)) from exc


def _fields(errors: Any) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg', '')}"
        for e in errors
    )


def _session(settings: Settings) -> Session:
    return Session(get_engine(settings.database_url, readonly=True), expire_on_commit=False)


def _reason(scope: CallerScope, reason: str) -> str:
    return f"{reason.strip() or DEFAULT_REASON}; {scope.note}"[:500]


def _action_answer(result: ActionResult, rec: OrderRecord, scope: CallerScope) -> ActionAnswer:
    locale = answers.locale_of(rec)
    return ActionAnswer(
        ok=result.ok,
        message=result.message,
        status=result.status,
        status_text=answers.order_words(result.status, locale),
        total=euro(result.total_cents, locale),
        given_back=euro(result.voided_cents + result.refunded_cents, locale),
        recorded_as=scope.actor,
    )


# ---- the server and its tools ----------------------------------------------------------------


def build_server(rt: Runtime) -> MCPServer:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server: MCPServer = MCPServer("oms-orders", instructions=INSTRUCTIONS, version="1")
    root.handlers[:], root.level = handlers, level  # the SDK's logging.basicConfig: ours rules
    settings = rt.settings

    def scope_of(ctx: Context, verification: str) -> CallerScope:
        return callers.scope_for(settings, _principal(ctx, rt), verification)

    async def visible(scope: CallerScope, order_id: str) -> OrderRecord:
        def look() -> OrderRecord:
            with _session(settings) as s:
                return callers.visible_order(s, scope, order_id)

        return await run_in_threadpool(look)

    @server.tool(
        name="verify-customer",
        description="Verify the caller before anything else: the order number plus the e-mail "
        "address or the delivery postcode the customer gives, or the link from one of the "
        "order's e-mails. Returns the `verification` for every other tool and the customer's "
        "orders. Refuses (always with the same words, whether the order exists or not) when "
        "the details do not match; after several wrong answers for an order number, or from "
        "this agent, it refuses without checking for a while.",
    )
    async def verify_customer(
        ctx: Context,
        order_id: ORDER_ARG,
        email: Annotated[str | None, Field(max_length=320)] = None,
        postcode: Annotated[str | None, Field(max_length=10)] = None,
        link: Annotated[
            str | None, Field(max_length=500, description="the self-service link or its token")
        ] = None,
    ) -> Verification:
        principal = _principal(ctx, rt)
        with _answering():
            verified = await run_in_threadpool(
                callers.verify,
                settings,
                principal,
                order_id,
                email=email,
                postcode=postcode,
                link=link,
            )

            def orders() -> tuple[OrderRecord, list[OrderRecord]]:
                with _session(settings) as s:
                    rec = s.get(OrderRecord, verified.order_id)
                    assert rec is not None
                    return rec, callers.customer_orders(s, verified)

            rec, mine = await run_in_threadpool(orders)
        return Verification(
            verification=callers.grant(settings, principal, verified),
            valid_minutes=settings.agent_verification_ttl_s // 60,
            verified_by=callers.METHOD_WORDS[verified.method],
            customer_name=rec.customer_name,
            locale=answers.locale_of(rec),
            orders=[answers.brief(r) for r in mine],
        )

    @server.tool(
        name="get-orders",
        description="The verified customer's orders, newest first (status and total in the "
        "customer's words). Staff-assist sessions name the customer by e-mail or customer id.",
    )
    async def get_orders(
        ctx: Context,
        verification: VERIFICATION_ARG = "",
        email: Annotated[str | None, Field(max_length=320)] = None,
        customer_id: Annotated[str | None, Field(max_length=64)] = None,
    ) -> CustomerOrders:
        with _answering():
            scope = scope_of(ctx, verification)

            def find() -> list[OrderRecord]:
                with _session(settings) as s:
                    if scope.verified is not None:
                        return callers.customer_orders(s, scope.verified)
                    if not (email or customer_id):
                        raise NotAllowed("name the customer: email or customer_id")
                    query = select(OrderRecord)
                    if email:
                        query = query.where(
                            func.lower(OrderRecord.customer_email) == email.strip().lower()
                        )
                    if customer_id:
                        query = query.where(OrderRecord.customer_id == customer_id)
                    return list(
                        s.exec(query.order_by(col(OrderRecord.created_at).desc()).limit(20)).all()
                    )

            found = await run_in_threadpool(find)
        return CustomerOrders(orders=[answers.brief(r) for r in found])

    @server.tool(
        name="get-order",
        description="Where an order stands, in plain words in the customer's language: what it "
        "waits for, each parcel with its carrier, tracking link and promised date, the items, "
        "what can still be cancelled, changed or returned (and why not), and until when "
        "changes are possible (the release hold). `summary` is the answer to read out. An "
        "order the caller may not see answers like an order that does not exist.",
    )
    async def get_order(
        ctx: Context, order_id: ORDER_ARG, verification: VERIFICATION_ARG = ""
    ) -> OrderStatusAnswer:
        with _answering():
            scope = scope_of(ctx, verification)
            rec = await visible(scope, order_id)
            return await _status_answer(rt, scope, rec)

    @server.tool(
        name="get-delivery-promise",
        description="When an item (SKU) would arrive at a postcode if ordered now, and whether "
        "it can be delivered at all. Needs no verification (the shop shows the same). Refuses "
        "an unknown SKU or a postcode that is not a German five-digit one.",
    )
    async def get_delivery_promise(
        sku: Annotated[str, Field(min_length=1, max_length=64)],
        postcode: Annotated[str, Field(pattern=r"^[0-9]{5}$")],
        quantity: Annotated[int, Field(gt=0, le=100)] = 1,
        speed: Speed = "standard",
        locale: Locale = "de",
    ) -> PromiseAnswer:
        def ask() -> Any:
            with _session(settings) as s:
                return promise(
                    s,
                    PromiseRequest(
                        postcode=postcode,
                        speed=speed,
                        channel="phone",
                        lines=[CartLine(sku=sku, quantity=quantity)],
                    ),
                    settings,
                )

        try:
            found = await run_in_threadpool(ask)
        except PromiseInvalid as exc:
            raise ToolError(_fields(exc.errors)) from exc
        day = local_date(found.promised_delivery, locale) if found.promised_delivery else None
        de = locale == "de"
        if found.deliverable and day:
            text = (
                f"{quantity} × {sku} nach {postcode}: Lieferung bis {day}."
                if de
                else f"{quantity} × {sku} to {postcode}: delivered by {day}."
            )
        else:
            text = (
                f"{quantity} × {sku} kann derzeit nicht nach {postcode} geliefert werden."
                if de
                else f"{quantity} × {sku} cannot be delivered to {postcode} at the moment."
            )
        return PromiseAnswer(
            sku=sku,
            postcode=postcode,
            quantity=quantity,
            deliverable=found.deliverable,
            promised_delivery=day,
            summary=text,
        )

    @server.tool(
        name="cancel-order",
        description="Cancel the whole order; whatever was authorised or paid is given back by "
        "the order itself, and the customer gets an e-mail. Refused (with the order's reason) "
        "once anything has shipped or the order has ended. Get the customer's clear yes first.",
    )
    async def cancel_order(
        ctx: Context,
        order_id: ORDER_ARG,
        verification: VERIFICATION_ARG = "",
        reason: REASON_ARG = "",
        request_id: REQUEST_ARG = "",
    ) -> ActionAnswer:
        with _answering():
            scope = scope_of(ctx, verification)
            rec = await visible(scope, order_id)
            body = CancelRequest(agent=scope.actor, reason=_reason(scope, reason))
            with _session(settings) as s:
                result = await order_actions.cancel(
                    s, rt.temporal(), order_id, body, _update_id(scope, request_id)
                )
            return _action_answer(result, rec, scope)

    @server.tool(
        name="cancel-order-lines",
        description="Cancel some items (line ids and quantities from get-order) that have not "
        "shipped; the money for them is given back and the customer gets an e-mail. Refused "
        "(with the order's reason) for units that have shipped, more units than are left, or "
        "an order that has ended.",
    )
    async def cancel_order_lines(
        ctx: Context,
        order_id: ORDER_ARG,
        lines: Annotated[list[LineQuantity], Field(min_length=1, max_length=100)],
        verification: VERIFICATION_ARG = "",
        reason: REASON_ARG = "",
        request_id: REQUEST_ARG = "",
    ) -> ActionAnswer:
        with _answering():
            scope = scope_of(ctx, verification)
            rec = await visible(scope, order_id)
            body = CancelLinesRequest(agent=scope.actor, reason=_reason(scope, reason), lines=lines)
            with _session(settings) as s:
                result = await order_actions.cancel_lines(
                    s, rt.temporal(), order_id, body, _update_id(scope, request_id)
                )
            return _action_answer(result, rec, scope)

    @server.tool(
        name="update-order",
        description="Change the delivery address and/or the delivery instructions (for the "
        "courier, one line; an empty text removes them) of an order that has not gone to the "
        "warehouse yet (see `changes_possible_until` and `may_change_address` of get-order). "
        "Refused (with the order's reason) once the order is released to fulfilment or has "
        "ended, and for an address the shop cannot deliver to (each field named).",
    )
    async def update_order(
        ctx: Context,
        order_id: ORDER_ARG,
        verification: VERIFICATION_ARG = "",
        delivery_address: Address | None = None,
        delivery_instructions: Annotated[str | None, Field(max_length=200)] = None,
        reason: REASON_ARG = "",
        request_id: REQUEST_ARG = "",
    ) -> ActionAnswer:
        with _answering():
            scope = scope_of(ctx, verification)
            rec = await visible(scope, order_id)
            change: dict[str, Any] = {"agent": scope.actor, "reason": _reason(scope, reason)}
            if delivery_address is not None:
                change["delivery_address"] = delivery_address
            if delivery_instructions is not None:
                change["delivery_instructions"] = delivery_instructions
            if len(change) == 2:
                raise NotAllowed("name what to change: delivery_address or delivery_instructions")
            body = ModifyRequest.model_validate(change)
            with _session(settings) as s:
                result = await order_actions.modify(
                    s, rt.temporal(), order_id, body, _update_id(scope, request_id)
                )
            return _action_answer(result, rec, scope)

    @server.tool(
        name="create-return",
        description="Start a return by mail for delivered items (line ids from get-order, "
        "quantity, reason); answers the return label link(s) to give the customer, who also "
        "gets them by e-mail. Refused (each line named) for items not delivered yet, past the "
        "return window, or more units than are left to return.",
    )
    async def create_return(
        ctx: Context,
        order_id: ORDER_ARG,
        lines: Annotated[list[ReturnLineRequest], Field(min_length=1, max_length=100)],
        verification: VERIFICATION_ARG = "",
    ) -> ReturnStarted:
        with _answering():
            scope = scope_of(ctx, verification)
            rec = await visible(scope, order_id)
            opened = await start_returns(
                settings,
                rt.temporal(),
                order_id,
                ReturnRequest(lines=lines),
                "mail",
                requested_by=scope.actor,
            )
        locale = answers.locale_of(rec)
        views = []
        for r in opened:
            ret = ReturnInput.model_validate(r.payload)
            views.append(answers.return_view(r, ret.label_url, locale))
            await run_in_threadpool(
                records.note_on_order,
                settings.database_url,
                order_id,
                f"return_started_by_agent_{r.return_id}",
                {"return_id": r.return_id, "verification": scope.note},
                scope.actor,
            )
        de = locale == "de"
        text = " ".join(
            (
                f"Rücksendung {v.return_id}: Erstattung {v.refund}, Etikett: {v.label_url}."
                if de
                else f"Return {v.return_id}: refund {v.refund}, label: {v.label_url}."
            )
            for v in views
        )
        return ReturnStarted(returns=views, summary=text, recorded_as=scope.actor)

    @server.tool(
        name="hand-over-to-human",
        description="Hand the conversation to a person in customer service: opens a task with "
        "your short summary (what the customer wants, what was done, how to reach them) and, "
        "for a verified caller's order, notes it in the order's history. Use it for what the "
        "tools cannot do (money, complaints, a caller who cannot be verified).",
    )
    async def hand_over_to_human(
        ctx: Context,
        summary: Annotated[str, Field(min_length=1, max_length=2000)],
        verification: VERIFICATION_ARG = "",
        order_id: Annotated[str, Field(max_length=64)] = "",
        callback: Annotated[
            str, Field(max_length=200, description="how to reach the customer, if they said")
        ] = "",
    ) -> HandedOver:
        principal = _principal(ctx, rt)
        with _answering():
            try:
                scope: CallerScope | None = callers.scope_for(settings, principal, verification)
            except NotAllowed:
                scope = None  # an unverified caller: a task without an order
            if order_id and scope is None:
                raise NotAllowed(callers.NEEDS_VERIFICATION)
            rec = await visible(scope, order_id) if order_id and scope is not None else None
            actor = callers.Scope(principal, None).actor
            case_id = await run_in_threadpool(
                lambda: records.hand_over(
                    settings.database_url,
                    actor=actor,
                    verification=scope.note if scope is not None else "caller not verified",
                    summary=summary,
                    callback=callback,
                    order_id=rec.order_id if rec is not None else None,
                    customer_id=rec.customer_id if rec is not None else None,
                )
            )
        return HandedOver(
            case_id=case_id,
            summary="Customer service has the conversation and will take it from here.",
        )

    return server


async def _status_answer(rt: Runtime, scope: CallerScope, rec: OrderRecord) -> OrderStatusAnswer:
    now = datetime.now(UTC)
    locale = answers.locale_of(rec)
    order = OrderInput.model_validate(rec.payload)

    def read() -> tuple[list[ShipmentRecord], list[ReturnRecord], dict[str, int]]:
        with _session(rt.settings) as s:
            shipments = s.exec(
                select(ShipmentRecord)
                .where(ShipmentRecord.order_id == rec.order_id)
                .order_by(col(ShipmentRecord.shipment_id))
            ).all()
            returns = s.exec(
                select(ReturnRecord)
                .where(ReturnRecord.order_id == rec.order_id)
                .order_by(col(ReturnRecord.created_at))
            ).all()
            left = {lid: r.left for lid, r in returnable(s, order, now).items()}
            return list(shipments), list(returns), left

    shipments, returns, left = await run_in_threadpool(read)
    state: OrderState | None = None
    offered: dict[str, str] | None = None
    if rec.status not in TERMINAL_STATUSES:
        orders = OrderClient(rt.temporal(), rec.order_id)
        with contextlib.suppress(Exception):  # a busy or closed workflow: the read model tells
            state = await orders.state(QUERY_TIMEOUT)
            offered = await orders.actions(QUERY_TIMEOUT)
    names = {ln.line_id: f"{ln.name} ({ln.sku})" for ln in order.lines}
    parcels = [answers.parcel(sh, names, locale) for sh in shipments if sh.status not in GONE]
    hold_until = state.hold_until if state is not None else None
    if offered is None:  # ended, or the workflow did not answer in time
        ended = rec.status in TERMINAL_STATUSES
        offered = dict.fromkeys(ASKED, "the order has ended" if ended else "ask again in a moment")
    why = {k: v for k, v in offered.items() if v and k in ASKED}
    answer = OrderStatusAnswer(
        order_id=rec.order_id,
        locale=locale,
        status=rec.status,
        status_text=answers.order_words(rec.status, locale),
        summary="",
        waiting_for=answers.waiting_words(rec, parcels, hold_until, now),
        placed_on=local_date(rec.created_at, locale),
        total=euro(rec.total_cents, locale),
        payment_method=rec.payment_method,
        delivery_address={k: str(v) for k, v in rec.payload.get("delivery_address", {}).items()},
        lines=[
            answers.LineView(
                line_id=ln.line_id,
                item=names[ln.line_id],
                quantity=ln.quantity,
                price=euro(ln.total_cents, locale),
                returnable_units=left.get(ln.line_id, 0),
            )
            for ln in order.lines
        ],
        parcels=parcels,
        returns=[
            answers.return_view(r, ReturnInput.model_validate(r.payload).label_url, locale)
            for r in returns
        ],
        changes_possible_until=(
            answers.when(hold_until, locale)
            if hold_until is not None and hold_until > now
            else None
        ),
        may_cancel="cancel" not in why,
        may_cancel_lines="cancel_lines" not in why,
        may_change_address="modify" not in why,
        why_not=why,
        internal_waiting_for=state.waiting_for if scope.staff and state is not None else None,
    )
    answer.summary = answers.summary(answer)
    return answer
