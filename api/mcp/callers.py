"""Who is on the other end of an MCP tool call, and which orders that caller may see.

Two kinds of session, decided by the key the MCP client connects with:

- **customer-bound** (role ``agent``): a phone or chat bot acting for one caller. Before any
  order is shown or changed, the bot verifies the caller with ``verify-customer``: the order
  number plus the e-mail address or the delivery postcode, or the signed self-service link of
  the order (``core.order_tokens``). The answer is a *verification*: a token signed with
  ``OMS_SESSION_SECRET`` (purpose ``agent-verification``) that names the customer, the check
  made and the agent key it was issued to, valid ``OMS_AGENT_VERIFICATION_TTL_S``. Every other
  tool takes it back and then sees only that customer's orders: the same customer id and
  e-mail address as the verified order. Nothing is kept between calls, so any API replica
  answers any call.
- **staff-assist** (a ``customer_service`` key behind the agent): the agent helps a person in
  customer service, with that person's rights on orders; no verification is needed.

A failed verification (unknown order, wrong e-mail or postcode, a link of another order) is
counted per order number and per agent key in the database (``AgentVerificationFailure``);
past ``OMS_AGENT_VERIFY_MAX_FAILURES`` (per order number) or
``OMS_AGENT_VERIFY_MAX_FAILURES_PER_KEY`` within ``OMS_AGENT_VERIFY_WINDOW_S`` every check is
refused without being made. Each refusal reads the same whether the order exists or not.

In both kinds the actor of every change is ``agent:<key label>``; the verification used is
written into the change's reason (``Scope.note``).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import ColumnElement, delete, func
from sqlmodel import Session, col, select

from api.http.auth_keys import Signer
from api.http.security import Principal, Role
from core.db.engine import session_scope
from core.db.schema import AgentVerificationFailure, OrderRecord
from core.order_tokens import token_valid
from core.settings import Settings

GRANT_PURPOSE = "agent-verification"
ACTOR_MAX = 64  # AgentAction.agent

NOT_VERIFIED = (
    "These details do not match an order we can open for the caller. Ask again for the order "
    "number and the e-mail address or the delivery postcode (or the link from the order "
    "e-mail); after several wrong answers the check is paused, and a person in customer service "
    "can help (hand-over-to-human)."
)
THROTTLED = (
    "Too many wrong answers for this order number (or from this agent): the check is paused "
    "for {minutes} minutes. Offer a hand-over to a person in customer service "
    "(hand-over-to-human)."
)
NEEDS_VERIFICATION = (
    "The caller is not verified, or the verification has expired. Ask for the order number and "
    "the e-mail address or the delivery postcode (or the link from the order e-mail) and call "
    "verify-customer; pass the verification it returns to this tool."
)

METHOD_WORDS = {
    "email": "order number + e-mail address",
    "postcode": "order number + delivery postcode",
    "link": "the order's self-service link",
}


class NotAllowed(Exception):
    """The caller may not do or see this; the message is safe to show the agent."""


class OrderNotFound(NotAllowed):
    """No such order for this caller: exactly what an unknown order answers."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"Order {order_id} was not found.")


@dataclass(frozen=True)
class Verified:
    """A caller verified as the customer of ``order_id``: they see the orders with the same
    customer id and e-mail address."""

    customer_id: str
    email: str
    order_id: str
    method: str


@dataclass(frozen=True)
class Scope:
    """What one tool call may see: a staff-assist session sees every order, a customer-bound
    one the orders of its verified customer only."""

    principal: Principal
    verified: Verified | None

    @property
    def staff(self) -> bool:
        return self.verified is None

    @property
    def actor(self) -> str:
        """The event log's name for the agent: ``agent:<key label>``."""
        return f"agent:{self.principal.label or self.principal.key_id}"[:ACTOR_MAX]

    @property
    def note(self) -> str:
        """The verification used, for the reason of every change."""
        if self.verified is None:
            return f"staff-assist (customer service key {self.principal.key_id})"
        v = self.verified
        return f"caller verified by {METHOD_WORDS[v.method]} (order {v.order_id})"


def is_staff(principal: Principal) -> bool:
    return Role.CUSTOMER_SERVICE in principal.roles


def may_connect(principal: Principal) -> bool:
    """The MCP server serves agent keys (customer-bound) and customer-service keys (staff
    assist); shop, operations and location keys are turned away."""
    return bool(principal.roles & {Role.AGENT, Role.CUSTOMER_SERVICE})


# ---- the verification grant ----------------------------------------------------------------


def _signer(settings: Settings) -> Signer:
    return Signer(settings.session_secret, GRANT_PURPOSE)


def grant(settings: Settings, principal: Principal, verified: Verified) -> str:
    return _signer(settings).sign(
        {
            "k": principal.key_id,
            "c": verified.customer_id,
            "e": verified.email,
            "o": verified.order_id,
            "m": verified.method,
        }
    )


