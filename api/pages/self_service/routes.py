"""The customer's self-service page of one order, opened by the signed link (no account).

``/my/orders/{order_id}?t=<token>``: status, parcels with tracking links, the delivery address
and the delivery instructions (changeable until the order is released to fulfilment: the order
workflow's ``modify`` Update decides, and the page shows what its ``actions`` query answers,
with the end of the release hold as "changes possible until"), the lines that can still be
returned, starting a return, each return's label, and the order's invoices and credit notes to
download (``.../invoices/<number>.pdf?t=``, same token).
A token of another order, or a tampered one, is refused with 403 and nothing is shown. Each form
carries an idempotency key per render (``api.http.idempotency``): sent twice, it acts once.

The page speaks the customer's language: the order's ``customer.locale`` (German or English)
unless the customer picked the other with the switch at the top right (kept a year in the
cookie ``oms_my_lang``, sent to ``/my/`` only; the staff pages' ``oms_lang`` is another). A page
with no order to ask (a link that is not valid) speaks the cookie's language, else the
browser's, else German. Its texts are the ``customer`` catalogue (``api.pages.translations``),
statuses and the workflow's refusals are put into the customer's words
(``api.pages.self_service.words``), money and dates are written by babel as in the e-mails.
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

from activities.returns.requests import ReturnRefused, returnable
from api import deps
from api.http.errors import refusal_answer
from api.http.idempotency import install_template_global, request_key
from api.pages import translations
from api.pages.self_service import views
from api.pages.self_service import words as said
from api.pages.translations import (
    CUSTOMER,
    CUSTOMER_LANGUAGES,
    DEFAULT_LANGUAGE,
    N_,
    Words,
    from_accept_language,
    safe_back,
)
from api.services import order_actions
from api.services.invoices import order_invoices, pdf_response, stored_pdf
from api.services.order_changes import ChangeWindow, change_window
from api.services.returns import label_response, start_returns
from core.db.schema import OrderRecord, ReturnRecord, ShipmentRecord
from core.domain.commands import ActionResult, ModifyRequest
from core.domain.orders import MAX_DELIVERY_INSTRUCTIONS, Address, OrderInput
from core.domain.returns import ReturnRequest
from core.order_tokens import token_valid
from core.settings import Settings
from workflows.order.client import OrderClient, OrderRefused

router = APIRouter(prefix="/my", tags=["self-service"], include_in_schema=False)
TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
translations.install(TEMPLATES.env)  # {{ _("...") }}, |euro, |long_date, |long_when per language
install_template_global(TEMPLATES.env)  # {{ idem_field() }}: a fresh key in every posted form
MAX_FORM_BYTES = 16_384
LANGUAGE_COOKIE = "oms_my_lang"
"""The customer's pick of the switch; the staff pages' ``oms_lang`` is another cookie."""
LANGUAGE_COOKIE_PATH = "/my/"

DbDep = Annotated[Session, Depends(deps.db)]
SettingsDep = Annotated[Settings, Depends(deps.settings)]
ClientDep = Annotated[Client, Depends(deps.temporal)]

NOT_VALID = N_("This link is not valid for this order. Please use the link from your order e-mail.")
NOTHING_CHANGED = N_("Nothing was changed.")


class Refused(Exception):
    """What the page cannot do, shown with its HTTP status: ``message`` an English text of the
    catalogue (marked ``N_``) with its values, put into the customer's language when shown."""

    def __init__(self, status: int, message: str, /, **values: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.values = status, message, values

    def said(self, words: Words) -> str:
        return words.gettext(self.message, **self.values)


class Said(Refused):
    """A refusal already in the customer's words."""

    def said(self, words: Words) -> str:
        return self.message


# ---- the customer's language -----------------------------------------------------------------


def language_of(request: Request, order_locale: str | None) -> str:
    """The switch's pick (cookie), else the order's language, else (no order to ask) the
    browser's, else German."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in CUSTOMER_LANGUAGES:
        return chosen
    if order_locale in CUSTOMER_LANGUAGES:
        return str(order_locale)
    header = request.headers.get("accept-language", "")
    return from_accept_language(header, CUSTOMER_LANGUAGES) or DEFAULT_LANGUAGE


def words_for(request: Request, order_locale: str | None = None) -> Words:
    return Words(language_of(request, order_locale), CUSTOMER.name)


def switch(words: Words, back: str) -> list[tuple[str, str, str, bool]]:
    """The header's language switch: (code, its name in itself, the link that picks it and
    comes back to ``back``, whether it is this one) per language of the page."""
    to = quote(back, safe="/")
    return [
        (lang, Words(lang).name, f"/my/language/{lang}?back={to}", lang == words.lang)
        for lang in CUSTOMER_LANGUAGES
    ]


@router.get("/language/{lang}")
def pick_language(lang: str, request: Request, settings: SettingsDep, back: str = "") -> Response:
    """The switch: keep ``lang`` a year (for every order's page in this browser) and go back
    to the order's page it was picked on; only ever to a page of ``/my/orders/``."""
    target = safe_back(back, "")
    if not target.startswith("/my/orders/"):
        return _error(request, Refused(400, NOT_VALID))
    resp = RedirectResponse(target, status_code=303)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"  # the token is in ``back``
    if lang in CUSTOMER_LANGUAGES:
        resp.set_cookie(
            LANGUAGE_COOKIE,
            lang,
            max_age=translations.LANGUAGE_COOKIE_DAYS * 86_400,
            path=LANGUAGE_COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=settings.base_url.startswith("https"),
        )
    return resp


# ---- the page ----------------------------------------------------------------------------------


def _order(s: Session, settings: Settings, order_id: str, token: str | None) -> OrderRecord:
    """The order, only for its own token; 403 otherwise (before looking anything up)."""
    if not token_valid(settings.self_service_secret, order_id, token):
        raise Refused(403, NOT_VALID)
    rec = s.get(OrderRecord, order_id)
    if rec is None:
        raise Refused(
            404,
            N_("We cannot find order %(order)s. Please use the link from your order e-mail."),
            order=order_id,
        )
    return rec


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A template in ``context["words"]``'s language, with the switch when the page has an
    address to come back to (``here``)."""
    words: Words = context["words"]
    back = context.get("here", "")
    context = {"switch": switch(words, back) if back else [], **context}
    resp = TEMPLATES.TemplateResponse(request, f"self_service/{name}", context, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    resp.headers["Content-Language"] = words.lang
    return resp


def _error(request: Request, exc: Refused, words: Words | None = None) -> Response:
    """The refusal on a page of its own; a link that was followed (GET) can be switched to
    the other language and comes back to itself."""
    words = words or words_for(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    back = here if request.method == "GET" and here.startswith("/my/orders/") else ""
    context = {"words": words, "message": exc.said(words), "here": back}
    return _page(request, "error.html", context, exc.status)


def _context(
    s: Session,
    rec: OrderRecord,
    order: OrderInput,
    token: str,
    window: ChangeWindow,
    words: Words,
    **extra: Any,
) -> dict[str, Any]:
    """What the page shows; ``window`` is what the order's workflow says about changes."""
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
    return views.page(
        words,
        order=order,
        status=rec.status,
        token=token,
        window=window,
        shipments=shipments,
        returns=returns,
        left=returnable(s, order, datetime.now(UTC)),
        invoices=order_invoices(s, rec.order_id),
        **extra,
    )


async def _again(
    request: Request,
    s: Session,
    settings: Settings,
    client: Client,
    order_id: str,
    token: str,
    exc: Refused,
    **extra: Any,
) -> Response:
    """The order's page once more, with why the form did nothing (and its status)."""
    if exc.status in (403, 404, 413, 415):
        return _error(request, exc)
    rec = _order(s, settings, order_id, token)
    order = OrderInput.model_validate(rec.payload)
    words = words_for(request, order.customer.locale)
    window = await change_window(client, order_id)
    ctx = _context(s, rec, order, token, window, words, error=exc.said(words), **extra)
    return _page(request, "order.html", ctx, exc.status)


@router.get("/orders/{order_id}")
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
    order = OrderInput.model_validate(rec.payload)
    words = words_for(request, order.customer.locale)
    window = await change_window(client, order_id)
    ctx = _context(s, rec, order, t, window, words, done=done)
    return _page(request, "order.html", ctx)


async def _form(request: Request) -> dict[str, str]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise Refused(415, N_("Please send the form from your order's page."))
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Refused(413, N_("The form is too large."))
    return dict(
        parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=300)
    )


