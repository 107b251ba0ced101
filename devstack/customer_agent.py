"""A reference AI agent that takes customer questions (phone transcript or chat) and answers them
through the OMS's MCP server (``/mcp``): it verifies the caller, asks where the parcel is,
changes what the customer may change, cancels, starts a return, or hands over to a person.

It is small on purpose: a starting point, not a product. The model is the retailer's choice,
any model pydantic-ai speaks to (``OMS_AGENT_MODEL``, e.g. ``openai:gpt-5.2``,
``anthropic:claude-sonnet-4-5``, ``ollama:qwen3``; install the matching extra,
``pip install "pydantic-ai-slim[openai]"``, and set that provider's key as its docs say).
The tools, their rules and every refusal come from the OMS; the agent only talks.

Run it against ``make up`` (an agent key: ``demo-agent``)::

    OMS_AGENT_MODEL=openai:gpt-5.2 .venv/bin/python -m devstack.customer_agent
    .venv/bin/python -m devstack.customer_agent --model ... --once "Wo ist mein Paket? DEMO-1"

Needs the ``agent`` extra (``pip install -e ".[agent]"``; ``make install`` has it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model

DEFAULT_URL = "http://127.0.0.1:8000/mcp"

INSTRUCTIONS = """\
You are the customer service agent of an online shop, on the phone or in a chat with one
customer. Use only the order tools; never invent an order, a date, an amount or a rule.
First verify the caller with verify-customer (order number plus e-mail address or delivery
postcode); until then say nothing about any order. Answer briefly, in the customer's language
(the tools tell you which), reading out the tools' `summary`. Before you cancel, change an
address or start a return, repeat what will happen and wait for a clear yes. If a tool refuses,
say why in plain words. For anything the tools cannot do, use hand-over-to-human with a short
summary of the conversation."""


def build_agent(model: Model | str, url: str, key: str) -> Agent[None, str]:
    """The agent: the retailer's ``model``, the OMS's tools at ``url`` under the agent's
    ``key`` (an ``agent`` key: customer-bound; a ``customer_service`` key: staff assist)."""
    tools = MCPToolset(url, headers={"X-API-Key": key}, include_instructions=True, id="oms")
    return Agent(model, instructions=INSTRUCTIONS, toolsets=[tools])


class Conversation:
    """One caller's conversation: each turn sees the ones before (and the verification the
    agent got in them)."""

    def __init__(self, agent: Agent[None, str]) -> None:
        self.agent = agent
        self.history: list[ModelMessage] = []

    async def ask(self, text: str) -> str:
        result = await self.agent.run(text, message_history=self.history)
        self.history = result.all_messages()
        return result.output


async def _chat(agent: Agent[None, str], once: str | None) -> None:
    conversation = Conversation(agent)
    async with agent:  # one connection to the MCP server for the whole conversation
        if once is not None:
            print(await conversation.ask(once))
            return
        print("Kunde / customer (empty line ends):", file=sys.stderr)
        for line in sys.stdin:
            if not line.strip():
                break
            print(await conversation.ask(line.strip()), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.customer_agent",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default=os.environ.get("OMS_MCP_URL", DEFAULT_URL))
    parser.add_argument("--key", default=os.environ.get("OMS_AGENT_KEY", "demo-agent"))
    parser.add_argument("--model", default=os.environ.get("OMS_AGENT_MODEL", ""))
    parser.add_argument("--once", default=None, help="ask one question and stop")
    args = parser.parse_args(argv)
    if not args.model:
        raise SystemExit("name the model: --model or OMS_AGENT_MODEL (e.g. openai:gpt-5.2)")
    model: Any = args.model
    asyncio.run(_chat(build_agent(model, args.url, args.key), args.once))


if __name__ == "__main__":
    main()
