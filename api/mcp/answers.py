"""What the MCP tools answer, in the customer's words: status, parcels, dates and amounts in the
customer's locale (German or English, as the order says), so the agent can read them out.

Amounts and dates are written by the same functions as the e-mails (``euro``, ``local_date``:
``1.234,56 €`` and ``3. Dezember 2026`` in German, ``€1,234.56`` and ``3 December 2026`` in
English). Status words are per status of ``OrderStatus`` / ``ShipmentStatus`` (their one home
stays in ``core/domain``; a status without words here is shown by its name).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from pydantic import BaseModel, Field

from activities.messaging.templates import BABEL_LOCALES, euro, local_date
from core.db.schema import OrderRecord, ReturnRecord, ShipmentRecord
from core.domain.orders import TERMINAL_STATUSES, OrderStatus
from core.domain.shipments import GONE, ON_THE_WAY, ShipmentStatus

OS = OrderStatus
SS = ShipmentStatus

ORDER_WORDS: dict[OrderStatus, tuple[str, str]] = {  # (German, English)
    OS.RECEIVED: ("eingegangen", "received"),
    OS.RISK_CHECK: ("wird geprüft", "being checked"),
    OS.ON_HOLD: ("wird geprüft", "being checked"),
    OS.REJECTED: ("nicht angenommen", "not accepted"),
    OS.RESERVING: ("wird zusammengestellt", "being put together"),
    OS.CONFIRMED: ("bestätigt", "confirmed"),
    OS.AWAITING_PAYMENT: ("wartet auf Ihre Zahlung", "waiting for your payment"),
    OS.PAYMENT_AUTHORISED: ("bezahlt, wird vorbereitet", "paid, being prepared"),
    OS.IN_FULFILMENT: ("wird für den Versand vorbereitet", "being prepared for shipping"),
    OS.READY_FOR_PICKUP: ("liegt zur Abholung bereit", "ready for pickup"),
    OS.PARTIALLY_SHIPPED: ("teilweise versandt", "partly shipped"),
    OS.SHIPPED: ("versandt", "shipped"),
    OS.COMPLETED: ("abgeschlossen", "completed"),
    OS.CANCELLED: ("storniert", "cancelled"),
    OS.FAILED: ("konnte nicht ausgeführt werden", "could not be fulfilled"),
}

LATER_WORDS: dict[str, tuple[str, str]] = {
    "backordered": (
        "nachbestellt, kommt sobald die Ware da ist",
        "backordered, on its way once the goods arrive",
    ),
}
"""Words for statuses newer than this module's table, by value: used once ``OrderStatus`` has
them (so this module loads whichever statuses the enum has)."""
ORDER_WORDS.update(
    {OrderStatus(v): w for v, w in LATER_WORDS.items() if v in OrderStatus._value2member_map_}
)

PARCEL_WORDS: dict[ShipmentStatus, tuple[str, str]] = {
    SS.RESERVED: ("reserviert, noch nicht im Lager", "reserved, not yet at the warehouse"),
    SS.RELEASED: ("wird im Lager vorbereitet", "being prepared at the warehouse"),
    SS.ACCEPTED: ("wird im Lager vorbereitet", "being prepared at the warehouse"),
    SS.PICKED: ("wird im Lager vorbereitet", "being prepared at the warehouse"),
    SS.PACKED: ("gepackt", "packed"),
    SS.SHIPPED: ("unterwegs", "on its way"),
    SS.IN_TRANSIT: ("unterwegs", "on its way"),
    SS.DELIVERED: ("zugestellt", "delivered"),
    SS.PICKED_UP: ("abgeholt", "picked up"),
    SS.REROUTED: ("kommt von einem anderen Standort", "coming from another location"),
    SS.CANCELLED: ("storniert", "cancelled"),
    SS.LOST: ("verloren gegangen, wir kümmern uns", "lost, we are taking care of it"),
    SS.RETURNED: ("an uns zurückgegangen", "came back to us"),
}


def _pick(words: tuple[str, str] | None, locale: str, fallback: str) -> str:
    if words is None:
        return fallback
    return words[0] if locale == "de" else words[1]


def order_words(status: str, locale: str) -> str:
    known = _status(status)
    return _pick(ORDER_WORDS.get(known) if known else None, locale, status)


def parcel_words(status: str, locale: str) -> str:
    try:
        return _pick(PARCEL_WORDS.get(ShipmentStatus(status)), locale, status)
    except ValueError:
        return status


def _status(value: str) -> OrderStatus | None:
    try:
        return OrderStatus(value)
    except ValueError:
        return None


def when(value: datetime, locale: str) -> str:
    """A moment the customer's way: ``3. Dezember 2026, 14:30`` (German time)."""
    return format_datetime(
        value.astimezone(UTC),
        "d. MMMM y, HH:mm" if locale == "de" else "d MMMM y, HH:mm",
        tzinfo=ZoneInfo("Europe/Berlin"),
        locale=BABEL_LOCALES.get(locale, locale),
    )