def _return_request(words: Words, order: OrderInput, form: dict[str, str]) -> ReturnRequest:
    """Quantities ``qty_<line>`` and reasons ``reason_<line>`` of the form, as a request."""
    lines = []
    for ln in order.lines:
        raw = form.get(f"qty_{ln.line_id}", "").strip() or "0"
        if not raw.isdigit():
            raise Refused(422, N_("Please enter how many of “%(item)s” to return."), item=ln.name)
        if int(raw) > 0:
            lines.append(
                {
                    "line_id": ln.line_id,
                    "quantity": int(raw),
                    "reason": form.get(f"reason_{ln.line_id}", ""),
                }
            )
    if not lines:
        raise Refused(422, N_("Please choose at least one item to return."))
    try:
        return ReturnRequest.model_validate({"lines": lines})
    except ValidationError as exc:
        raise Said(422, said.form_problems(words, exc.errors())) from exc


@router.post("/orders/{order_id}/returns")
async def start_return(
    order_id: str, request: Request, s: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    form: dict[str, str] = {}
    try:
        form = await _form(request)
        token = form.get("t", "")
        rec = _order(s, settings, order_id, token)
        order = OrderInput.model_validate(rec.payload)
        words = words_for(request, order.customer.locale)
        req = _return_request(words, order, form)
        s.close()
        try:
            opened = await start_returns(
                settings, client, order_id, req, "mail", requested_by="customer"
            )
        except ReturnRefused as exc:
            left = returnable(s, order, datetime.now(UTC))
            why = said.return_problems(words, order, req, left, exc.errors)
            raise Said(exc.status, why) from exc
    except Refused as exc:
        return await _again(request, s, settings, client, order_id, form.get("t", ""), exc)
    done = ",".join(r.return_id for r in opened)
    return RedirectResponse(
        f"{views.order_link(order_id, token)}&done={quote(done)}#returns", status_code=303
    )


@router.get("/orders/{order_id}/returns/{return_id}/label.pdf")
async def label(
    order_id: str, return_id: str, request: Request, s: DbDep, settings: SettingsDep, t: str = ""
) -> Response:
    try:
        _order(s, settings, order_id, t)
        rec = s.get(ReturnRecord, return_id)
        if rec is None or rec.order_id != order_id:
            raise Refused(
                404, N_("Return %(id)s is not one of this order's returns."), id=return_id
            )
    except Refused as exc:
        return _error(request, exc)
    return await run_in_threadpool(label_response, rec)


@router.get("/orders/{order_id}/invoices/{number}.pdf")
def invoice(
    order_id: str, number: str, request: Request, s: DbDep, settings: SettingsDep, t: str = ""
) -> Response:
    """An invoice or credit note of this order; the token opens this order's documents only."""
    try:
        _order(s, settings, order_id, t)
        row, pdf = stored_pdf(s, order_id, number)
        if row is None or pdf is None:
            raise Refused(
                404,
                N_("Document %(number)s is not one of this order's documents (yet)."),
                number=number,
            )
    except Refused as exc:
        return _error(request, exc)
    return pdf_response(row.number, pdf)


def _refused(words: Words, exc: OrderRefused) -> Said:
    """The order said no: its status, in the customer's words."""
    status, reason = refusal_answer(exc)
    why = said.refusal(words, reason, exc.order_id)
    return Said(status, f"{words.gettext(NOTHING_CHANGED)} {why}")


@router.post("/orders/{order_id}/delivery")
async def change_delivery(
    order_id: str, request: Request, s: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    """A new delivery address; the order's workflow refuses it once anything is released.
    Bad input (422) and a refusal (409) are shown on the page; nothing changes."""
    form: dict[str, str] = {}
    try:
        form = await _form(request)
        token = form.get("t", "")
        rec = _order(s, settings, order_id, token)
        words = words_for(request, OrderInput.model_validate(rec.payload).customer.locale)
        try:
            address = Address.model_validate(
                {k: form.get(k, "") for k in ("name", "street", "postcode", "city")}
            )
        except ValidationError as exc:
            raise Said(422, said.form_problems(words, exc.errors())) from exc
        s.close()
        await _modify(
            words,
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
        return await _again(request, s, settings, client, order_id, form.get("t", ""), exc)
    return RedirectResponse(
        f"{views.order_link(order_id, token)}&done=address#delivery", status_code=303
    )


@router.post("/orders/{order_id}/delivery-instructions")
async def change_instructions(
    order_id: str, request: Request, s: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    """New delivery instructions ("" removes them): the order workflow's ``modify`` Update,
    by the customer, with its e-mail and event-log entry; the order refuses it once released.
    Bad text is 422, said on the page with what was typed; nothing changes."""
    form: dict[str, str] = {}
    try:
        form = await _form(request)
        token = form.get("t", "")
        rec = _order(s, settings, order_id, token)
        current = OrderInput.model_validate(rec.payload)
        words = words_for(request, current.customer.locale)
        if "delivery_instructions" not in form:  # an empty field removes them; none is no form
            missing = [{"loc": ("delivery_instructions",), "type": "missing"}]
            raise Said(422, said.form_problems(words, missing))
        try:
            body = ModifyRequest.model_validate(
                {
                    "agent": "customer",
                    "reason": "changed on the self-service page",
                    "delivery_instructions": form["delivery_instructions"],
                }
            )
            assert body.delivery_instructions is not None
            if body.delivery_instructions == (current.delivery_instructions or ""):
                done = "unchanged"  # nothing to change: no Update, no e-mail
            else:
                await order_actions.modify(s, client, order_id, body, request_key(request))
                done = "instructions" if body.delivery_instructions else "removed"
        except (ValidationError, RequestValidationError) as exc:
            problems = said.form_problems(words, exc.errors(), MAX_DELIVERY_INSTRUCTIONS)
            raise Said(422, problems) from exc
        except OrderRefused as exc:
            raise _refused(words, exc) from exc
    except Refused as exc:
        typed = form.get("delivery_instructions")
        return await _again(
            request, s, settings, client, order_id, form.get("t", ""), exc, typed=typed
        )
    return RedirectResponse(
        f"{views.order_link(order_id, token)}&done={done}#instructions", status_code=303
    )


async def _modify(
    words: Words,
    client: Client,
    order_id: str,
    request: ModifyRequest,
    request_id: str | None = None,
) -> ActionResult:
    try:
        return await OrderClient(client, order_id).modify(request, request_id)
    except OrderRefused as exc:
        raise _refused(words, exc) from exc
