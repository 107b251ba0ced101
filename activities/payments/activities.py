"""Payment activities: authorise at order, capture per shipment, void what is not needed."""

from __future__ import annotations

from temporalio import activity

from activities.payments.provider import PaymentProvider
from activities.payments.simulated import SimulatedProvider
from core.models import PaymentResult
from core.settings import Settings


def provider_from_settings(settings: Settings) -> PaymentProvider:
    """The configured provider; only the simulated one ships with the OMS so far."""
    return SimulatedProvider(settings.database_url, settings.payment_sim_latency_ms)


class PaymentActivities:
    def __init__(self, settings: Settings, provider: PaymentProvider | None = None) -> None:
        self.provider = provider or provider_from_settings(settings)

    @activity.defn
    def authorise_payment(self, order_id: str, amount_cents: int, method: str) -> PaymentResult:
        tx = self.provider.authorise(f"{order_id}:authorise", order_id, amount_cents, method)
        return PaymentResult(ok=tx.succeeded, transaction_id=tx.id, amount_cents=tx.amount_cents,
                             reason=tx.reason)

    @activity.defn
    def capture_payment(self, order_id: str, shipment_id: str, authorisation_id: str,
                        amount_cents: int) -> PaymentResult:
        tx = self.provider.capture(f"{order_id}:capture:{shipment_id}", order_id,
                                   authorisation_id, amount_cents)
        return PaymentResult(ok=tx.succeeded, transaction_id=tx.id, amount_cents=tx.amount_cents,
                             reason=tx.reason)

    @activity.defn
    def void_payment(self, order_id: str, authorisation_id: str) -> PaymentResult:
        tx = self.provider.void(f"{order_id}:void", order_id, authorisation_id)
        return PaymentResult(ok=tx.succeeded, transaction_id=tx.id, reason=tx.reason)
