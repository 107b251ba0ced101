"""Start the embedded stack (``python -m devstack up``) on free ports for a benchmark run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedStack:
    """The whole OMS on this machine, in a temporary state directory; a context manager."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="oms-bench-"))
        self.ports = {n: free_port() for n in ("temporal", "ui", "api", "smtp", "mail")}
        self.env = {
            **os.environ,
            **(extra_env or {}),
            "OMS_STATE_DIR": str(self.dir),
            "OMS_DATABASE_URL": f"sqlite:///{self.dir}/oms.db",
            "OMS_TEMPORAL_DEV_DB": str(self.dir / "temporal.db"),
            "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{self.ports['temporal']}",
            "OMS_TEMPORAL_UI_PORT": str(self.ports["ui"]),
            "OMS_API_PORT": str(self.ports["api"]),
            "OMS_SMTP_PORT": str(self.ports["smtp"]),
            "OMS_MAIL_UI_PORT": str(self.ports["mail"]),
        }
        self.url = f"http://127.0.0.1:{self.ports['api']}"
        self.temporal_address = self.env["OMS_TEMPORAL_ADDRESS"]
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> EmbeddedStack:
        out = (self.dir / "stack.out").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devstack", "up"],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while "Ctrl-C" not in (self.dir / "stack.out").read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.dir / "stack.out").read_text())
            time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=60)

    def pids(self) -> dict[str, int]:
        """Process ids of the stack's parts (for CPU and memory readings)."""
        out: dict[str, int] = {}
        for name in ("temporal", "worker", "api"):
            pidfile = self.dir / "logs" / f"{name}.pid"
            if pidfile.exists():
                out[name] = int(pidfile.read_text())
        return out
