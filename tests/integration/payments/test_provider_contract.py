"""One contract for every payment provider: the same money facts, whoever moves the money.

Each test runs against the simulated provider (its own ledger) and against ``StripeProvider``
talking to localstripe, a real HTTP Stripe emulator (no mock of Stripe anywhere). What a
provider *did* is read from where the money is: the simulated ledger, or Stripe's own objects
in the emulator (charges captured and refunded, payment intents still holding money), not
only from the adapter's answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import stripe
from sqlmodel import col, select

from activities.payments.provider import PaymentProvider
from activities.payments.simulated import SimulatedProvider
from activities.payments.stripe_provider import StripeProvider
from core.db.engine import session_scope
from core.db.schema import PaymentTransaction
from tests.support.localstripe import LocalStripe

DECLINING_STRIPE_CARD = "pm_card_chargeCustomerFail"
"""Stripe's test card that attaches to a customer but whose charges are declined (localstripe
implements it; its ``pm_card_visa_chargeDeclined`` is refused already when attached)."""


@dataclass
class Subject:
    """A provider under contract and how to see the money at its side."""

    provider: PaymentProvider
    declining: PaymentProvider
    """The same provider, set up so that the next authorisation is declined."""
    decline_amount: int
    taken: Callable[[str], int]
    """Money taken from the customer for an order: captured less refunded."""
    authorisations: Callable[[str], int]
    """Authorisations the provider holds for an order (declined ones included)."""
    still_held: Callable[[str], bool]
    """Whether any of the order's authorised money is still reserved on the card."""


def _simulated(database_url: str) -> Subject:
    provider = SimulatedProvider(database_url)

    def rows(order_id: str) -> list[PaymentTransaction]:
        with session_scope(database_url) as s:
            return list(
                s.exec(
                    select(PaymentTransaction).where(
                        PaymentTransaction.provider == "simulated",
                        PaymentTransaction.order_id == order_id,
                        PaymentTransaction.status == "succeeded",
                    )
                ).all()
            )

    def taken(order_id: str) -> int:
        sign = {"capture": 1, "refund": -1}
        return sum(r.amount_cents * sign.get(r.kind, 0) for r in rows(order_id))

    def authorisations(order_id: str) -> int:
        with session_scope(database_url) as s:
            return len(
                s.exec(
                    select(PaymentTransaction).where(
                        PaymentTransaction.provider == "simulated",
                        PaymentTransaction.order_id == order_id,
                        col(PaymentTransaction.kind) == "authorise",
                    )
                ).all()
            )

    def still_held(order_id: str) -> bool:
        sign = {"authorise": 1, "capture": -1, "void": -1}
        return sum(r.amount_cents * sign.get(r.kind, 0) for r in rows(order_id)) > 0

    return Subject(provider, provider, 4213, taken, authorisations, still_held)


def _stripe(database_url: str, emulator: LocalStripe) -> Subject:
    def make(payment_method: str) -> StripeProvider:
        return StripeProvider(
            database_url,
            emulator.api_key,
            api_base=emulator.url,
            payment_method=payment_method,
            max_network_retries=0,
        )

    client = stripe.StripeClient(emulator.api_key, base_addresses={"api": emulator.url})

    def intents(order_id: str) -> list[Any]:
        listed = client.v1.payment_intents.list(params={"limit": 100})
        return [
            pi
            for pi in listed.data
            if pi.metadata.to_dict().get("oms_order_id") == order_id
            and "oms_authorisation" not in pi.metadata.to_dict()
        ]

    def taken(order_id: str) -> int:
        customers = {pi.customer for pi in intents(order_id)}
        total = 0
        for customer in customers:
            charges = client.v1.charges.list(params={"customer": str(customer), "limit": 100})
            for charge in charges.data:
                if charge.status == "succeeded" and charge.captured:
                    total += charge.amount - charge.amount_refunded
        return total

    def still_held(order_id: str) -> bool:
        return any(pi.status == "requires_capture" for pi in intents(order_id))

    return Subject(
        make("pm_card_visa"),
        make(DECLINING_STRIPE_CARD),
        4200,
        taken,
        lambda order_id: len(intents(order_id)),
        still_held,
    )


@pytest.fixture(params=["simulated", "stripe"])
def subject(request: pytest.FixtureRequest, database_url: str) -> Subject:
    if request.param == "simulated":
        return _simulated(database_url)
    return _stripe(database_url, request.getfixturevalue("localstripe"))


def _order() -> str:
    return f"PAY-{uuid.uuid4().hex[:10]}"


def test_two_parcels_captured_and_the_rest_voided_add_up_to_the_authorisation(
    subject: Subject,
) -> None:
    p, order = subject.provider, _order()
    auth = p.authorise(f"{order}:authorise", order, 10_000, "card")
    assert auth.succeeded and auth.id and subject.still_held(order)

    first = p.capture(f"{order}:capture:S1", order, auth.id, 3_000)
    second = p.capture(f"{order}:capture:S2", order, auth.id, 2_500)
    void = p.void(f"{order}:void", order, auth.id, 4_500)

    assert first.succeeded and second.succeeded and void.succeeded
    assert len({auth.id, first.id, second.id, void.id}) == 4
    assert first.amount_cents + second.amount_cents + void.amount_cents == auth.amount_cents
    assert subject.taken(order) == 5_500
    assert not subject.still_held(order)
    # nothing is left: one more cent is refused and takes nothing
    more = p.capture(f"{order}:capture:S3", order, auth.id, 1)
    assert not more.succeeded and more.reason
    assert subject.taken(order) == 5_500