def _day(value: date | datetime | None, locale: str) -> str | None:
    return local_date(value, locale) if value is not None else None


def locale_of(rec: OrderRecord) -> str:
    customer = rec.payload.get("customer", {})
    return str(customer.get("locale", "de")) if isinstance(customer, dict) else "de"


# ---- answers -----------------------------------------------------------------------------------


class OrderBrief(BaseModel):
    order_id: str
    placed_on: str = Field(description="in the customer's language")
    status: str = Field(description="the status code")
    status_text: str = Field(description="the status in the customer's words")
    total: str = Field(description="the order's total, written the customer's way")


class Verification(BaseModel):
    verification: str = Field(
        description="pass this to every other tool of this conversation; it names the caller"
    )
    valid_minutes: int
    verified_by: str = Field(description="which check the caller passed")
    customer_name: str
    locale: str = Field(description="the customer's language: answer in it")
    orders: list[OrderBrief] = Field(description="the customer's orders, newest first")


class CustomerOrders(BaseModel):
    orders: list[OrderBrief]


class ParcelView(BaseModel):
    parcel_id: str
    items: str
    status: str
    status_text: str
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    promised_delivery: str | None = Field(default=None, description="the promised date")
    shipped_on: str | None = None
    delivered_on: str | None = None


class LineView(BaseModel):
    line_id: str
    item: str
    quantity: int
    price: str = Field(description="what the customer pays for these units")
    returnable_units: int = 0


class ReturnView(BaseModel):
    return_id: str
    status: str
    refund: str
    label_url: str = Field(description="the return label (PDF) for the customer; empty in store")


class OrderStatusAnswer(BaseModel):
    order_id: str
    locale: str
    status: str
    status_text: str
    summary: str = Field(description="the answer in plain words, in the customer's language")
    waiting_for: str = Field(description="what the order waits for now, in plain words")
    placed_on: str
    total: str
    payment_method: str
    delivery_address: dict[str, str]
    lines: list[LineView]
    parcels: list[ParcelView]
    returns: list[ReturnView]
    changes_possible_until: str | None = Field(
        default=None,
        description="until then (the release hold) address and order may still be changed",
    )
    may_cancel: bool
    may_cancel_lines: bool
    may_change_address: bool
    why_not: dict[str, str] = Field(
        default={}, description="per action the order would refuse now, the order's reason"
    )
    internal_waiting_for: str | None = Field(
        default=None, description="staff-assist only: the workflow's own words"
    )


class ActionAnswer(BaseModel):
    ok: bool = True
    message: str
    status: str
    status_text: str
    total: str
    given_back: str = Field(description="money voided or refunded by this action")
    recorded_as: str = Field(description="the actor in the order's event log")


class PromiseAnswer(BaseModel):
    sku: str
    postcode: str
    quantity: int
    deliverable: bool
    promised_delivery: str | None
    summary: str


class ReturnStarted(BaseModel):
    returns: list[ReturnView]
    summary: str
    recorded_as: str


class HandedOver(BaseModel):
    case_id: int
    summary: str


def brief(rec: OrderRecord) -> OrderBrief:
    locale = locale_of(rec)
    return OrderBrief(
        order_id=rec.order_id,
        placed_on=local_date(rec.created_at, locale),
        status=rec.status,
        status_text=order_words(rec.status, locale),
        total=euro(rec.total_cents, locale),
    )


