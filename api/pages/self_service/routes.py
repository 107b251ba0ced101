"""The customer's self-service page of one order, opened by the signed link (no account).

``/my/orders/{order_id}?t=<token>``: status, parcels with tracking links, the delivery address
and the delivery instructions (changeable until the order is released to fulfilment: the order
workflow's ``modify`` Update decides, and the page shows what its ``actions`` query answers,
with the end of the release hold as "changes possible until"), the lines that can still be
returned, starting a return, each return's label, and the order's invoices and credit notes to
download (``.../invoices/<number>.pdf?t=``, same token).
A token of another order, or a tampered one, is refused with 403 and nothing is shown. Each form
carries an idempotency key per render (``api.http.idempotency``): sent twice, it acts once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlmodel import Session, col, select
from temporalio.client import Client

from activities.messaging.templates import euro, local_datetime
from activities.returns.requests import ReturnRefused, returnable
from api import deps
from api.http.errors import refusal_answer
from api.http.idempotency import install_template_global, request_key
from api.pages.web_session import LOCAL_TZ, field_errors
from api.services import order_actions
from api.services.invoices import order_invoices, pdf_response, stored_pdf
from api.services.order_changes import ChangeWindow, change_window
from api.services.returns import label_response, start_returns
from core.db.schema import OrderRecord, ReturnRecord, ShipmentRecord
from core.domain.commands import ActionResult, ModifyRequest
from core.domain.orders import MAX_DELIVERY_INSTRUCTIONS, Address, OrderInput
from core.domain.returns import REASON_LABELS, ReturnInput, ReturnRequest
from core.domain.shipments import GONE
from core.order_tokens import token_valid
from core.settings import Settings
from workflows.order.client import OrderClient, OrderRefused

router = APIRouter(prefix="/my/orders", tags=["self-service"], include_in_schema=False)
TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
TEMPLATES.env.filters["euro"] = euro
install_template_global(TEMPLATES.env)  # {{ idem_field() }}: a fresh key in every posted form
MAX_FORM_BYTES = 16_384

DbDep = Annotated[Session, Depends(deps.db)]
SettingsDep = Annotated[Settings, Depends(deps.settings)]
ClientDep = Annotated[Client, Depends(deps.temporal)]


TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "instructions": "Lieferhinweise",
        "none": "Keine Lieferhinweise angegeben.",
        "label": "Hinweis für die Zustellung, z. B. „bitte beim Nachbarn abgeben“ oder ein "
        "Ablageort",
        "save": "Lieferhinweise speichern",
        "until": "Änderungen möglich bis {when}",
        "open": "Sie können die Lieferhinweise ändern, bis Ihre Bestellung an das Lager geht.",
        "closed": "Die Lieferhinweise können nicht mehr geändert werden: {reason}",
        "unknown": "Ob Ihre Bestellung noch geändert werden kann, lässt sich gerade nicht "
        "prüfen. Bitte versuchen Sie es gleich noch einmal.",
        "done": "Ihre Lieferhinweise wurden geändert.",
        "removed": "Ihre Lieferhinweise wurden entfernt.",
        "unchanged": "Die Lieferhinweise sind unverändert.",
    },
    "en": {
        "instructions": "Delivery instructions",
        "none": "No delivery instructions given.",
        "label": "A note for the delivery, e.g. “leave it with a neighbour” or a drop-off place",
        "save": "Save delivery instructions",
        "until": "Changes possible until {when}",
        "open": "You can change the delivery instructions until your order goes to the warehouse.",
        "closed": "The delivery instructions can no longer be changed: {reason}",
        "unknown": "We cannot check right now whether your order can still be changed. Please "
        "try again in a moment.",
        "done": "Your delivery instructions have been changed.",
        "removed": "Your delivery instructions have been removed.",
        "unchanged": "Your delivery instructions are unchanged.",
    },
}
"""The delivery instructions part of the page, in the customer's language."""


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _order(s: Session, settings: Settings, order_id: str, token: str | None) -> OrderRecord:
    """The order, only for its own token; 403 otherwise (before looking anything up)."""
    if not token_valid(settings.self_service_secret, order_id, token):
        raise Refused(
            403,
            "This link is not valid for this order. Please use the link from your order e-mail.",
        )
    rec = s.get(OrderRecord, order_id)
    if rec is None:
        raise Refused(404, f"Order {order_id} was not found.")
    return rec