def test_a_void_of_everything_releases_the_hold(subject: Subject) -> None:
    p, order = subject.provider, _order()
    auth = p.authorise(f"{order}:authorise", order, 4_000, "card")
    void = p.void(f"{order}:void", order, auth.id, 4_000)
    assert void.succeeded
    assert not subject.still_held(order)
    assert subject.taken(order) == 0


def test_part_of_a_capture_is_refunded(subject: Subject) -> None:
    p, order = subject.provider, _order()
    auth = p.authorise(f"{order}:authorise", order, 8_000, "card")
    s1 = p.capture(f"{order}:capture:S1", order, auth.id, 3_000)
    p.capture(f"{order}:capture:S2", order, auth.id, 2_000)
    assert subject.taken(order) == 5_000

    # a return refunds against the parcel's capture (as ReturnActivities.refund_parent finds it)
    ret = p.refund(f"{order}:return:R1", order, 1_000, s1.id)
    assert ret.succeeded and ret.amount_cents == 1_000
    assert subject.taken(order) == 4_000
    # the order refunds against its authorisation: more than one parcel holds, so it spans both
    cancel = p.refund(f"{order}:refund:cancel-lines", order, 3_500, auth.id)
    assert cancel.succeeded and cancel.amount_cents == 3_500
    assert subject.taken(order) == 500


def test_the_same_key_twice_answers_the_same_transaction_and_moves_money_once(
    subject: Subject,
) -> None:
    p, order = subject.provider, _order()
    auth = p.authorise(f"{order}:authorise", order, 6_000, "card")
    again = p.authorise(f"{order}:authorise", order, 6_000, "card")
    assert again == auth
    assert subject.authorisations(order) == 1

    capture = p.capture(f"{order}:capture:S1", order, auth.id, 2_000)
    assert p.capture(f"{order}:capture:S1", order, auth.id, 2_000) == capture
    assert subject.taken(order) == 2_000
    # the repeat used nothing: exactly the rest can still be captured
    rest = p.capture(f"{order}:capture:S2", order, auth.id, 4_000)
    assert rest.succeeded
    assert subject.taken(order) == 6_000

    refund = p.refund(f"{order}:refund:x", order, 1_500, auth.id)
    assert p.refund(f"{order}:refund:x", order, 1_500, auth.id) == refund
    assert subject.taken(order) == 4_500


def test_a_declined_card_is_an_unsuccessful_transaction_with_a_reason(subject: Subject) -> None:
    order = _order()
    declined = subject.declining.authorise(
        f"{order}:authorise", order, subject.decline_amount, "card"
    )
    assert not declined.succeeded
    assert declined.reason
    assert subject.taken(order) == 0
    assert not subject.still_held(order)
    # asked again under the same key, the answer stays the same decline
    again = subject.declining.authorise(f"{order}:authorise", order, subject.decline_amount, "card")
    assert again.id == declined.id and not again.succeeded


def test_a_bank_transfer_is_booked_and_can_be_refunded(subject: Subject) -> None:
    p, order = subject.provider, _order()
    incoming = p.record_incoming(f"{order}:incoming:BT-1", order, 2_500, "order " + order)
    assert incoming.succeeded and incoming.amount_cents == 2_500
    assert p.record_incoming(f"{order}:incoming:BT-1", order, 2_500, "x").id == incoming.id
    refund = p.refund(f"{order}:refund:surplus", order, 500, None)
    assert refund.succeeded and refund.amount_cents == 500


class RecordingHttpClient(stripe.RequestsClient):
    """The SDK's own HTTP client, noting each request's method, path and idempotency key on the
    way to the emulator (it changes nothing: localstripe itself ignores the header)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, str | None]] = []

    def request(  # type: ignore[override]  # as RequestsClient's own (bytes, not str)
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        key = dict(headers or {}).get("Idempotency-Key")
        self.sent.append((method.upper(), url.split("?")[0].split("/v1/")[-1], key))
        return super().request(method, url, headers, post_data)


def test_every_stripe_write_carries_a_key_derived_from_the_oms_key(
    database_url: str, localstripe: LocalStripe
) -> None:
    http = RecordingHttpClient()
    p = StripeProvider(
        database_url,
        localstripe.api_key,
        api_base=localstripe.url,
        max_network_retries=0,
        http_client=http,
    )
    order = _order()
    auth = p.authorise(f"{order}:authorise", order, 5_000, "card")
    s1 = p.capture(f"{order}:capture:S1", order, auth.id, 2_000)
    p.capture(f"{order}:capture:S2", order, auth.id, 1_000)
    p.refund(f"{order}:refund:x", order, 500, s1.id)
    p.void(f"{order}:void", order, auth.id, 2_000)
    writes = [(path, key) for method, path, key in http.sent if method == "POST"]
    assert writes, http.sent
    assert all(key and key.startswith(f"{order}:") for _, key in writes), writes
    assert ("payment_intents", f"{order}:authorise") in writes
    assert (f"payment_intents/{auth.id}/capture", f"{order}:capture:S1") in writes
    assert ("payment_intents", f"{order}:capture:S2") in writes  # the off-session charge
    assert len({key for _, key in writes}) == len(writes)  # one key, one request
