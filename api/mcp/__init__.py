"""The MCP server for AI agents (phone and chat bots): verified, role-scoped order tools.

``server`` builds it and mounts it into the API at ``/mcp`` (streamable HTTP); ``python -m
api.mcp`` serves it over stdio for desktop clients; ``callers`` decides who sees which orders;
``answers`` puts them into the customer's words; ``records`` writes what only the agent knows
(a hand-over, the verification behind a return) into the order's event log.
"""
