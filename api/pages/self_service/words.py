"""What the self-service page calls things, in the shop's words to its customer (English here;
every other language in the ``customer`` catalogue, ``api/pages/locale/<lang>/LC_MESSAGES/
customer.po``).

Codes never reach the customer: each status of an order, a parcel or a return has plain words
(``in_fulfilment`` is "being packed", "wird verpackt"), each return reason the words the
customer picked it by. A status added to its enum in ``core.domain`` without words here is
shown as "in progress" (and ``tests/unit/test_customer_translations.py`` fails until it has
its own).

The order workflow refuses a change in its own English words (``core.rules.refusals``); the
page says it the customer's way instead: each refusal the rules can give is matched to a
customer sentence (``refusal``), anything else is "This is no longer possible" with a hint to
ask customer service. Bad form input is named the customer's way too (``form_problems``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from activities.returns.requests import Returnable
from api.pages.translations import N_, NP_, Words
from core.domain.commands import ModifyRequest
from core.domain.orders import OrderInput, OrderStatus
from core.domain.returns import ReturnRequest, ReturnStatus
from core.domain.shipment_book import ShipmentBook
from core.domain.shipments import ShipmentStatus
from core.rules import refusals

OS, SS, RS = OrderStatus, ShipmentStatus, ReturnStatus

ORDER_STATUS: dict[OrderStatus, str] = {
    OS.RECEIVED: NP_("order status", "received"),
    OS.RISK_CHECK: NP_("order status", "being checked"),
    OS.ON_HOLD: NP_("order status", "being checked"),
    OS.REJECTED: NP_("order status", "not accepted"),
    OS.READY_FOR_PICKUP: NP_("order status", "ready for pickup"),
    OS.RESERVING: NP_("order status", "being put together"),
    OS.BACKORDERED: NP_("order status", "waiting for goods to arrive"),
    OS.CONFIRMED: NP_("order status", "confirmed"),
    OS.AWAITING_PAYMENT: NP_("order status", "waiting for your payment"),
    OS.PAYMENT_AUTHORISED: NP_("order status", "being prepared"),
    OS.IN_FULFILMENT: NP_("order status", "being packed"),
    OS.PARTIALLY_SHIPPED: NP_("order status", "partly on its way"),
    OS.SHIPPED: NP_("order status", "on its way"),
    OS.COMPLETED: NP_("order status", "completed"),
    OS.CANCELLED: NP_("order status", "cancelled"),
    OS.FAILED: NP_("order status", "could not be carried out"),
}
PARCEL_STATUS: dict[ShipmentStatus, str] = {
    SS.RESERVED: NP_("parcel status", "being prepared"),
    SS.RELEASED: NP_("parcel status", "being packed"),
    SS.ACCEPTED: NP_("parcel status", "being packed"),
    SS.PICKED: NP_("parcel status", "being packed"),
    SS.PACKED: NP_("parcel status", "packed"),
    SS.SHIPPED: NP_("parcel status", "on its way"),
    SS.IN_TRANSIT: NP_("parcel status", "on its way"),
    SS.DELIVERED: NP_("parcel status", "delivered"),
    SS.PICKED_UP: NP_("parcel status", "picked up"),
    SS.REROUTED: NP_("parcel status", "replaced by another parcel"),
    SS.CANCELLED: NP_("parcel status", "cancelled"),
    SS.LOST: NP_("parcel status", "lost in transit: we are taking care of it"),
    SS.RETURNED: NP_("parcel status", "came back to us"),
}
RETURN_STATUS: dict[ReturnStatus, str] = {
    RS.REQUESTED: NP_("return status", "registered"),
    RS.LABEL_ISSUED: NP_("return status", "label ready"),
    RS.IN_TRANSIT: NP_("return status", "on its way to us"),
    RS.RECEIVED: NP_("return status", "arrived"),
    RS.INSPECTED: NP_("return status", "checked"),
    RS.REFUNDED: NP_("return status", "refunded"),
    RS.FORWARDED: NP_("return status", "handed in at the store"),
    RS.CLOSED: NP_("return status", "completed"),
    RS.EXPIRED: NP_("return status", "expired: not sent back in time"),
}
RETURN_REASON: dict[str, str] = {  # ReturnReason, in the order the form offers them
    "wrong_size": NP_("return reason", "wrong size"),
    "changed_mind": NP_("return reason", "changed my mind"),
    "not_as_described": NP_("return reason", "not as described"),
    "defective": NP_("return reason", "defective"),
    "arrived_too_late": NP_("return reason", "arrived too late"),
    "other": NP_("return reason", "other reason"),
}
VOCABULARIES: dict[str, Mapping[Any, str]] = {
    "order status": ORDER_STATUS,
    "parcel status": PARCEL_STATUS,
    "return status": RETURN_STATUS,
    "return reason": RETURN_REASON,
}
"""Per ``pgettext`` context, the code -> English words of everything the page names by code."""
IN_PROGRESS = NP_("status", "in progress")
"""For a status without words of its own (one newer than this module)."""


def status_words(words: Words, code: object, context: str) -> str:
    """A code of one of the ``VOCABULARIES`` in the customer's words."""
    english = VOCABULARIES[context].get(str(code or ""))
    if english is None:
        return words.pgettext("status", IN_PROGRESS)
    return words.pgettext(context, english)


def reasons(words: Words) -> list[tuple[str, str]]:
    """The return reasons to pick from: (code, words)."""
    return [(code, words.pgettext("return reason", said)) for code, said in RETURN_REASON.items()]


# ---- the workflow's refusals, the customer's way -------------------------------------------

