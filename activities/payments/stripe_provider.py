"""Stripe behind the OMS's payment adapter (``PaymentProvider``), with the official SDK.

What each step does (card and wallet orders; see "Not Stripe" below for the others):

* **authorise**: a Customer for the authorisation, the payment method attached to it (so later
  parcels can be charged off-session, see below), then one PaymentIntent with
  ``capture_method="manual"`` confirmed at once. The transaction id is the PaymentIntent id.
  The payment method is ``method`` itself when the caller passes a Stripe id (``pm_...``), else
  ``stripe_test_payment_method`` from the settings: today an order carries only the method's
  *name* (``card``), so the shop's real payment method cannot reach the adapter yet; the setting
  (default ``pm_card_visa``) serves tests and the demo until the order input carries one.
* **capture** (one parcel): Stripe captures a PaymentIntent once, unless the card has
  *multicapture* (an IC+ pricing feature, Visa/Mastercard/Amex/Discover only, requested with
  ``payment_method_options.card.request_multicapture="if_available"`` at authorisation and shown
  in ``latest_charge.payment_method_details.card.multicapture.status``). So:

  - multicapture available: every parcel is ``capture(amount_to_capture=parcel,
    final_capture=False)``, the last one (nothing left to capture or void) with ``True``;
  - otherwise (most accounts, and localstripe, which implements no multicapture: it refuses
    ``final_capture`` and a second capture with 400): the **first** parcel is a partial capture
    of the PaymentIntent, which releases the rest of the hold at once (Stripe's documented
    behaviour for a capture below the authorised amount). Every **later** parcel is a new
    PaymentIntent charged off-session (``off_session=True, confirm=True``) to the same customer
    and payment method, captured at once. Such a charge can be declined (card expired, no
    funds): that is ``succeeded=False`` with the reason, which the workflow records like any
    declined capture. Capturing everything with the first parcel and refunding the rest later
    was rejected: card schemes expect a charge when the goods ship, and refunds cost fees and
    show twice on the customer's statement.

  The adapter still keeps the OMS's rule that captures and voids together never exceed the
  authorised amount (its ledger, below), whichever way Stripe took the money.
* **void** (part of an authorisation that will never be captured): Stripe cannot shrink a hold,
  so a partial void is booked only; once captures and voids cover the whole authorisation and
  the PaymentIntent still holds money (nothing captured yet, or multicapture), it is cancelled,
  which releases the rest. After a capture without multicapture there is nothing held any more.
* **refund**: against the charges captured under the given parent (a capture, or the
  authorisation: all its captures, oldest first), split over several charges when one does not
  hold enough; each Stripe refund is ``refunds.create(charge=..., amount=...)``.
* **record_incoming** (prepayment by bank transfer): Stripe plays no part in this flow, so it
  is booked as a succeeded transaction without calling Stripe. A refund whose parent is not a
  Stripe charge (money that came by bank transfer) is likewise booked only: the shop's bank pays
  it back, not Stripe.

Not Stripe: ``invoice`` (and any non-card method) is authorised, captured ("invoiced per
parcel"), voided and refunded as bookings only, with ``oms_`` transaction ids.

Idempotency. Every Stripe call carries ``idempotency_key=`` derived from the OMS key (the key
itself, or ``<key>:<sub-step>`` where one OMS step makes several calls), so a retried call gets
Stripe's original answer, never a second charge. Stripe keeps idempotency keys for 24 hours
and Temporal retries without end, so the adapter also books each finished call in the OMS's
``payment_transaction`` ledger (``provider="stripe"``) under the OMS key, and answers a repeated
key from there first; the ledger also lets returns find the capture of a parcel (as with the
simulated provider) and holds the captured + voided <= authorised arithmetic (checked before
each call; two captures racing for the first capture of one authorisation cannot both win: Stripe
refuses the second, which raises and is retried as a later parcel).
The one gap left: a call Stripe carried out whose booking failed (the database away at that
moment) and whose retry comes more than 24 hours later would be made again.
localstripe ignores ``Idempotency-Key``, so against it the contract tests prove the ledger's
half of this; Stripe's own half is exercised only against Stripe.

Errors. A decline (``stripe.CardError``) is ``Transaction(succeeded=False, reason=...)``.
Everything else (network, 5xx, rate limit, a bad key, a request Stripe refuses) raises, so the
activity fails and Temporal retries with the same key; the SDK itself retries network errors a
few times with the same idempotency key first.
"""

