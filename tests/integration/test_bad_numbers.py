"""JSON that Python's parser takes but nothing downstream can use: ``NaN``, ``Infinity``,
``-Infinity``, numbers beyond the double range (``1e309`` reads as infinity) and lone
surrogates (``"\\ud800"`` decodes into a string that cannot be encoded again). Every JSON
operation of the OpenAPI schema, the signed webhooks included, answers them with a 422 naming
the field (never a 5xx, which partners retry forever), and nothing changes.

The bodies are sent as raw bytes (``json=`` would refuse to write ``NaN`` in strict mode and
could re-serialise); webhooks are signed over exactly those bytes by ``OmsAuth``
(``tests/support/auth.py``), so the signature gate lets them through to the body check."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from sqlmodel import func, select
from temporalio.client import Client

from api.app import create_app
from core.db.engine import session_scope
from core.db.schema import (
    ApiKey,
    OrderEvent,
    OrderRecord,
    ReturnRecord,
    StockHold,
    StockMovement,
    WebhookSubscription,
)
from core.settings import Settings
from core.signing import sign
from tests.support.orders import new_order_id, order_request

BAD_VALUES = {
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "1e309": "1e309",
    "-1e309": "-1e309",
    "lone high surrogate": '"\\ud800"',
    "lone low surrogate in text": '"Erika \\udfff Mustermann"',
}
TABLES = (OrderRecord, OrderEvent, ReturnRecord, StockHold, StockMovement, WebhookSubscription)
WRITES = ("post", "put", "patch")


def _counts(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        counts = {t.__name__: s.exec(select(func.count()).select_from(t)).one() for t in TABLES}
        counts["ApiKey"] = s.exec(select(func.count()).select_from(ApiKey)).one()
    return counts


def _json_operations(schema: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(method, path, top-level property names) of every operation taking a JSON body."""
    found = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            if method not in WRITES or "application/json" not in content:
                continue
            body = content["application/json"]["schema"]
            if "$ref" in body:
                body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
            found.append((method.upper(), path, sorted(body.get("properties", {})) or ["value"]))
    return found


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X-1", path)


async def _send(api: httpx.AsyncClient, method: str, url: str, raw: str) -> httpx.Response:
    return await api.request(
        method, url, content=raw.encode(), headers={"content-type": "application/json"}
    )


def _named(r: httpx.Response, loc: list[Any], where: str) -> None:
    assert r.status_code == 422, (where, r.status_code, r.text[:300])
    locs = [err["loc"] for err in r.json()["detail"]]
    assert loc in locs, (where, locs)


async def test_every_json_operation_refuses_bad_numbers_and_surrogates(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    operations = _json_operations(create_app(settings, temporal_client).openapi())
    assert len(operations) > 15
    assert {"/webhooks/shipments", "/webhooks/payments", "/webhooks/returns"} <= {
        path for _m, path, _p in operations
    }
    before = _counts(settings.database_url)
    sent = 0
    for method, path, properties in operations:
        for name, bad in BAD_VALUES.items():
            for prop in properties:
                raw = "{" + json.dumps(prop) + ": " + bad + "}"
                r = await _send(api, method, _url(path), raw)
                _named(r, ["body", prop], f"{method} {path} {prop}={name}")
                sent += 1
    assert sent > 300
    assert _counts(settings.database_url) == before


async def test_a_bad_value_deep_in_a_valid_order_names_its_place(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    before = _counts(settings.database_url)
    for name, bad in BAD_VALUES.items():
        for marker, loc in (
            ('"quantity": 1', ["body", "lines", 0, "quantity"]),
            ('"name": "Erika Mustermann"', ["body", "customer", "name"]),
            ('"postcode": "51147"', ["body", "delivery_address", "postcode"]),
        ):
            for route in ("/orders", "/cs/orders"):
                body = order_request(new_order_id("NUM"))
                if route == "/cs/orders":
                    body.update(channel="phone", agent="agent-7")
                raw = json.dumps(body, ensure_ascii=False)
                assert marker in raw
                raw = raw.replace(marker, marker.split(":")[0] + ": " + bad, 1)
                _named(await _send(api, "POST", route, raw), loc, f"{route} {loc} {name}")
    # a lone surrogate in a key is named too (escaped, so the answer itself is valid JSON)
    raw = json.dumps(order_request(new_order_id("NUM")))[:-1] + ', "\\ud83dx": 1}'
    r = await _send(api, "POST", "/orders", raw)
    _named(r, ["body", "\\ud83dx"], "surrogate key")
    assert _counts(settings.database_url) == before


async def test_signed_webhooks_check_the_signature_then_the_body(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    """Signed over the raw bytes: a wrong signature is 403 whatever the body holds; a right one
    gets the body checked, 422 naming the field."""
    before = _counts(settings.database_url)
    cases = {
        ("/webhooks/shipments", "carrier"): (
            '{"shipment_id": "S-NUM-1", "event": "picked", "at": "2030-01-01T00:00:00Z", '
            '"reason": BAD}',
            ["body", "reason"],
        ),
        ("/webhooks/payments", "payment"): (
            '{"order_id": "NUM-1", "payment_id": "P-1", "amount_cents": BAD}',
            ["body", "amount_cents"],
        ),
    }
    for (path, source), (template, loc) in cases.items():
        for name, bad in BAD_VALUES.items():
            raw = template.replace("BAD", bad).encode()
            signed = sign(settings.webhook_secret(source), raw)
            r = await api.post(
                path,
                content=raw,
                headers={"content-type": "application/json", "X-OMS-Signature": signed},
            )
            _named(r, loc, f"{path} {name}")
            r = await api.post(
                path,
                content=raw,
                headers={"content-type": "application/json", "X-OMS-Signature": "sha256=00"},
            )
            assert r.status_code == 403, (path, name, r.status_code)
    assert _counts(settings.database_url) == before
