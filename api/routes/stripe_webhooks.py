"""Stripe's webhook: ``POST /webhooks/stripe``, signed by Stripe (``Stripe-Signature``).

Stripe signs ``f"{t}.{raw body}"`` with HMAC-SHA256 under the endpoint's signing secret
(``OMS_STRIPE_WEBHOOK_SECRET``) and sends ``Stripe-Signature: t=<unix time>,v1=<hex>``. The
signature is checked with the SDK (``stripe.Webhook.construct_event``) over the raw bytes,
before anything is parsed, with Stripe's default tolerance of 300 s against replays:

* no header: 401; a forged, malformed or stale signature (or a body that is not UTF-8 JSON):
  400, the answer Stripe's documentation gives for a failed check; no secret configured: 503.
  In each case nothing is read further and nothing changes.
* a verified event: the OMS's JSON rules (``api.http.strict_json``: no NaN, no lone
  surrogate) still apply, then 200, and the event's type and id are logged.

Nothing else happens yet: the adapter (``activities/payments/stripe_provider.py``) learns every
outcome from the synchronous API answers, so no order waits for an event. Acting on events
that arrive only asynchronously (``charge.dispute.created``, ``charge.refund.updated`` failing
later) is the next step and belongs here.

The route is outside the public OpenAPI schema: only Stripe calls it, with Stripe's signature
scheme instead of the OMS's keys and ``X-OMS-Signature`` (``api.http.security``), so the
API's role matrix and its schema fuzzing, which speak the OMS's schemes, leave it out; its
tests are ``tests/integration/payments/test_stripe_webhook.py``. The body limit
(``api.http.limits``) applies as to every request.
"""

from __future__ import annotations

from typing import Annotated, Any

import stripe
import structlog
from fastapi import APIRouter, Depends, Header, HTTPException, Request

from api import deps
from api.http.strict_json import refuse_bad_json
from core.settings import Settings

router = APIRouter(tags=["webhooks"])


@router.post("/webhooks/stripe", include_in_schema=False)
async def stripe_event(
    request: Request,
    settings: Annotated[Settings, Depends(deps.settings)],
    stripe_signature: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """200 once the event's signature is verified (and the event logged)."""
    secret = settings.stripe_webhook_secret.get_secret_value()
    if not secret:
        raise HTTPException(503, detail="Stripe webhooks are not configured on this OMS")
    if not stripe_signature:
        raise HTTPException(401, detail="missing Stripe-Signature header")
    raw = await request.body()
    try:
        event = stripe.Webhook.construct_event(raw, stripe_signature, secret)
    except stripe.SignatureVerificationError as exc:
        raise HTTPException(
            400, detail=f"bad Stripe-Signature: {exc.user_message or exc}"
        ) from None
    except ValueError:  # not UTF-8 or not JSON, though correctly signed
        raise HTTPException(400, detail="the body is not a JSON Stripe event") from None
    await refuse_bad_json(request)
    event_type = getattr(event, "type", None)
    event_id = getattr(event, "id", None)
    if not isinstance(event_type, str) or not isinstance(event_id, str):
        raise HTTPException(400, detail="the body is not a Stripe event (no type or id)")
    structlog.get_logger("oms.stripe").info(
        "stripe webhook event received", event_type=event_type, event_id=event_id
    )
    return {"received": True, "id": event_id, "type": event_type}
