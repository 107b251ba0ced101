"""``POST /webhooks/stripe``: only an event Stripe signed (``Stripe-Signature``, HMAC-SHA256 of
``f"{t}.{body}"`` under the endpoint's secret, within 300 s) is taken; everything else is
refused before the body is read as an event."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs
from temporalio.client import Client

from api.app import create_app
from core.settings import Settings
from tests.support.auth import client_for

SECRET = "whsec_oms_test_secret"
EVENT = {
    "id": "evt_test_1",
    "object": "event",
    "type": "payment_intent.succeeded",
    "api_version": "2024-06-20",
    "created": 1_700_000_000,
    "livemode": False,
    "data": {"object": {"id": "pi_test_1", "object": "payment_intent", "amount": 1999}},
}


def stripe_signature(body: bytes, secret: str = SECRET, at: int | None = None) -> str:
    """The header as Stripe builds it."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@pytest.fixture
async def http(settings: Settings, temporal_client: Client) -> AsyncIterator[httpx.AsyncClient]:
    cfg = settings.model_copy(update={"stripe_webhook_secret": SecretStr(SECRET)})
    async with client_for(create_app(cfg, temporal_client), cfg) as client:
        yield client


async def _post(http: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await http.post(
        "/webhooks/stripe", content=body, headers={"content-type": "application/json", **headers}
    )


async def test_a_correctly_signed_event_is_taken_and_logged(http: httpx.AsyncClient) -> None:
    body = json.dumps(EVENT).encode()
    with capture_logs() as logs:
        r = await _post(http, body, {"Stripe-Signature": stripe_signature(body)})
    assert r.status_code == 200, r.text
    assert r.json() == {"received": True, "id": "evt_test_1", "type": "payment_intent.succeeded"}
    assert {
        "event": "stripe webhook event received",
        "event_type": "payment_intent.succeeded",
        "event_id": "evt_test_1",
        "log_level": "info",
    } in logs


async def test_a_forged_signature_is_refused(http: httpx.AsyncClient) -> None:
    body = json.dumps(EVENT).encode()
    forged = stripe_signature(body, secret="whsec_someone_else")
    r = await _post(http, body, {"Stripe-Signature": forged})
    assert r.status_code == 400
    assert "Stripe-Signature" in r.json()["detail"]
    # a genuine signature does not cover a changed body
    changed = json.dumps({**EVENT, "type": "charge.refunded"}).encode()
    r = await _post(http, changed, {"Stripe-Signature": stripe_signature(body)})
    assert r.status_code == 400


async def test_a_stale_timestamp_is_refused(http: httpx.AsyncClient) -> None:
    body = json.dumps(EVENT).encode()
    old = stripe_signature(body, at=int(time.time()) - 600)  # Stripe's tolerance is 300 s
    r = await _post(http, body, {"Stripe-Signature": old})
    assert r.status_code == 400
    assert "tolerance" in r.json()["detail"]


async def test_a_missing_or_malformed_header_is_refused(http: httpx.AsyncClient) -> None:
    body = json.dumps(EVENT).encode()
    r = await _post(http, body, {})  # the client's API key is no substitute
    assert r.status_code == 401
    assert r.json()["detail"] == "missing Stripe-Signature header"
    r = await _post(http, body, {"Stripe-Signature": "not a signature"})
    assert r.status_code == 400


async def test_a_signed_body_still_obeys_the_json_rules(http: httpx.AsyncClient) -> None:
    body = b'{"id": "evt_nan", "object": "event", "type": "x", "amount": NaN}'
    r = await _post(http, body, {"Stripe-Signature": stripe_signature(body)})
    assert r.status_code == 422


async def test_without_a_configured_secret_every_event_is_refused(
    settings: Settings, temporal_client: Client
) -> None:
    cfg = settings.model_copy(update={"stripe_webhook_secret": SecretStr("")})
    body = json.dumps(EVENT).encode()
    async with client_for(create_app(cfg, temporal_client), cfg) as http:
        r = await _post(http, body, {"Stripe-Signature": stripe_signature(body, secret="")})
    assert r.status_code == 503