NO_LONGER_POSSIBLE = N_(
    "This is no longer possible. If you need help, please contact our customer service and "
    "give your order number %(order)s."
)
RELEASED = N_("Your order is already being packed for shipping.")
NOTHING_TO_CHANGE = N_("There was nothing to change.")
CLOSED: dict[OrderStatus, str] = {
    OS.COMPLETED: N_("Your order is completed."),
    OS.CANCELLED: N_("Your order has been cancelled."),
    OS.REJECTED: N_("We could not accept your order."),
    OS.FAILED: N_("Your order could not be carried out."),
    OS.SHIPPED: N_("Your order is already on its way."),
    OS.PARTIALLY_SHIPPED: N_("Your order is already on its way."),
    OS.IN_FULFILMENT: RELEASED,
    OS.READY_FOR_PICKUP: N_("Your order is ready for pickup."),
}


@cache
def _known_refusals() -> dict[str, str]:
    """Every refusal of the ``modify`` rules (``core.rules.refusals``, the order workflow's
    validator) the page can meet -> its customer sentence (English msgid)."""
    known: dict[str, str] = {}
    for status in OrderStatus:
        known[refusals.closed(status, True)] = CLOSED.get(status, NO_LONGER_POSSIBLE)
    released = refusals.modify_closed(OS.IN_FULFILMENT, False, True, ShipmentBook())
    known[released] = RELEASED
    nothing = refusals.modify(OS.CONFIRMED, False, False, ShipmentBook(), _no_change())
    known[nothing] = NOTHING_TO_CHANGE
    known.pop("", None)
    return known


def _no_change() -> ModifyRequest:
    return ModifyRequest(agent="customer")


def refusal(words: Words, reason: str | None, order_id: str) -> str:
    """The order's refusal (its own English words) as the customer reads it."""
    if reason == f"order {order_id} is closed":  # its history is gone: long completed
        return words.gettext(CLOSED[OS.COMPLETED])
    said = _known_refusals().get(reason or "", NO_LONGER_POSSIBLE)
    return words.gettext(said, order=order_id)


# ---- what a form got wrong ------------------------------------------------------------------

FIELDS: dict[str, str] = {
    "name": N_("Please enter the recipient's name (at most 200 characters)."),
    "street": N_("Please enter the street and house number (at most 200 characters)."),
    "postcode": N_("Please enter a German postcode of five digits."),
    "city": N_("Please enter the town (at most 100 characters)."),
}
CHECK_ENTRIES = N_("Please check your entries.")


def _field_problem(words: Words, error: Mapping[str, Any], max_instructions: int) -> str:
    loc = [str(p) for p in error.get("loc", ()) if p != "body"]
    field, kind = (loc[-1] if loc else ""), str(error.get("type", ""))
    if field in FIELDS:
        return words.gettext(FIELDS[field])
    if field != "delivery_instructions":
        return words.gettext(CHECK_ENTRIES)
    if kind == "string_too_long":
        return words.gettext(
            "Delivery instructions can be at most %(max)s characters long.", max=max_instructions
        )
    if kind == "pickup_order":
        return words.gettext(
            "You collect this order in the store: it takes no delivery instructions."
        )
    if kind == "value_error":
        return words.gettext(
            "Delivery instructions must be plain text: please leave out special characters."
        )
    return words.gettext(CHECK_ENTRIES)


def form_problems(
    words: Words, errors: Iterable[Mapping[str, Any]], max_instructions: int = 200
) -> str:
    """Validation errors (pydantic's or the API's, each with ``loc`` and ``type``) as the
    customer reads them: one sentence per problem, each once."""
    said = [_field_problem(words, e, max_instructions) for e in errors]
    return " ".join(dict.fromkeys(said)) or words.gettext(CHECK_ENTRIES)


def return_problems(
    words: Words,
    order: OrderInput,
    req: ReturnRequest | None,
    left: Mapping[str, Returnable],
    errors: Sequence[tuple[tuple[str | int, ...], str]],
) -> str:
    """Why a return cannot be started, from what the order's lines allow (``left``), not from
    the English of the check that refused it."""
    names = {ln.line_id: ln.name for ln in order.lines}
    said: list[str] = []
    for loc, _message in errors:
        index = loc[1] if len(loc) > 1 and loc[0] == "lines" else None
        if req is None or not isinstance(index, int) or index >= len(req.lines):
            said.append(words.gettext(NO_LONGER_POSSIBLE, order=order.order_id))
            continue
        asked = req.lines[index]
        item, r = names.get(asked.line_id, asked.line_id), left.get(asked.line_id)
        if r is None:
            said.append(words.gettext(CHECK_ENTRIES))
        elif r.delivered == 0:
            said.append(
                words.gettext(
                    "“%(item)s” has not been delivered yet: you can return it once it has arrived.",
                    item=item,
                )
            )
        elif r.in_window == 0 and r.window_ended is not None:
            said.append(
                words.gettext(
                    "The return period for “%(item)s” ended on %(day)s.",
                    item=item,
                    day=words.long_date(r.window_ended),
                )
            )
        elif r.left == 0:
            said.append(words.gettext("“%(item)s” has already been returned in full.", item=item))
        elif asked.quantity > r.left:
            said.append(
                words.gettext(
                    "You can return only %(num)s more of “%(item)s”.", num=r.left, item=item
                )
            )
        else:
            said.append(words.gettext(NO_LONGER_POSSIBLE, order=order.order_id))
    return " ".join(dict.fromkeys(said)) or words.gettext(CHECK_ENTRIES)
