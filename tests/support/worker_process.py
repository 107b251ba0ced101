"""A worker as its own OS process (``python worker.py``), to be SIGKILLed by crash tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """``python worker.py`` as its own process, configured through OMS_* variables."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.env = {
            **os.environ,
            "OMS_DATABASE_URL": settings.database_url,
            "OMS_TEMPORAL_ADDRESS": settings.temporal_address,
            "OMS_TASK_QUEUE": settings.task_queue,
            "OMS_SMTP_PORT": str(settings.smtp_port),
            "OMS_PUBLIC_BASE_URL": settings.public_base_url,
            "OMS_PAYMENT_SIM_LATENCY_MS": str(settings.payment_sim_latency_ms),
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "worker.py"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