def scope_for(settings: Settings, principal: Principal, verification: str | None) -> Scope:
    """The caller's scope for one tool call. A customer-bound session must bring a valid
    verification issued to its own key; a staff-assist session needs none (and one it brings
    narrows it to that customer)."""
    payload = _signer(settings).unsign(verification, settings.agent_verification_ttl_s)
    if payload is not None and payload.get("k") == principal.key_id:
        try:
            verified = Verified(
                customer_id=str(payload["c"]),
                email=str(payload["e"]),
                order_id=str(payload["o"]),
                method=str(payload["m"]),
            )
        except KeyError:
            verified = None
        if verified is not None and verified.method in METHOD_WORDS:
            return Scope(principal, verified)
    if is_staff(principal):
        return Scope(principal, None)
    raise NotAllowed(NEEDS_VERIFICATION)


# ---- which orders a scope sees -------------------------------------------------------------


def _mine(verified: Verified) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (
        col(OrderRecord.customer_id) == verified.customer_id,
        func.lower(OrderRecord.customer_email) == verified.email.lower(),
    )


def visible_order(s: Session, scope: Scope, order_id: str) -> OrderRecord:
    """The order if the scope may see it; otherwise the very answer of an unknown order."""
    query = select(OrderRecord).where(OrderRecord.order_id == order_id)
    if scope.verified is not None:
        query = query.where(*_mine(scope.verified))
    rec = s.exec(query).first()
    if rec is None:
        raise OrderNotFound(order_id)
    return rec


def customer_orders(s: Session, verified: Verified, limit: int = 20) -> list[OrderRecord]:
    """The verified customer's orders, newest first."""
    return list(
        s.exec(
            select(OrderRecord)
            .where(*_mine(verified))
            .order_by(col(OrderRecord.created_at).desc())
            .limit(limit)
        ).all()
    )


# ---- verifying a caller ----------------------------------------------------------------------


def _link_token(link: str) -> str:
    """The token of a self-service link, whether the whole link or only its ``t`` is given."""
    link = link.strip()
    if "?" in link or "/" in link:
        values = parse_qs(urlsplit(link).query).get("t", [])
        return values[0] if values else ""
    return link


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.strip().casefold().encode(), b.strip().casefold().encode())


def _subjects(principal: Principal, order_id: str) -> tuple[str, str]:
    return f"order:{order_id.strip()[:100]}", f"key:{principal.key_id}"


def _throttled(s: Session, settings: Settings, subjects: tuple[str, str], now: datetime) -> bool:
    since = now - timedelta(seconds=settings.agent_verify_window_s)
    limits = (settings.agent_verify_max_failures, settings.agent_verify_max_failures_per_key)
    for subject, limit in zip(subjects, limits, strict=True):
        failures = s.exec(
            select(func.count())
            .select_from(AgentVerificationFailure)
            .where(
                AgentVerificationFailure.subject == subject,
                col(AgentVerificationFailure.at) >= since,
            )
        ).one()
        if failures >= limit:
            return True
    return False


def _count_failure(url: str, settings: Settings, subjects: tuple[str, str], now: datetime) -> None:
    with session_scope(url) as s:
        s.execute(  # a bulk delete of what left the window
            delete(AgentVerificationFailure).where(
                col(AgentVerificationFailure.at)
                < now - timedelta(seconds=settings.agent_verify_window_s)
            )
        )
        for subject in subjects:
            s.add(AgentVerificationFailure(subject=subject, at=now))


def verify(
    settings: Settings,
    principal: Principal,
    order_id: str,
    *,
    email: str | None = None,
    postcode: str | None = None,
    link: str | None = None,
    now: datetime | None = None,
) -> Verified:
    """Check the caller against the order (raises ``NotAllowed`` with the same words for an
    unknown order and a wrong answer, counting the failure; or, past the limits, without
    checking at all)."""
    now = now or datetime.now(UTC)
    subjects = _subjects(principal, order_id)
    with session_scope(settings.database_url) as s:
        if _throttled(s, settings, subjects, now):
            minutes = max(1, settings.agent_verify_window_s // 60)
            raise NotAllowed(THROTTLED.format(minutes=minutes))
        rec = s.get(OrderRecord, order_id.strip())
        method = ""
        if rec is not None:
            if link and token_valid(settings.self_service_secret, rec.order_id, _link_token(link)):
                method = "link"
            elif email and _same(email, rec.customer_email):
                method = "email"
            elif postcode and _same(postcode, rec.postcode):
                method = "postcode"
        if rec is not None and method:
            return Verified(
                customer_id=rec.customer_id,
                email=rec.customer_email,
                order_id=rec.order_id,
                method=method,
            )
    _count_failure(settings.database_url, settings, subjects, now)
    raise NotAllowed(NOT_VERIFIED)
