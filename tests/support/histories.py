"""Keeping workflow histories for the replay test (tests/unit/test_replay.py).

With ``OMS_RECORD_HISTORIES=1`` a test that calls :func:`keep` writes its order's history to
``tests/histories/<name>.json``; the replay test replays every file there against today's code.
"""

from __future__ import annotations

import os
from pathlib import Path

from temporalio.client import Client

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def keep(client: Client, workflow_id: str, name: str) -> None:
    if os.environ.get("OMS_RECORD_HISTORIES") != "1":
        return
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    (HISTORIES / f"{name}.json").write_text(history.to_json())
