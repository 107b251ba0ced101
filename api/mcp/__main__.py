"""The MCP server over stdio, for desktop MCP clients on a machine that reaches the OMS's
database and Temporal (its settings from the environment, ``OMS_*``, as every OMS process)::

    OMS_AGENT_KEY=<agent or customer-service key> python -m api.mcp

The key decides the session as over HTTP: an ``agent`` key is customer-bound (verify the caller
first), a ``customer_service`` key is staff assist. Logs go to stderr; stdout is the protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from api.http.security import principal_for_key
from api.mcp.callers import may_connect
from api.mcp.server import Runtime, build_server
from core.logging_setup import configure_logging
from core.settings import get_settings
from workflows.connection import connect


async def _serve(key: str) -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level, stream=sys.stderr)
    principal = principal_for_key(settings.database_url, key)
    if principal is None or not may_connect(principal):
        raise SystemExit("OMS_AGENT_KEY: not an active agent or customer-service key")
    client = await connect(settings)
    server = build_server(Runtime(settings, lambda: client, principal))
    await server.run_stdio_async()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m api.mcp", description=__doc__)
    parser.add_argument("--key", default=os.environ.get("OMS_AGENT_KEY", ""))
    args = parser.parse_args()
    if not args.key:
        raise SystemExit("give the key with --key or OMS_AGENT_KEY")
    asyncio.run(_serve(args.key))


if __name__ == "__main__":
    main()
