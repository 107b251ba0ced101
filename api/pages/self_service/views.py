"""What the self-service page shows, as plain values in the customer's language: built from the
order and its records (``page``), rendered by ``templates/self_service/order.html``.

Pure: no database, no workflow. The routes read the records and ask the order's workflow; this
module puts them into the customer's words (statuses, refusals, money and dates by babel), so
the page can also be rendered and checked without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from activities.returns.requests import Returnable
from api.pages.self_service import words as said
from api.pages.translations import Words
from api.services.invoices import Listed
from api.services.order_changes import ChangeWindow
from core.db.schema import ReturnRecord, ShipmentRecord
from core.domain.orders import MAX_DELIVERY_INSTRUCTIONS, OrderInput, OrderLine
from core.domain.returns import ReturnInput, ReturnStatus
from core.domain.shipments import GONE


@dataclass(frozen=True)
class Parcel:
    shipment_id: str
    status: str
    said: str
    """The status in the customer's words."""
    items: list[tuple[int, str]]
    """(quantity, the item's name) per line in it."""
    promised: date | None
    carrier: str
    tracking_number: str
    tracking_url: str


@dataclass(frozen=True)
class ReturnCard:
    return_id: str
    status: str
    said: str
    items: list[tuple[int, str, str]]
    """(quantity, the item's name, the reason in the customer's words) per line."""
    destination: str
    refund_cents: int
    refunded: bool
    label: bool
    """It has a label to download (sent by mail, not expired)."""


@dataclass(frozen=True)
class Document:
    number: str
    credit_note: bool
    refers_to: str | None
    issued_on: date
    total_cents: int


@dataclass(frozen=True)
class ReturnableLine:
    line: OrderLine
    left: int


def order_link(order_id: str, token: str) -> str:
    """The page of the order, as the e-mails link it (path and query)."""
    return f"/my/orders/{quote(order_id, safe='')}?t={quote(token, safe='')}"


def parcels(words: Words, order: OrderInput, shipments: Iterable[ShipmentRecord]) -> list[Parcel]:
    """The order's parcels that still go somewhere (not those replaced or cancelled)."""
    names = {ln.sku: ln.name for ln in order.lines}
    return [
        Parcel(
            shipment_id=sh.shipment_id,
            status=sh.status,
            said=said.status_words(words, sh.status, "parcel status"),
            items=[(int(ln["quantity"]), names.get(ln["sku"], ln["sku"])) for ln in sh.lines],
            promised=sh.promised_delivery,
            carrier=sh.carrier,
            tracking_number=sh.tracking_number,
            tracking_url=sh.tracking_url,
        )
        for sh in shipments
        if sh.status not in GONE
    ]


def return_cards(words: Words, returns: Iterable[ReturnRecord]) -> list[ReturnCard]:
    cards = []
    for rec in returns:
        ret = ReturnInput.model_validate(rec.payload)
        dest = ret.destination
        cards.append(
            ReturnCard(
                return_id=rec.return_id,
                status=rec.status,
                said=said.status_words(words, rec.status, "return status"),
                items=[
                    (ln.quantity, ln.name, said.status_words(words, ln.reason, "return reason"))
                    for ln in ret.lines
                ],
                destination=f"{dest.name}, {dest.postcode} {dest.city}",
                refund_cents=ret.refund_cents,
                refunded=bool(rec.refunded_cents),
                label=rec.channel == "mail" and rec.status != ReturnStatus.EXPIRED,
            )
        )
    return cards


def documents(listed: Iterable[Listed]) -> list[Document]:
    """The invoices and credit notes there is a PDF of."""
    return [
        Document(
            number=d.number,
            credit_note=d.kind == "credit_note",
            refers_to=d.refers_to,
            issued_on=d.issued_on,
            total_cents=d.total_gross_cents,
        )
        for d in listed
        if d.has_pdf
    ]


def done_message(words: Words, done: str, own_returns: Iterable[str]) -> tuple[str, str]:
    """What a redirect after an action announces: (what, the sentence); only this order's own
    returns are named."""
    if done == "address":
        return done, words.gettext("Your delivery address has been changed.")
    if done == "instructions":
        return done, words.gettext("Your delivery instructions have been changed.")
    if done == "removed":
        return done, words.gettext("Your delivery instructions have been removed.")
    if done == "unchanged":
        return done, words.gettext("Your delivery instructions are unchanged.")
    mine = set(own_returns)
    started = [x for x in done.split(",") if x in mine]
    if not started:
        return "", ""
    return "returns", words.ngettext(
        "Return %(ids)s started: print the label below and stick it on the parcel.",
        "Returns %(ids)s started: print each label below and stick it on its parcel.",
        len(started),
        ids=", ".join(started),
    )


def page(
    words: Words,
    *,
    order: OrderInput,
    status: str,
    token: str,
    window: ChangeWindow,
    shipments: Iterable[ShipmentRecord] = (),
    returns: Iterable[ReturnRecord] = (),
    left: Mapping[str, Returnable] | None = None,
    invoices: Iterable[Listed] = (),
    done: str = "",
    error: str = "",
    typed: str | None = None,
) -> dict[str, Any]:
    """The template's context: everything the page shows, in the customer's language."""
    left = left or {}
    lines = [
        ReturnableLine(ln, left[ln.line_id].left if ln.line_id in left else 0) for ln in order.lines
    ]
    cards = return_cards(words, returns)
    done_kind, done_said = done_message(words, done, (c.return_id for c in cards))
    return {
        "words": words,
        "order": order,
        "status": status,
        "status_said": said.status_words(words, status, "order status"),
        "token": token,
        "q": quote(token, safe=""),
        "here": order_link(order.order_id, token),
        "parcels": parcels(words, order, shipments),
        "returns": cards,
        "lines": lines,
        "returnable": any(x.left for x in lines),
        "reasons": said.reasons(words),
        "changeable": window.open,
        "unknown": window.unknown,
        "closed": ""
        if window.open or window.unknown
        else said.refusal(words, window.refusal, order.order_id),
        "changes_until": words.long_when(window.until) if window.open and window.until else "",
        "max_instructions": MAX_DELIVERY_INSTRUCTIONS,
        "documents": documents(invoices),
        "done": done_kind,
        "done_said": done_said,
        "error": error,
        "typed": typed,
    }
