"""The MCP server for AI agents, driven by the mcp SDK's own client against the API on a real
port (real Temporal, PostgreSQL, SMTP): a verified customer asks, changes, cancels and returns,
and the effects show in the public API, the e-mails and the order's event log under the agent's
name; another customer's order reads like an unknown one; guessing is throttled; an agent key
opens nothing else."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from temporalio.client import Client

from api.app import create_app
from api.mcp.callers import NOT_VERIFIED
from core.order_tokens import self_service_url
from core.settings import Settings
from tests.support.catalogue import make_sku
from tests.support.mcp import ToolRefused, agent_key, call, mcp_session
from tests.support.observability import serve
from tests.support.orders import order_request, post_event, wait_for_status
from tests.support.returns import warehouse_in
from tests.support.smtp import Inbox, text_of, wait_for_subject

AGENT = "Telefonbot Test"
ACTOR = f"agent:{AGENT}"
NEW_ADDRESS = {
    "name": "Erika Mustermann",
    "street": "Neue Straße 5",
    "postcode": "50667",
    "city": "Köln",
}


@pytest.fixture(scope="module")
async def served(settings: Settings, temporal_client: Client, worker: None) -> AsyncIterator[str]:
    """The whole API (with /mcp) on a loopback port, sharing the session's worker."""
    async with serve(create_app(settings, temporal_client)) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def key(settings: Settings) -> str:
    return agent_key(settings, f"test-agent-{uuid.uuid4().hex[:8]}", AGENT)


def _customer(locale: str = "de") -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    return {
        "id": f"C-{tag}",
        "email": f"kunde-{tag}@example.org",
        "name": "Erika Mustermann",
        "locale": locale,
    }