def _items(lines: list[dict[str, Any]], names: dict[str, str]) -> str:
    return ", ".join(
        f"{ln.get('quantity', 1)} × {names.get(str(ln.get('line_id')), ln.get('sku', '?'))}"
        for ln in lines
    )


def parcel(sh: ShipmentRecord, names: dict[str, str], locale: str) -> ParcelView:
    return ParcelView(
        parcel_id=sh.shipment_id,
        items=_items(sh.lines, names),
        status=sh.status,
        status_text=parcel_words(sh.status, locale),
        carrier=sh.carrier,
        tracking_number=sh.tracking_number,
        tracking_url=sh.tracking_url,
        promised_delivery=_day(sh.promised_delivery, locale),
        shipped_on=_day(sh.shipped_at, locale),
        delivered_on=_day(sh.delivered_at, locale),
    )


def return_view(rec: ReturnRecord, label_url: str, locale: str) -> ReturnView:
    return ReturnView(
        return_id=rec.return_id,
        status=rec.status,
        refund=euro(rec.goods_cents + rec.shipping_refund_cents, locale),
        label_url=label_url,
    )


def waiting_words(
    rec: OrderRecord, parcels: list[ParcelView], hold_until: datetime | None, now: datetime
) -> str:
    locale = locale_of(rec)
    de = locale == "de"
    status = _status(rec.status)
    if hold_until is not None and hold_until > now and status not in TERMINAL_STATUSES:
        moment = when(hold_until, locale)
        return (
            f"Die Bestellung geht am {moment} an das Lager; bis dahin können Lieferadresse und "
            "Bestellung noch geändert werden."
            if de
            else f"The order goes to the warehouse on {moment}; until then the delivery address "
            "and the order can still be changed."
        )
    if status == OS.AWAITING_PAYMENT:
        amount = euro(rec.total_cents, locale)
        return (
            f"Wir warten auf Ihre Überweisung über {amount}."
            if de
            else f"We are waiting for your bank transfer of {amount}."
        )
    if status in (OS.RISK_CHECK, OS.ON_HOLD, OS.RECEIVED, OS.RESERVING):
        return "Wir prüfen die Bestellung noch." if de else "We are still checking the order."
    if status == OS.READY_FOR_PICKUP:
        return (
            "Die Bestellung wartet im Markt auf Sie."
            if de
            else "The order is waiting for you in the store."
        )
    if status is None or status in TERMINAL_STATUSES:
        return ""
    if status == "backordered":
        return (
            "Ein Artikel ist nachbestellt; wir schicken ihn, sobald er bei uns ist."
            if de
            else "An item is backordered; we send it as soon as it arrives."
        )
    moving = [p for p in parcels if ShipmentStatus(p.status) in ON_THE_WAY]
    if moving:
        return (
            f"{len(moving)} Paket(e) unterwegs zu Ihnen."
            if de
            else f"{len(moving)} parcel(s) on the way to you."
        )
    return (
        "Das Lager bereitet den Versand vor." if de else "The warehouse is preparing the shipment."
    )


def summary(answer: OrderStatusAnswer) -> str:
    """The answer as a few sentences the agent can read out."""
    de = answer.locale == "de"
    parts = [
        (
            f"Bestellung {answer.order_id} vom {answer.placed_on} ({answer.total}): "
            f"{answer.status_text}."
        )
        if de
        else (
            f"Order {answer.order_id} of {answer.placed_on} ({answer.total}): {answer.status_text}."
        )
    ]
    if answer.waiting_for:
        parts.append(answer.waiting_for)
    for p in answer.parcels:
        line = f"{'Paket' if de else 'Parcel'} {p.parcel_id} ({p.items}): {p.status_text}"
        if p.carrier and p.tracking_number:  # before it ships, the carrier is only planned
            line += f", {p.carrier} {p.tracking_number}"
        if p.tracking_url:
            line += f", {'Sendungsverfolgung' if de else 'tracking'}: {p.tracking_url}"
        if p.delivered_on:
            line += f", {'zugestellt am' if de else 'delivered on'} {p.delivered_on}"
        elif p.promised_delivery and ShipmentStatus(p.status) not in GONE:
            line += f", {'zugesagt bis' if de else 'promised by'} {p.promised_delivery}"
        parts.append(line + ".")
    return " ".join(parts)
