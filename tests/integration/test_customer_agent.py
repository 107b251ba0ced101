"""The reference agent (devstack/customer_agent.py) against the real MCP server, with
pydantic-ai's deterministic models instead of a language model (no network): the agent's
plumbing (pydantic-ai's MCP client, the key, the conversation) carries a call from "where is my
parcel?" to the order's own answer, and a change it makes lands in the order's event log under
the agent key's name."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel
from temporalio.client import Client

from api.app import create_app
from core.settings import Settings
from devstack.customer_agent import Conversation, build_agent
from tests.support.mcp import agent_key
from tests.support.observability import serve
from tests.support.orders import order_request, wait_for_status

LABEL = "Referenz-Agent Test"


@pytest.fixture(scope="module")
async def served(settings: Settings, temporal_client: Client, worker: None) -> AsyncIterator[str]:
    async with serve(create_app(settings, temporal_client)) as base_url:
        yield base_url


def _returns(messages: list[ModelMessage]) -> dict[str, Any]:
    """What each tool answered so far, by tool name (the latest answer wins)."""
    out: dict[str, Any] = {}
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, ToolReturnPart):
                    content = part.content
                    out[part.tool_name] = (
                        json.loads(content) if isinstance(content, str) else content
                    )
    return out


def scripted_caller(order_id: str, email: str) -> FunctionModel:
    """A model that does what a good one would for "Wo ist mein Paket?", step by step."""

    def step(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        names = {t.name for t in info.function_tools}
        assert {"verify-customer", "get-order", "cancel-order"} <= names
        done = _returns(messages)
        if "verify-customer" not in done:
            return ModelResponse(
                parts=[ToolCallPart("verify-customer", {"order_id": order_id, "email": email})]
            )
        grant = done["verify-customer"]["verification"]
        if "get-order" not in done:
            args = {"order_id": order_id, "verification": grant}
            return ModelResponse(parts=[ToolCallPart("get-order", args)])
        if "cancel-order" not in done and "storn" in str(messages[-1]).lower():
            args = {"order_id": order_id, "verification": grant, "reason": "zu spät"}
            return ModelResponse(parts=[ToolCallPart("cancel-order", args)])
        if "cancel-order" in done:
            return ModelResponse(parts=[TextPart(f"Storniert: {done['cancel-order']['message']}")])
        return ModelResponse(parts=[TextPart(done["get-order"]["summary"])])

    return FunctionModel(step)


async def test_reference_agent_answers_and_acts_through_the_tools(
    api: httpx.AsyncClient, settings: Settings, served: str
) -> None:
    email = f"kunde-{uuid.uuid4().hex[:8]}@example.org"
    body = order_request(
        lines=[("TS-0000", 1)],
        payment_method="prepayment",
        customer={
            "id": f"C-{uuid.uuid4().hex[:8]}",
            "email": email,
            "name": "Erika",
            "locale": "de",
        },
    )
    oid = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    await wait_for_status(api, oid, {"awaiting_payment"})
    key = agent_key(settings, f"test-agent-{uuid.uuid4().hex[:8]}", LABEL)

    agent = build_agent(scripted_caller(oid, email), f"{served}/mcp", key)
    async with agent:
        conversation = Conversation(agent)
        answer = await conversation.ask(f"Wo ist mein Paket? Bestellung {oid}, {email}")
        assert answer.startswith(f"Bestellung {oid} vom ")
        assert "Wir warten auf Ihre Überweisung" in answer
        answer = await conversation.ask("Dann bitte stornieren.")
    assert answer == "Storniert: order cancelled"
    order = await wait_for_status(api, oid, {"cancelled"})
    [cancelled] = [e for e in order["events"] if e["type"] == "cancelled"]
    assert cancelled["actor"] == f"agent:{LABEL}"
    assert "caller verified by order number + e-mail address" in cancelled["detail"]["reason"]


async def test_every_tool_schema_is_usable_by_a_model(
    api: httpx.AsyncClient, settings: Settings, served: str
) -> None:
    """pydantic-ai's TestModel reads every tool's schema and calls hand-over-to-human with
    made-up arguments: a caller who is not verified still reaches a person (a task without an
    order)."""
    key = agent_key(settings, f"test-agent-{uuid.uuid4().hex[:8]}", LABEL)
    model = TestModel(call_tools=["hand-over-to-human"])
    agent = build_agent(model, f"{served}/mcp", key)
    async with agent:
        result = await agent.run("Ich möchte mit einem Menschen sprechen.")
    offered = model.last_model_request_parameters
    assert offered is not None
    assert {"verify-customer", "get-order", "update-order"} <= {
        t.name for t in offered.function_tools
    }
    case_id = _returns(result.all_messages())["hand-over-to-human"]["case_id"]
    cases = (await api.get("/ops/cases")).json()["cases"]
    [case] = [c for c in cases if c["id"] == case_id]
    assert case["order_id"] == "" and case["detail"]["verification"] == "caller not verified"
    assert case["detail"]["agent"] == f"agent:{LABEL}"
