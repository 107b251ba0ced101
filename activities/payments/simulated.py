"""A simulated payment provider with its own ledger table, latency and decline rules.

It behaves like a real one where it matters to the OMS: idempotency keys, authorise then
capture or void up to the authorised amount, refunds, latency. Amounts ending in 13 cents are
declined, so tests and demos can provoke a decline on purpose. With a failure rate it also has
outages: a call fails before the provider booked it, or after (the answer is lost), and the
caller's retry with the same key must come out right either way.
"""

from __future__ import annotations

import random
import time
import uuid

from sqlmodel import Session, func, select

from activities.payments.provider import Transaction
from core.db.engine import session_scope
from core.db.schema import PaymentTransaction

DECLINE_CENTS = 13


class ProviderUnavailable(RuntimeError):
    """The provider did not answer (timeout, 503): try again with the same idempotency key."""


class SimulatedProvider:
    name = "simulated"

    def __init__(
        self,
        database_url: str,
        latency_ms: int = 0,
        failure_rate: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        self.url = database_url
        self.latency_s = latency_ms / 1000
        self.failure_rate = failure_rate
        self.rng = rng or random.Random()

    def authorise(self, key: str, order_id: str, amount_cents: int, method: str) -> Transaction:
        declined = method in ("card", "wallet") and amount_cents % 100 == DECLINE_CENTS
        return self._transact(
            key, order_id, "authorise", amount_cents, None, "declined by issuer" if declined else ""
        )

    def capture(
        self, key: str, order_id: str, authorisation_id: str, amount_cents: int
    ) -> Transaction:
        return self._against_authorisation(key, order_id, "capture", authorisation_id, amount_cents)

    def void(
        self, key: str, order_id: str, authorisation_id: str, amount_cents: int
    ) -> Transaction:
        return self._against_authorisation(key, order_id, "void", authorisation_id, amount_cents)

    def refund(
        self, key: str, order_id: str, amount_cents: int, parent_id: str | None
    ) -> Transaction:
        return self._transact(key, order_id, "refund", amount_cents, parent_id, "")

    def record_incoming(
        self, key: str, order_id: str, amount_cents: int, reference: str
    ) -> Transaction:
        return self._transact(key, order_id, "incoming", amount_cents, None, "")

    def _against_authorisation(
        self, key: str, order_id: str, kind: str, auth_id: str, amount: int
    ) -> Transaction:
        """Captures and voids together never exceed what was authorised."""
        with session_scope(self.url) as s:
            auth = s.get(PaymentTransaction, auth_id)
            used = _used(s, auth_id, key)
        reason = ""
        if auth is None or auth.status != "succeeded":
            reason = "no valid authorisation"
        elif used + amount > auth.amount_cents:
            reason = f"{kind} exceeds what is left of the authorisation"
        return self._transact(key, order_id, kind, amount, auth_id, reason)

    def _transact(
        self, key: str, order_id: str, kind: str, amount: int, parent: str | None, reason: str
    ) -> Transaction:
        outage = self.rng.random() < self.failure_rate
        if outage and self.rng.random() < 0.5:
            raise ProviderUnavailable(f"{kind} {key}: provider unavailable, nothing booked")
        tx = self._book(key, order_id, kind, amount, parent, reason)
        if outage:
            raise ProviderUnavailable(f"{kind} {key}: booked, but the answer was lost")
        return tx

    def _book(
        self, key: str, order_id: str, kind: str, amount: int, parent: str | None, reason: str
    ) -> Transaction:
        """Record the transaction under its key first, then 'process' it: a retry after a
        crash finds the pending row and finishes that one instead of starting another."""
        with session_scope(self.url) as s:
            row = s.exec(
                select(PaymentTransaction).where(
                    PaymentTransaction.provider == self.name,
                    PaymentTransaction.idempotency_key == key,
                )
            ).first()
            if row is None:
                row = PaymentTransaction(
                    id=f"sim_{uuid.uuid4().hex[:20]}",
                    provider=self.name,
                    idempotency_key=key,
                    order_id=order_id,
                    kind=kind,
                    amount_cents=amount,
                    parent_id=parent,
                )
                s.add(row)
            if row.status != "pending":
                return _to_tx(row)
            tx_id = row.id
        time.sleep(self.latency_s)
        with session_scope(self.url) as s:
            row = s.get(PaymentTransaction, tx_id)
            assert row is not None
            if row.status == "pending":
                row.status = "failed" if reason else "succeeded"
            return _to_tx(row, reason)


def _used(s: Session, auth_id: str, except_key: str) -> int:
    return int(
        s.exec(
            select(func.coalesce(func.sum(PaymentTransaction.amount_cents), 0)).where(
                PaymentTransaction.parent_id == auth_id,
                PaymentTransaction.kind.in_(["capture", "void"]),  # type: ignore[attr-defined]
                PaymentTransaction.status == "succeeded",
                PaymentTransaction.idempotency_key != except_key,
            )
        ).one()
    )


def _to_tx(row: PaymentTransaction, reason: str = "") -> Transaction:
    return Transaction(
        id=row.id,
        kind=row.kind,
        amount_cents=row.amount_cents,
        succeeded=row.status == "succeeded",
        reason=reason or ("" if row.status == "succeeded" else "declined"),
    )
