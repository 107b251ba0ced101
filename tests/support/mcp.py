"""An MCP client for tests: the SDK's own ``ClientSession`` over its streamable-HTTP client,
talking to the API served on a real loopback port."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from api.http.auth_keys import issue_key, verify_key
from core.db.engine import session_scope
from core.settings import Settings


def agent_key(settings: Settings, key: str, label: str, role: str = "agent") -> str:
    """A key of ``role`` named ``label`` (kept when it exists)."""
    with session_scope(settings.database_url) as s:
        if verify_key(s, key) is None:
            issue_key(s, role=role, label=label, key=key)
    return key


@asynccontextmanager
async def mcp_session(base_url: str, key: str) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(headers={"X-API-Key": key}, timeout=60) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


class ToolRefused(Exception):
    """The tool answered with an error (its text is the exception's)."""


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """The tool's structured answer; ``ToolRefused`` with its text when it said no."""
    result = await session.call_tool(tool, arguments)
    text = "".join(getattr(c, "text", "") for c in result.content)
    if result.is_error:
        raise ToolRefused(text)
    if result.structured_content is not None:
        return dict(result.structured_content)
    answer: dict[str, Any] = json.loads(text)
    return answer