from __future__ import annotations

import uuid
from typing import Any

import stripe
from sqlmodel import Session, col, func, select
from stripe.params import PaymentIntentCaptureParams

from activities.payments.provider import Transaction
from core.db.engine import session_scope
from core.db.schema import PaymentTransaction
from core.settings import Settings

STRIPE_API_BASE = "https://api.stripe.com"
CARD_METHODS = frozenset({"card", "wallet"})
"""Methods whose money Stripe moves; the others are booked only."""
LOCAL_PREFIX = "oms_"
"""Transaction ids of bookings that involved no Stripe call."""
PART = "~"
"""Separates a Stripe charge id from the capture's number on it (multicapture)."""


class StripeProvider:
    name = "stripe"

    def __init__(
        self,
        database_url: str,
        api_key: str,
        api_base: str = STRIPE_API_BASE,
        payment_method: str = "pm_card_visa",
        currency: str = "eur",
        max_network_retries: int = 2,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("the stripe payment provider needs OMS_STRIPE_API_KEY")
        self.url = database_url
        self.payment_method = payment_method
        self.currency = currency
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            max_network_retries=max_network_retries,
            http_client=http_client,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeProvider:
        return cls(
            settings.database_url,
            settings.stripe_api_key.get_secret_value(),
            settings.stripe_api_base,
            settings.stripe_test_payment_method,
        )

    # ---- the adapter interface ---------------------------------------------------------------
    def authorise(self, key: str, order_id: str, amount_cents: int, method: str) -> Transaction:
        if (done := self._replay(key)) is not None:
            return done
        if method not in CARD_METHODS and not method.startswith("pm_"):
            return self._book_local(key, order_id, "authorise", amount_cents, None)
        meta = {"oms_order_id": order_id, "oms_key": key}
        pm = method if method.startswith("pm_") else self.payment_method
        try:
            customer = self.client.v1.customers.create(
                params={"metadata": meta}, options={"idempotency_key": f"{key}:customer"}
            )
            attached = self.client.v1.payment_methods.attach(
                pm,
                params={"customer": customer.id},
                options={"idempotency_key": f"{key}:attach"},
            )
            intent = self.client.v1.payment_intents.create(
                params={
                    "amount": amount_cents,
                    "currency": self.currency,
                    "customer": customer.id,
                    "payment_method": attached.id,
                    "capture_method": "manual",
                    "confirm": True,
                    "payment_method_options": {"card": {"request_multicapture": "if_available"}},
                    "metadata": meta,
                },
                options={"idempotency_key": key},
            )
        except stripe.CardError as exc:
            return self._book_declined(key, order_id, "authorise", amount_cents, None, exc)
        if intent.status != "requires_capture":
            return self._book_declined(
                key, order_id, "authorise", amount_cents, None, f"payment {intent.status}"
            )
        return self._book(key, order_id, "authorise", amount_cents, None, intent.id)

    def capture(
        self, key: str, order_id: str, authorisation_id: str, amount_cents: int
    ) -> Transaction:
        if (done := self._replay(key)) is not None:
            return done
        auth, used, captures = self._authorisation(authorisation_id)
        if (refused := _refusal("capture", auth, used, amount_cents)) is not None:
            return self._book_failed(key, order_id, "capture", amount_cents, auth, refused)
        assert auth is not None
        if auth.id.startswith(LOCAL_PREFIX):
            return self._book_local(key, order_id, "capture", amount_cents, auth.id)
        intent = self.client.v1.payment_intents.retrieve(
            auth.id, params={"expand": ["latest_charge"]}
        )
        multicapture = _multicapture_available(intent)
        meta = {"oms_order_id": order_id, "oms_key": key, "oms_authorisation": auth.id}
        try:
            if captures == 0 or multicapture:
                params: PaymentIntentCaptureParams = {
                    "amount_to_capture": amount_cents,
                    "expand": ["latest_charge"],
                }
                if multicapture:
                    params["final_capture"] = used + amount_cents >= auth.amount_cents
                captured = self.client.v1.payment_intents.capture(
                    auth.id, params=params, options={"idempotency_key": key}
                )
                charge = _charge_id(captured)
                tx_id = charge if captures == 0 else f"{charge}{PART}{captures + 1}"
            else:  # the hold was released by the first capture: charge this parcel anew
                charged = self.client.v1.payment_intents.create(
                    params={
                        "amount": amount_cents,
                        "currency": self.currency,
                        "customer": _id(intent.customer),
                        "payment_method": _id(intent.payment_method),
                        "confirm": True,
                        "off_session": True,
                        "metadata": meta,
                        "expand": ["latest_charge"],
                    },
                    options={"idempotency_key": key},
                )
                if charged.status != "succeeded":
                    return self._book_failed(
                        key, order_id, "capture", amount_cents, auth, f"payment {charged.status}"
                    )
                tx_id = _charge_id(charged)
        except stripe.CardError as exc:
            return self._book_declined(key, order_id, "capture", amount_cents, auth.id, exc)
        return self._book(key, order_id, "capture", amount_cents, auth.id, tx_id)

    def void(
        self, key: str, order_id: str, authorisation_id: str, amount_cents: int
    ) -> Transaction:
        if (done := self._replay(key)) is not None:
            return done
        auth, used, captures = self._authorisation(authorisation_id)
        if (refused := _refusal("void", auth, used, amount_cents)) is not None:
            return self._book_failed(key, order_id, "void", amount_cents, auth, refused)
        assert auth is not None
        if auth.id.startswith(LOCAL_PREFIX):
            return self._book_local(key, order_id, "void", amount_cents, auth.id)
        if used + amount_cents >= auth.amount_cents:  # nothing left to capture: release the hold
            intent = self.client.v1.payment_intents.retrieve(auth.id)
            if intent.status == "requires_capture":
                self.client.v1.payment_intents.cancel(auth.id, options={"idempotency_key": key})
        return self._book(
            key, order_id, "void", amount_cents, auth.id, f"{auth.id}{PART}void{PART}{_short()}"
        )

    def refund(
        self, key: str, order_id: str, amount_cents: int, parent_id: str | None
    ) -> Transaction:
        if (done := self._replay(key)) is not None:
            return done
        if parent_id is None or not self._is_stripe(
            parent_id
        ):  # bank transfer or invoice: paid back outside Stripe
            return self._book_local(key, order_id, "refund", amount_cents, parent_id)
        sources = self._refundable(parent_id)
        if sum(left for _, left in sources) < amount_cents:
            return self._book_failed(
                key,
                order_id,
                "refund",
                amount_cents,
                None,
                "refund exceeds what was captured and not yet refunded",
            )
        parts: list[tuple[str, str, int]] = []  # (refund id, capture id, amount)
        rest = amount_cents
        for capture_id, left in sources:
            if rest <= 0:
                break
            part = min(left, rest)
            refund = self.client.v1.refunds.create(
                params={
                    "charge": capture_id.split(PART)[0],
                    "amount": part,
                    "metadata": {"oms_key": key, "oms_order_id": order_id},
                },
                options={"idempotency_key": f"{key}:{capture_id}"},
            )
            parts.append((refund.id, capture_id, part))
            rest -= part
        return self._book_parts(key, order_id, parts, amount_cents)

    def record_incoming(
        self, key: str, order_id: str, amount_cents: int, reference: str
    ) -> Transaction:
        if (done := self._replay(key)) is not None:
            return done
        return self._book_local(key, order_id, "incoming", amount_cents, None)

    # ---- the ledger --------------------------------------------------------------------------
    def _replay(self, key: str) -> Transaction | None:
        """The answer given before under this key (a refund split over charges: its sum)."""
        with session_scope(self.url) as s:
            rows = s.exec(
                select(PaymentTransaction).where(
                    PaymentTransaction.provider == self.name,
                    col(PaymentTransaction.idempotency_key).startswith(key, autoescape=True),
                )
            ).all()
            first = next((r for r in rows if r.idempotency_key == key), None)
            if first is None:
                return None
            parts = [r for r in rows if r.idempotency_key.startswith(f"{key}#")]
            return Transaction(
                id=first.id,
                kind=first.kind,
                amount_cents=first.amount_cents + sum(p.amount_cents for p in parts),
                succeeded=first.status == "succeeded",
                reason="" if first.status == "succeeded" else "declined",
            )

    def _authorisation(self, auth_id: str) -> tuple[PaymentTransaction | None, int, int]:
        """The authorisation, what its captures and voids used, and how many captures."""
        with session_scope(self.url) as s:
            auth = s.get(PaymentTransaction, auth_id)
            if auth is not None:
                s.expunge(auth)
            under = (
                PaymentTransaction.parent_id == auth_id,
                PaymentTransaction.status == "succeeded",
            )
            used = s.exec(
                select(func.coalesce(func.sum(PaymentTransaction.amount_cents), 0)).where(
                    *under, col(PaymentTransaction.kind).in_(["capture", "void"])
                )
            ).one()
            captures = s.exec(
                select(func.count()).where(*under, PaymentTransaction.kind == "capture")
            ).one()
        return auth, int(used), int(captures)

    def _is_stripe(self, tx_id: str) -> bool:
        """Whether the transaction is a Stripe authorisation or capture of this adapter."""
        if tx_id.startswith(LOCAL_PREFIX):
            return False
        with session_scope(self.url) as s:
            row = s.get(PaymentTransaction, tx_id)
            return row is not None and row.provider == self.name

    def _refundable(self, parent_id: str) -> list[tuple[str, int]]:
        """(capture id, amount not yet refunded) of the captures a refund may draw on: the
        parent capture first, then the other captures of its authorisation, oldest first."""
        with session_scope(self.url) as s:
            parent = s.get(PaymentTransaction, parent_id)
            if parent is None:
                return []
            auth_id = parent.parent_id if parent.kind == "capture" else parent.id
            captures = s.exec(
                select(PaymentTransaction)
                .where(
                    PaymentTransaction.provider == self.name,
                    PaymentTransaction.parent_id == auth_id,
                    PaymentTransaction.kind == "capture",
                    PaymentTransaction.status == "succeeded",
                )
                .order_by(col(PaymentTransaction.created_at), col(PaymentTransaction.id))
            ).all()
            if parent.kind == "capture":
                captures = sorted(captures, key=lambda c: c.id != parent_id)
            out = []
            for c in captures:
                left = c.amount_cents - _refunded(s, c.id)
                if left > 0:
                    out.append((c.id, left))
            return out

    def _book(
        self, key: str, order_id: str, kind: str, amount: int, parent: str | None, tx_id: str
    ) -> Transaction:
        return self._write(key, order_id, kind, amount, parent, tx_id, "")

    def _book_local(
        self, key: str, order_id: str, kind: str, amount: int, parent: str | None
    ) -> Transaction:
        tx_id = f"{LOCAL_PREFIX}{uuid.uuid4().hex[:20]}"
        return self._write(key, order_id, kind, amount, parent, tx_id, "")

    def _book_failed(
        self,
        key: str,
        order_id: str,
        kind: str,
        amount: int,
        auth: PaymentTransaction | None,
        reason: str,
    ) -> Transaction:
        parent = auth.id if auth is not None else None
        tx_id = f"{LOCAL_PREFIX}{uuid.uuid4().hex[:20]}"
        return self._write(key, order_id, kind, amount, parent, tx_id, reason)

    def _book_declined(
        self,
        key: str,
        order_id: str,
        kind: str,
        amount: int,
        parent: str | None,
        why: stripe.CardError | str,
    ) -> Transaction:
        if isinstance(why, stripe.CardError):
            reason = f"declined: {why.code or 'card_declined'} ({why.user_message or why})"
        else:
            reason = f"declined: {why}"
        tx_id = f"{LOCAL_PREFIX}{uuid.uuid4().hex[:20]}"
        return self._write(key, order_id, kind, amount, parent, tx_id, reason)

    def _book_parts(
        self, key: str, order_id: str, parts: list[tuple[str, str, int]], total: int
    ) -> Transaction:
        """One refund over several charges: a ledger row per Stripe refund, the first under
        the OMS key, the others under ``<key>#<n>``; the answer is the first id and the sum."""
        with session_scope(self.url) as s:
            for n, (refund_id, charge_tx, amount) in enumerate(parts, start=1):
                s.add(
                    PaymentTransaction(
                        id=refund_id,
                        provider=self.name,
                        idempotency_key=key if n == 1 else f"{key}#{n}",
                        order_id=order_id,
                        kind="refund",
                        amount_cents=amount,
                        status="succeeded",
                        parent_id=charge_tx,
                    )
                )
        return Transaction(id=parts[0][0], kind="refund", amount_cents=total, succeeded=True)

    def _write(
        self,
        key: str,
        order_id: str,
        kind: str,
        amount: int,
        parent: str | None,
        tx_id: str,
        reason: str,
    ) -> Transaction:
        with session_scope(self.url) as s:
            s.add(
                PaymentTransaction(
                    id=tx_id,
                    provider=self.name,
                    idempotency_key=key,
                    order_id=order_id,
                    kind=kind,
                    amount_cents=amount,
                    status="failed" if reason else "succeeded",
                    parent_id=parent,
                )
            )
        return Transaction(
            id=tx_id, kind=kind, amount_cents=amount, succeeded=not reason, reason=reason
        )


def _refusal(kind: str, auth: PaymentTransaction | None, used: int, amount: int) -> str | None:
    if auth is None or auth.status != "succeeded" or auth.kind != "authorise":
        return "no valid authorisation"
    if used + amount > auth.amount_cents:
        return f"{kind} exceeds what is left of the authorisation"
    return None


def _refunded(s: Session, capture_id: str) -> int:
    return int(
        s.exec(
            select(func.coalesce(func.sum(PaymentTransaction.amount_cents), 0)).where(
                PaymentTransaction.parent_id == capture_id,
                PaymentTransaction.kind == "refund",
                PaymentTransaction.status == "succeeded",
            )
        ).one()
    )


def _id(value: Any) -> str:
    """An expandable field's id, whether Stripe sent the id or the object."""
    return value if isinstance(value, str) else str(value.id)


def _charge_id(intent: stripe.PaymentIntent) -> str:
    if intent.latest_charge is None:
        raise RuntimeError(f"payment intent {intent.id} has no charge after capture")
    return _id(intent.latest_charge)


def _multicapture_available(intent: stripe.PaymentIntent) -> bool:
    """Whether Stripe lets this card's authorisation be captured several times."""
    charge = intent.latest_charge
    if charge is None or isinstance(charge, str):
        return False
    details = charge.to_dict().get("payment_method_details") or {}
    multicapture = (details.get("card") or {}).get("multicapture") or {}
    return bool(multicapture.get("status") == "available")


def _short() -> str:
    return uuid.uuid4().hex[:8]
