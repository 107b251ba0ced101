"""Payment activities. Each takes the step name that makes its idempotency key unique."""

from __future__ import annotations

from temporalio import activity

from activities.payments.provider import PaymentProvider, Transaction
from activities.payments.simulated import SimulatedProvider
from activities.payments.stripe_provider import StripeProvider
from core.domain.events import step_key
from core.domain.payments import PaymentResult, payment_step
from core.settings import Settings


def provider_from_settings(settings: Settings) -> PaymentProvider:
    """The configured provider (``payment_provider``): the simulated one by default, so the
    embedded stack and the tests need no account anywhere; Stripe when asked for."""
    if settings.payment_provider == "stripe":
        return StripeProvider.from_settings(settings)
    return SimulatedProvider(
        settings.database_url, settings.payment_sim_latency_ms, settings.payment_sim_failure_rate
    )


def _result(tx: Transaction) -> PaymentResult:
    return PaymentResult(
        ok=tx.succeeded, transaction_id=tx.id, amount_cents=tx.amount_cents, reason=tx.reason
    )


class PaymentActivities:
    def __init__(self, settings: Settings, provider: PaymentProvider | None = None) -> None:
        self.provider = provider or provider_from_settings(settings)

    @activity.defn
    def authorise_payment(
        self, order_id: str, amount_cents: int, method: str, step: str = "authorise"
    ) -> PaymentResult:
        return _result(
            self.provider.authorise(step_key(order_id, step), order_id, amount_cents, method)
        )

    @activity.defn
    def capture_payment(
        self, order_id: str, shipment_id: str, authorisation_id: str, amount_cents: int
    ) -> PaymentResult:
        return _result(
            self.provider.capture(
                step_key(order_id, payment_step("capture", shipment_id)),
                order_id,
                authorisation_id,
                amount_cents,
            )
        )

    @activity.defn
    def void_payment(
        self, order_id: str, authorisation_id: str, amount_cents: int, step: str = "void"
    ) -> PaymentResult:
        return _result(
            self.provider.void(step_key(order_id, step), order_id, authorisation_id, amount_cents)
        )

    @activity.defn
    def refund_payment(
        self, order_id: str, amount_cents: int, parent_id: str | None, step: str
    ) -> PaymentResult:
        return _result(
            self.provider.refund(step_key(order_id, step), order_id, amount_cents, parent_id)
        )

    @activity.defn
    def record_incoming_payment(
        self, order_id: str, payment_id: str, amount_cents: int, reference: str
    ) -> PaymentResult:
        return _result(
            self.provider.record_incoming(
                step_key(order_id, payment_step("incoming", payment_id)),
                order_id,
                amount_cents,
                reference,
            )
        )