def _page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    resp = TEMPLATES.TemplateResponse(request, f"self_service/{name}", context, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return resp


def _error(request: Request, exc: Refused) -> Response:
    return _page(request, "error.html", exc.status, message=exc.message)


def _context(s: Session, rec: OrderRecord, token: str, window: ChangeWindow) -> dict[str, Any]:
    """What the page shows; ``window`` is what the order's workflow says about changes."""
    order = OrderInput.model_validate(rec.payload)
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
    left = returnable(s, order, datetime.now(UTC))
    lines = [{"line": ln, "left": left[ln.line_id].left} for ln in order.lines]
    live = [sh for sh in shipments if sh.status not in GONE]
    texts = TEXTS.get(order.customer.locale, TEXTS["en"])
    return {
        "rec": rec,
        "order": order,
        "token": token,
        "shipments": live,
        "lines": lines,
        "returnable": any(x["left"] for x in lines),
        "returns": [(r, ReturnInput.model_validate(r.payload)) for r in returns],
        "reasons": REASON_LABELS,
        "changeable": window.open,
        "window": window,
        "changes_until": (
            texts["until"].format(
                when=local_datetime(window.until, order.customer.locale, LOCAL_TZ)
            )
            if window.until is not None
            else ""
        ),
        "texts": texts,
        "max_instructions": MAX_DELIVERY_INSTRUCTIONS,
        "invoices": [d for d in order_invoices(s, rec.order_id) if d.has_pdf],
        "q": quote(token),
    }


CHANGES_DONE = ("address", "instructions", "removed", "unchanged")
"""What a redirect after a change may announce (``done=``); anything else names returns."""


@router.get("/{order_id}")
async def order_page(
    order_id: str,
    request: Request,
    s: DbDep,
    settings: SettingsDep,
    client: ClientDep,
    t: str = "",
    done: str = "",
) -> Response:
    try:
        rec = _order(s, settings, order_id, t)
    except Refused as exc:
        return _error(request, exc)
    ctx = _context(s, rec, t, await change_window(client, order_id))
    mine = {r.return_id for r, _ in ctx["returns"]}
    shown = (
        done if done in CHANGES_DONE else ", ".join(x for x in done.split(",") if x in mine)
    )  # only this order's own returns
    return _page(request, "order.html", **ctx, done=shown)


async def _form(request: Request) -> dict[str, str]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise Refused(415, "send the form as application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Refused(413, "form too large")
    return dict(
        parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=300)
    )


def _return_request(order: OrderInput, form: dict[str, str]) -> ReturnRequest:
    """Quantities ``qty_<line>`` and reasons ``reason_<line>`` of the form, as a request."""
    lines = []
    for ln in order.lines:
        raw = form.get(f"qty_{ln.line_id}", "").strip() or "0"
        if not raw.isdigit():
            raise Refused(422, f"qty_{ln.line_id}: a whole number, please")
        if int(raw) > 0:
            lines.append(
                {
                    "line_id": ln.line_id,
                    "quantity": int(raw),
                    "reason": form.get(f"reason_{ln.line_id}", ""),
                }
            )
    if not lines:
        raise Refused(422, "lines: choose at least one item to return")
    try:
        return ReturnRequest.model_validate({"lines": lines})
    except ValidationError as exc:
        raise Refused(
            422,
            "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()),
        ) from exc


@router.post("/{order_id}/returns")
async def start_return(
    order_id: str, request: Request, s: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    form: dict[str, str] = {}
    try:
        form = await _form(request)
        token = form.get("t", "")
        rec = _order(s, settings, order_id, token)
        req = _return_request(OrderInput.model_validate(rec.payload), form)
        s.close()
        try:
            opened = await start_returns(
                settings, client, order_id, req, "mail", requested_by="customer"
            )
        except ReturnRefused as exc:
            raise Refused(exc.status, "; ".join(msg for _, msg in exc.errors)) from exc
    except Refused as exc:
        if exc.status in (403, 404, 413, 415):
            return _error(request, exc)
        rec = _order(s, settings, order_id, form.get("t", ""))
        ctx = _context(s, rec, form.get("t", ""), await change_window(client, order_id))
        return _page(request, "order.html", exc.status, **ctx, error=exc.message, done="")
    done = ",".join(r.return_id for r in opened)
    return RedirectResponse(
        f"/my/orders/{order_id}?t={quote(token)}&done={quote(done)}#returns", status_code=303
    )


@router.get("/{order_id}/returns/{return_id}/label.pdf")
async def label(
    order_id: str, return_id: str, request: Request, s: DbDep, settings: SettingsDep, t: str = ""
) -> Response:
    try:
        _order(s, settings, order_id, t)
        rec = s.get(ReturnRecord, return_id)
        if rec is None or rec.order_id != order_id:
            raise Refused(404, f"Return {return_id} is not one of this order's returns.")
    except Refused as exc:
        return _error(request, exc)
    return await run_in_threadpool(label_response, rec)


@router.get("/{order_id}/invoices/{number}.pdf")
def invoice(
    order_id: str, number: str, request: Request, s: DbDep, settings: SettingsDep, t: str = ""
) -> Response:
    """An invoice or credit note of this order; the token opens this order's documents only."""
    try:
        _order(s, settings, order_id, t)
        row, pdf = stored_pdf(s, order_id, number)
        if row is None or pdf is None:
            raise Refused(404, f"Invoice {number} is not one of this order's documents (yet).")
    except Refused as exc:
        return _error(request, exc)
    return pdf_response(row.number, pdf)


@router.post("/{order_id}/delivery")
async def change_delivery(
    order_id: str, request: Request, s: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    """A new delivery address; the order's workflow refuses it once anything is released."""
    try:
        form = await _form(request)
        token = form.get("t", "")
        _order(s, settings, order_id, token)
        try:
            address = Address.model_validate(
                {k: form.get(k, "") for k in ("name", "street", "postcode", "city")}
            )
        except ValidationError as exc:
            raise Refused(
                422,
                "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
                ),
            ) from exc
        s.close()
        await _modify(
            client,
            order_id,
            ModifyRequest(
                agent="customer",
                reason="changed on the self-service page",
                delivery_address=address,
            ),
            request_key(request),
        )
    except Refused as exc:
        return _error(request, exc)
    return RedirectResponse(f"/my/orders/{order_id}?t={quote(token)}&done=address", status_code=303)


@router.post("/{order_id}/delivery-instructions")
async def change_instructions(
    order_id: str, request: Request, s: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    """New delivery instructions ("" removes them): the order workflow's ``modify`` Update,
    by the customer, with its e-mail and event-log entry; the order refuses it once released.
    Bad text is 422 naming the field, on the page with what was typed; nothing changes."""
    form: dict[str, str] = {}
    try:
        form = await _form(request)
        token = form.get("t", "")
        rec = _order(s, settings, order_id, token)
        if "delivery_instructions" not in form:  # an empty field removes them; none is no form
            raise Refused(422, "delivery_instructions: Field required")
        try:
            body = ModifyRequest.model_validate(
                {
                    "agent": "customer",
                    "reason": "changed on the self-service page",
                    "delivery_instructions": form["delivery_instructions"],
                }
            )
            assert body.delivery_instructions is not None
            current = OrderInput.model_validate(rec.payload).delivery_instructions or ""
            if body.delivery_instructions == current:
                done = "unchanged"  # nothing to change: no Update, no e-mail
            else:
                await order_actions.modify(s, client, order_id, body, request_key(request))
                done = "instructions" if body.delivery_instructions else "removed"
        except (ValidationError, RequestValidationError) as exc:
            raise Refused(422, field_errors(exc)) from exc
        except OrderRefused as exc:
            raise Refused(*refusal_answer(exc)) from exc
    except Refused as exc:
        if exc.status in (403, 404, 413, 415):
            return _error(request, exc)
        rec = _order(s, settings, order_id, form.get("t", ""))
        ctx = _context(s, rec, form.get("t", ""), await change_window(client, order_id))
        return _page(
            request,
            "order.html",
            exc.status,
            **ctx,
            error=exc.message,
            done="",
            typed=form.get("delivery_instructions"),
        )
    return RedirectResponse(
        f"/my/orders/{order_id}?t={quote(token)}&done={done}#instructions", status_code=303
    )


async def _modify(
    client: Client, order_id: str, request: ModifyRequest, request_id: str | None = None
) -> ActionResult:
    try:
        return await OrderClient(client, order_id).modify(request, request_id)
    except OrderRefused as exc:
        raise Refused(*refusal_answer(exc)) from exc
