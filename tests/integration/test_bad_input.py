"""Bad input never breaks the API: oversized payloads get 413 or a 422 naming the field;
unicode and injection strings in text fields are either stored and echoed verbatim (inert in
SQL, e-mails and filters) or refused with a 422 naming the field; a NUL character, which
PostgreSQL cannot store, is always a 422 naming the field. Never a 5xx, nothing changed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlmodel import func, select

from core.db.engine import session_scope
from core.db.schema import ApiKey, OrderRecord, ReturnRecord, StockHold, WebhookSubscription
from core.settings import Settings
from core.signing import sign
from tests.support.orders import new_order_id, order_request
from tests.support.smtp import Inbox, text_of, wait_for_subject

HOSTILE = {
    "sql": "'; DROP TABLE order_record; --",
    "html": "<script>alert('x')</script>",
    "template": "{{7*7}} ${7*7} {% raw %}",
    "path": "../../etc/passwd",
    "crlf": "Erika\r\nBcc: evil@example.org",
    "emoji": "Erika 🧦👟🏳️‍🌈 Müller",
    "rtl": "\u202eاحمد שלום",
    "combining": "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
    "long": "Ω" * 200,
}
NUL = "Erika\x00Mustermann"
TABLES = (OrderRecord, ReturnRecord, StockHold, WebhookSubscription, ApiKey)
"""Counted before and after: only requests add rows here (running orders add events...)."""


def _counts(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        return {t.__name__: s.exec(select(func.count()).select_from(t)).one() for t in TABLES}


def _locs(r: httpx.Response) -> list[list[Any]]:
    assert r.status_code == 422, (r.status_code, r.text[:500])
    return [err["loc"] for err in r.json()["detail"]]


# ---- oversized payloads -----------------------------------------------------------------


async def test_a_five_megabyte_body_is_413_naming_the_limit(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    before = _counts(settings.database_url)
    body = order_request(new_order_id("BIG"))
    body["padding"] = "x" * (5 << 20)
    r = await api.post("/orders", json=body)
    assert r.status_code == 413, r.text[:300]
    assert "max_request_bytes" in r.json()["detail"]
    assert str(settings.max_request_bytes) in r.json()["detail"]
    assert _counts(settings.database_url) == before


async def test_a_chunked_body_without_length_is_cut_off_with_413(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    before = _counts(settings.database_url)
    chunk = b" " * 65_536

    async def endless() -> AsyncIterator[bytes]:
        yield b'{"order_id": "CHUNKED-1", "customer": {"name": "'
        for _ in range(40):  # 2.5 MiB, no Content-Length: counted as it arrives
            yield chunk

    r = await api.post("/orders", content=endless(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    assert "max_request_bytes" in r.json()["detail"]
    assert _counts(settings.database_url) == before


async def test_an_oversized_signed_webhook_is_413(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    body = json.dumps({"shipment_id": "S-1", "event": "picked", "reason": "x" * (2 << 20)}).encode()
    r = await api.post(
        "/webhooks/shipments",
        content=body,
        headers={
            "content-type": "application/json",
            "X-OMS-Signature": sign(settings.webhook_secret("carrier"), body),
        },
    )
    assert r.status_code == 413, r.text[:300]


async def test_huge_orders_and_strings_are_422_naming_the_field(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    before = _counts(settings.database_url)
    many = order_request(lines=[(f"TS-{n:04d}", 1) for n in range(10_000)])
    assert ["body", "lines"] in _locs(await api.post("/orders", json=many))
    for path in (
        ("customer", "name"),
        ("delivery_address", "street"),
        ("delivery_address", "city"),
        ("customer", "id"),
    ):
        body = order_request()
        body[path[0]][path[1]] = "x" * 100_000
        assert ["body", *path] in _locs(await api.post("/orders", json=body))
    body = order_request(order_id="A" * 100_000)
    assert ["body", "order_id"] in _locs(await api.post("/orders", json=body))
    assert _counts(settings.database_url) == before


# ---- unicode and injection strings ------------------------------------------------------


async def test_hostile_text_is_stored_and_echoed_verbatim(
    api: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    """Free-text fields take any text: kept exactly, inert in SQL, filters and e-mails."""
    placed: dict[str, str] = {}
    for name, text in HOSTILE.items():
        body = order_request(new_order_id(f"HOSTILE-{name}"))
        body["customer"].update(name=text, id=text[:64])
        body["delivery_address"].update(name=text, street=text, city=text[:100])
        r = await api.post("/orders", json=body)
        assert r.status_code == 202, (name, r.text[:500])
        placed[name] = body["order_id"]

        shown = (await api.get(f"/orders/{body['order_id']}")).json()
        assert shown["customer_id"] == text[:64]
        assert shown["delivery_address"]["street"] == text
        assert shown["delivery_address"]["city"] == text[:100]
        found = (await api.get("/orders", params={"customer_id": text[:64]})).json()
        assert [o["order_id"] for o in found["orders"]] == [body["order_id"]], name

    with session_scope(settings.database_url) as s:  # the table is still there, all of it
        assert s.exec(
            select(func.count())
            .select_from(OrderRecord)
            .where(OrderRecord.order_id.in_(placed.values()))
        ).one() == len(placed)

    mail = await wait_for_subject(inbox, placed["crlf"], "Bestellbestätigung")
    assert mail["Bcc"] is None
    assert mail["To"] == "erika.mustermann@example.org"
    assert "Bcc: evil@example.org" not in "".join(f"{k}: {v}\n" for k, v in mail.items())
    mail = await wait_for_subject(inbox, placed["html"], "Bestellbestätigung")
    html = mail.get_body(preferencelist=("html",))
    if html is not None:  # the HTML part escapes it; the text part keeps it as typed
        assert "<script>" not in html.get_content()
    assert HOSTILE["html"] in text_of(mail)


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_text_in_constrained_fields_is_422_naming_them(
    name: str, api: httpx.AsyncClient, settings: Settings
) -> None:
    text = HOSTILE[name]
    before = _counts(settings.database_url)
    body = order_request(new_order_id("CONSTRAINED"))
    body["customer"]["email"] = text
    body["delivery_address"]["postcode"] = text
    body["lines"][0]["sku"] = text[:64]
    body["pickup_store_id"] = text[:64]
    locs = _locs(await api.post("/orders", json=body))
    assert ["body", "customer", "email"] in locs
    assert ["body", "delivery_address", "postcode"] in locs
    body = order_request(order_id=text)
    assert ["body", "order_id"] in _locs(await api.post("/orders", json=body))
    body = order_request(new_order_id("CONSTRAINED"), lines=[(text[:64], 1)])
    assert ["body", "lines", 0, "sku"] in _locs(await api.post("/orders", json=body))
    assert _counts(settings.database_url) == before


WRITES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/orders/{x}/cancel", {"agent": "{t}", "reason": "{t}"}),
    (
        "POST",
        "/orders/{x}/cancel-lines",
        {"agent": "{t}", "reason": "{t}", "lines": [{"line_id": "L1", "quantity": 1}]},
    ),
    (
        "POST",
        "/orders/{x}/modify",
        {
            "agent": "{t}",
            "delivery_address": {
                "name": "{t}",
                "street": "{t}",
                "postcode": "51147",
                "city": "{t}",
            },
        },
    ),
    ("POST", "/orders/{x}/review", {"agent": "{t}", "reason": "{t}", "approve": False}),
    ("POST", "/orders/{x}/pickup", {"location_id": "{t}", "code": "123456", "staff": "{t}"}),
    (
        "POST",
        "/orders/{x}/returns",
        {
            "agent": "{t}",
            "lines": [{"line_id": "L1", "quantity": 1, "reason": "other", "note": "{t}"}],
        },
    ),
    (
        "POST",
        "/webhooks/shipments",
        {"shipment_id": "{t}", "event": "rejected", "reason": "{t}", "carrier": "{t}"},
    ),
    (
        "POST",
        "/webhooks/payments",
        {"order_id": "{t}", "payment_id": "{t}", "amount_cents": 100, "reference": "{t}"},
    ),
    (
        "POST",
        "/webhooks/returns",
        {"return_id": "{t}", "event": "in_transit", "carrier": "{t}", "by": "{t}"},
    ),
    ("POST", "/ops/locations/{x}/offline", {"reason": "{t}"}),
    (
        "POST",
        "/inventory/holds",
        {"hold_id": "H-bad-input", "lines": [{"sku": "{t}", "quantity": 1, "location_id": "{t}"}]},
    ),
    (
        "POST",
        "/inventory/adjustments",
        {
            "adjustment_id": "A-bad-input",
            "location_id": "{t}",
            "sku": "{t}",
            "quantity": 1,
            "reason": "{t}",
        },
    ),
    ("POST", "/inventory/promise", {"postcode": "51147", "lines": [{"sku": "{t}", "quantity": 1}]}),
    ("PUT", "/inventory/policies/{x}/{x}", {"safety_stock": 1}),
    ("GET", "/inventory/availability/{x}", {}),
    ("GET", "/returns/{x}", {}),
]


def _fill(value: Any, text: str) -> Any:
    if isinstance(value, str):
        return value.replace("{t}", text[:64])
    if isinstance(value, list):
        return [_fill(v, text) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, text) for k, v in value.items()}
    return value


async def test_hostile_text_on_the_other_write_endpoints_is_a_clean_4xx(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    """Unknown ids named by hostile text: 404/409/422, never 5xx, nothing written."""
    before = _counts(settings.database_url)
    for text in [*HOSTILE.values(), NUL]:
        for method, path, body in WRITES:
            url = path.replace("{x}", quote(text[:64], safe=""))
            r = await api.request(method, url, json=_fill(body, text) if body else None)
            assert 400 <= r.status_code < 500, (method, path, text, r.status_code, r.text[:300])
    assert _counts(settings.database_url) == before


# ---- NUL characters ---------------------------------------------------------------------


ORDER_TEXT_FIELDS = [
    ("customer", "name"),
    ("customer", "id"),
    ("customer", "group"),
    ("delivery_address", "name"),
    ("delivery_address", "street"),
    ("delivery_address", "city"),
]


@pytest.mark.parametrize("field", ORDER_TEXT_FIELDS, ids=".".join)
async def test_nul_in_an_order_is_422_naming_the_field(
    field: tuple[str, str], api: httpx.AsyncClient, settings: Settings
) -> None:
    before = _counts(settings.database_url)
    body = order_request(new_order_id("NUL"))
    body[field[0]][field[1]] = NUL
    r = await api.post("/orders", json=body)
    assert ["body", *field] in _locs(r)
    assert "NUL" in r.text
    body = {**order_request(new_order_id("NUL")), "channel": "phone", "agent": NUL}
    assert ["body", "agent"] in _locs(await api.post("/cs/orders", json=body))
    assert _counts(settings.database_url) == before


NUL_BODIES: list[tuple[str, dict[str, Any], list[Any]]] = [
    ("/orders/NUL-1/cancel", {"agent": NUL}, ["body", "agent"]),
    ("/orders/NUL-1/cancel", {"agent": "a", "reason": NUL}, ["body", "reason"]),
    (
        "/orders/NUL-1/modify",
        {
            "agent": "a",
            "delivery_address": {"name": NUL, "street": "s", "postcode": "51147", "city": "c"},
        },
        ["body", "delivery_address", "name"],
    ),
    (
        "/orders/NUL-1/returns",
        {"agent": "a", "lines": [{"line_id": "L1", "quantity": 1, "reason": "other", "note": NUL}]},
        ["body", "lines", 0, "note"],
    ),
    (
        "/webhooks/shipments",
        {"shipment_id": "S-1", "event": "rejected", "reason": NUL},
        ["body", "reason"],
    ),
    (
        "/webhooks/payments",
        {"order_id": "O-1", "payment_id": "P", "amount_cents": 1, "reference": NUL},
        ["body", "reference"],
    ),
    (
        "/webhooks/returns",
        {"return_id": "R-1", "event": "in_transit", "carrier": NUL},
        ["body", "carrier"],
    ),
    ("/ops/locations/WH-HAMBURG/offline", {"reason": NUL}, ["body", "reason"]),
    (
        "/inventory/adjustments",
        {
            "adjustment_id": "A-nul",
            "location_id": "WH-HAMBURG",
            "sku": "TS-0000",
            "quantity": 1,
            "reason": NUL,
        },
        ["body", "reason"],
    ),
    (
        "/inventory/promise",
        {"postcode": "51147", "lines": [{"sku": NUL, "quantity": 1}]},
        ["body", "lines", 0, "sku"],
    ),
    ("/ops/subscriptions", {"url": "http://example.org/hook", "label": NUL}, ["body", "label"]),
    (
        "/ops/subscriptions",
        {"url": "http://example.org/hook", "event_types": [NUL]},
        ["body", "event_types"],
    ),
]


async def test_nul_anywhere_else_is_422_naming_the_field(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    before = _counts(settings.database_url)
    for path, body, loc in NUL_BODIES:
        assert loc in _locs(await api.post(path, json=body)), path
    assert ["query", "customer_id"] in _locs(await api.get("/orders", params={"customer_id": NUL}))
    assert ["query", "sku"] in _locs(await api.get("/inventory/availability", params={"sku": NUL}))
    assert ["path"] in _locs(await api.get("/orders/A%00B"))
    assert _counts(settings.database_url) == before


async def test_nul_in_a_stock_feed_is_a_bad_row(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/inventory/feeds/NUL-FEED-1",
        params={"mode": "delta"},
        content="location_id,sku,quantity\nWH-HAMBURG,TS\x000000,1\n",
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["rows_bad"] == 1 and report["errors"][0]["field"] == "sku"


async def test_a_lone_surrogate_in_a_json_lines_feed_is_a_bad_row(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/inventory/feeds/SURROGATE-FEED-1",
        params={"mode": "delta"},
        content='{"location_id": "WH-HAMBURG", "sku": "TS\\ud800", "quantity": 1}\n',
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["rows_bad"] == 1 and report["errors"][0]["field"] == "sku"


# ---- regressions found by fuzzing -------------------------------------------------------


async def test_ids_beyond_the_database_integers_are_422(api: httpx.AsyncClient) -> None:
    big = 2**40
    assert ["path", "subscription_id"] in _locs(await api.get(f"/ops/subscriptions/{big}"))
    assert ["path", "subscription_id"] in _locs(await api.delete(f"/ops/subscriptions/{big}"))
    r = await api.post(f"/ops/subscriptions/1/deliveries/{big}/retry")
    assert ["path", "delivery_id"] in _locs(r)
    r = await api.get("/inventory/ledger", params={"after_id": big})
    assert ["query", "after_id"] in _locs(r)
    assert ["query", "offset"] in _locs(await api.get("/orders", params={"offset": big}))


async def test_non_ascii_tokens_and_signatures_are_refused_not_crashed(
    api: httpx.AsyncClient,
) -> None:
    """hmac.compare_digest raises on non-ASCII str: compared as bytes, they are just wrong."""
    r = await api.get("/my/orders/NOPE-1", params={"t": "ä" * 22})
    assert 400 <= r.status_code < 500
    r = await api.get("/my/orders/NOPE-1/returns/R-1/label.pdf", params={"t": "ü"})
    assert 400 <= r.status_code < 500
    r = await api.post(
        "/webhooks/shipments",
        content=b"{}",
        headers={"content-type": "application/json", "X-OMS-Signature": b"sha256=\xe4"},
    )
    assert r.status_code == 403
    r = await api.get("/console", headers={"cookie": "oms_console=ä.ö".encode("latin-1")})
    assert r.status_code < 500