async def _order(
    api: httpx.AsyncClient, settings: Settings, customer: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    wh = warehouse_in(settings.database_url, "Dortmund")
    a = make_sku(settings.database_url, {wh: 10}, price_cents=2000)
    b = make_sku(settings.database_url, {wh: 10}, price_cents=1500)
    body = order_request(lines=[(a, 1), (b, 2)], customer=customer, **extra)
    r = await api.post("/orders", json=body)
    assert r.status_code == 202, r.text
    return body


def _agent_events(order: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["type"]: e for e in order["events"] if e["actor"] == ACTOR}


async def test_verified_customer_asks_changes_cancels_and_returns(
    api: httpx.AsyncClient, settings: Settings, served: str, key: str, inbox: Inbox
) -> None:
    customer = _customer()
    body = await _order(api, settings, customer, payment_method="prepayment")
    oid = body["order_id"]
    await wait_for_status(api, oid, {"awaiting_payment"})  # not released: it waits for money

    async with mcp_session(served, key) as mcp:
        names = {t.name for t in (await mcp.list_tools()).tools}
        assert {"verify-customer", "get-order", "update-order", "cancel-order-lines"} <= names
        assert not {n for n in names if "refund" in n or "review" in n or "payment" in n}

        v = await call(mcp, "verify-customer", order_id=oid, postcode="51147")
        assert v["verified_by"] == "order number + delivery postcode" and v["locale"] == "de"
        assert [o["order_id"] for o in v["orders"]] == [oid]
        grant = v["verification"]

        status = await call(mcp, "get-order", order_id=oid, verification=grant)
        assert status["status"] == "awaiting_payment"
        assert status["waiting_for"] == "Wir warten auf Ihre Überweisung über 54,95 €."
        assert status["total"] == "54,95 €" and status["may_change_address"]
        assert "Bestellung" in status["summary"] and status["internal_waiting_for"] is None

        changed = await call(
            mcp,
            "update-order",
            order_id=oid,
            verification=grant,
            delivery_address=NEW_ADDRESS,
            reason="zieht um",
        )
        assert changed["ok"] and changed["recorded_as"] == ACTOR

        cut = await call(
            mcp,
            "cancel-order-lines",
            order_id=oid,
            verification=grant,
            lines=[{"line_id": "L2", "quantity": 1}],
            request_id="cut-1",
        )
        assert cut["total"] == "39,95 €" and cut["status_text"] == "wartet auf Ihre Zahlung"
        again = await call(  # the agent retries after a lost answer: done once, same answer
            mcp,
            "cancel-order-lines",
            order_id=oid,
            verification=grant,
            lines=[{"line_id": "L2", "quantity": 1}],
            request_id="cut-1",
        )
        assert again == cut

    order = (await api.get(f"/orders/{oid}")).json()
    assert order["delivery_address"]["street"] == "Neue Straße 5"
    assert [ln["quantity"] for ln in order["lines"]] == [1, 1]
    mine = _agent_events(order)
    modified = next(e for t, e in mine.items() if t.startswith("modified"))
    assert modified["detail"]["reason"] == (
        f"zieht um; caller verified by order number + delivery postcode (order {oid})"
    )
    assert any(t.startswith("lines_cancelled") for t in mine)
    assert "Neue Straße 5" in text_of(await wait_for_subject(inbox, oid, "Ihre geänderte"))
    await wait_for_subject(inbox, oid, "Teilstornierung")

    # paid, shipped, delivered: then a return with its label
    r = await api.post(
        "/webhooks/payments",
        json={"order_id": oid, "payment_id": f"BANK-{oid}", "amount_cents": 3995},
    )
    assert r.status_code == 202
    running = await wait_for_status(api, oid, {"in_fulfilment"})
    for sh in running["shipments"]:
        if sh["status"] != "cancelled":
            await post_event(api, sh["shipment_id"], "shipped")
            await post_event(api, sh["shipment_id"], "delivered")
    await wait_for_status(api, oid, {"completed"})

    async with mcp_session(served, key) as mcp:
        status = await call(mcp, "get-order", order_id=oid, verification=grant)
        [parcel] = [p for p in status["parcels"] if p["status"] == "delivered"]
        assert parcel["tracking_number"] and parcel["delivered_on"]
        assert {ln["line_id"]: ln["returnable_units"] for ln in status["lines"]} == {
            "L1": 1,
            "L2": 1,
        }
        with pytest.raises(ToolRefused, match="only 1 unit"):
            await call(
                mcp,
                "create-return",
                order_id=oid,
                verification=grant,
                lines=[{"line_id": "L1", "quantity": 2, "reason": "wrong_size"}],
            )
        started = await call(
            mcp,
            "create-return",
            order_id=oid,
            verification=grant,
            lines=[{"line_id": "L1", "quantity": 1, "reason": "wrong_size"}],
        )
    [ret] = started["returns"]
    assert ret["label_url"].startswith(f"http://oms.test/my/orders/{oid}/returns/")
    assert ret["refund"] == "20,00 €"
    returns = (await api.get(f"/orders/{oid}/returns")).json()["returns"]
    assert [x["return_id"] for x in returns] == [ret["return_id"]]
    mail = await wait_for_subject(inbox, oid, f"Ihre Retoure {ret['return_id']}")
    assert ret["return_id"] in text_of(mail)

    order = (await api.get(f"/orders/{oid}")).json()
    mine = _agent_events(order)
    assert "return_requested" in {e["type"] for e in order["events"] if e["actor"] == ACTOR}
    note = mine[f"return_started_by_agent_{ret['return_id']}"]["detail"]
    assert note["verification"].startswith("caller verified by order number + delivery postcode")


async def test_another_customers_order_is_not_there_and_guessing_is_throttled(
    api: httpx.AsyncClient, settings: Settings, served: str, key: str
) -> None:
    mine = await _order(api, settings, _customer())
    theirs = await _order(api, settings, _customer())
    await wait_for_status(api, mine["order_id"], {"in_fulfilment"})
    await wait_for_status(api, theirs["order_id"], {"in_fulfilment"})
    unknown = f"T-{uuid.uuid4().hex[:12]}"

    async with mcp_session(served, key) as mcp:
        v = await call(
            mcp, "verify-customer", order_id=mine["order_id"], email=mine["customer"]["email"]
        )
        grant = v["verification"]
        answers = {}
        for oid in (theirs["order_id"], unknown):
            for tool in ("get-order", "cancel-order"):
                with pytest.raises(ToolRefused) as refused:
                    await call(mcp, tool, order_id=oid, verification=grant)
                answers[(oid, tool)] = str(refused.value).replace(oid, "<id>").replace(tool, "<t>")
        assert len(set(answers.values())) == 1, answers  # the same words for both
        assert "was not found" in next(iter(answers.values()))
        listed = await call(mcp, "get-orders", verification=grant)
        assert [o["order_id"] for o in listed["orders"]] == [mine["order_id"]]

        # a link from the order's e-mail verifies too; a link of another order does not
        link = self_service_url(settings, mine["order_id"])
        assert (await call(mcp, "verify-customer", order_id=mine["order_id"], link=link))[
            "verified_by"
        ] == "the order's self-service link"

        # guessing: the same words for a wrong e-mail and an unknown order, then paused
        target = await _order(api, settings, _customer())
        words = []
        for i in range(10):
            with pytest.raises(ToolRefused) as refused:
                await call(
                    mcp, "verify-customer", order_id=target["order_id"], email=f"x{i}@example.org"
                )
            words.append(str(refused.value))
        with pytest.raises(ToolRefused) as refused:
            await call(mcp, "verify-customer", order_id=unknown, email="x@example.org")
        assert str(refused.value) == words[0] and NOT_VERIFIED in words[0]
        limit = settings.agent_verify_max_failures
        assert words[:limit] == [words[0]] * limit
        assert all("paused" in w for w in words[limit:])
        with pytest.raises(ToolRefused, match="paused"):  # even the right answer, now
            await call(
                mcp,
                "verify-customer",
                order_id=target["order_id"],
                email=target["customer"]["email"],
            )

    # a verification is bound to the key it was issued to
    other = agent_key(settings, f"test-agent-{uuid.uuid4().hex[:8]}", "Chatbot Test")
    async with mcp_session(served, other) as mcp:
        with pytest.raises(ToolRefused, match="not verified"):
            await call(mcp, "get-order", order_id=mine["order_id"], verification=grant)


async def test_an_agent_key_opens_nothing_but_the_mcp_server(
    api: httpx.AsyncClient, settings: Settings, served: str, key: str
) -> None:
    body = await _order(api, settings, _customer())
    oid = body["order_id"]
    as_agent = {"X-API-Key": key}
    for method, path, payload in (
        ("GET", f"/orders/{oid}", None),
        ("GET", "/orders", None),
        ("POST", f"/orders/{oid}/cancel", {"agent": "x"}),
        ("POST", f"/orders/{oid}/review", {"agent": "x", "approve": True}),
        ("POST", f"/orders/{oid}/returns", {"agent": "x", "lines": []}),
        ("GET", "/ops/cases", None),
        ("POST", "/orders", body),
    ):
        r = await api.request(method, path, json=payload, headers=as_agent)
        assert r.status_code == 403, (path, r.status_code, r.text)
    async with httpx.AsyncClient(base_url=served) as raw:
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        assert (await raw.post("/mcp", json=ping)).status_code == 401
        shop = agent_key(settings, f"test-shop-{uuid.uuid4().hex[:8]}", "Shop Test", role="shop")
        assert (await raw.post("/mcp", json=ping, headers={"X-API-Key": shop})).status_code == 403


async def test_staff_assist_sees_any_order_and_hands_over_with_the_summary(
    api: httpx.AsyncClient, settings: Settings, served: str, key: str
) -> None:
    body = await _order(api, settings, _customer(locale="en"))
    oid = body["order_id"]
    await wait_for_status(api, oid, {"in_fulfilment"})
    staff = agent_key(
        settings, f"test-cs-{uuid.uuid4().hex[:8]}", "CS Copilot Test", role="customer_service"
    )
    async with mcp_session(served, staff) as mcp:
        status = await call(mcp, "get-order", order_id=oid)  # no verification: CS rights
        assert status["locale"] == "en" and status["status_text"] == "being prepared for shipping"
        assert status["internal_waiting_for"]  # the workflow's own words, for staff only
        assert status["why_not"]["modify"]  # released: the order's own reason

    async with mcp_session(served, key) as mcp:
        grant = (await call(mcp, "verify-customer", order_id=oid, email=body["customer"]["email"]))[
            "verification"
        ]
        with pytest.raises(ToolRefused, match="The order refused: .*released"):
            await call(
                mcp,
                "update-order",
                order_id=oid,
                verification=grant,
                delivery_address=NEW_ADDRESS,
            )
        summary = "Customer wants the parcel sent to a neighbour; could not change it (released)."
        handed = await call(
            mcp,
            "hand-over-to-human",
            summary=summary,
            verification=grant,
            order_id=oid,
            callback="+49 221 1234567",
        )
    cases = (await api.get("/ops/cases", params={"order_id": oid})).json()["cases"]
    [case] = [c for c in cases if c["id"] == handed["case_id"]]
    assert case["kind"] == "customer_handover" and case["detail"]["summary"] == summary
    order = (await api.get(f"/orders/{oid}")).json()
    note = _agent_events(order)[f"handed_to_human_{handed['case_id']}"]
    assert note["detail"]["summary"] == summary
    assert note["detail"]["verification"].startswith("caller verified by order number + e-mail")


async def test_the_same_tools_over_stdio_for_desktop_clients(
    api: httpx.AsyncClient, settings: Settings, key: str
) -> None:
    body = await _order(api, settings, _customer(locale="en"))
    oid = body["order_id"]
    await wait_for_status(api, oid, {"in_fulfilment"})
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "api.mcp"],
        env={
            "OMS_AGENT_KEY": key,
            "OMS_DATABASE_URL": settings.database_url,
            "OMS_TEMPORAL_ADDRESS": settings.temporal_address,
            "OMS_PUBLIC_BASE_URL": settings.public_base_url,
        },
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write) as mcp:
        await mcp.initialize()
        v = await call(mcp, "verify-customer", order_id=oid, email=body["customer"]["email"])
        status = await call(mcp, "get-order", order_id=oid, verification=v["verification"])
    assert status["status_text"] == "being prepared for shipping"
    assert status["summary"].startswith(f"Order {oid} of ")
