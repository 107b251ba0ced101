"""The OMS as the load bench runs it: real PostgreSQL, the Temporal dev server on its database
file, the mail catcher, the worker (``OMS_WORKERS`` or ``workers`` processes, each with its own
metrics port) and the API, each its own process that the fault schedule can kill, stop and
start again.

Unlike ``devstack up`` (SQLite, one process tree), every part here is started separately so a
fault hits exactly one of them, as it would in production.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from core import demo_network
from core.db.migrate import upgrade
from core.settings import get_settings
from devstack.binaries import DEV_SERVER_SQLITE, temporal_cli
from devstack.demo_data import load_demo
from devstack.postgres import PostgresCluster, free_port, remove_cluster, start_cluster
from devstack.processes import wait_for_http, wait_for_port, worker_name
from workflows.search_attributes import cli_flags

ROOT = Path(__file__).resolve().parent.parent


class Service:
    """One child process, restartable with the same command line and environment."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def send(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.proc is None:
            return
        self.send(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class LoadStack:
    """Start with :meth:`up`, end with :meth:`down`; ``settings_env`` is what every OMS
    process gets (``OMS_*``)."""

    def __init__(self, extra_env: dict[str, str] | None = None, workers: int | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="oms-load-"))
        (self.dir / "logs").mkdir()
        self.mail_dir = self.dir / "mail"
        self.workers = workers if workers is not None else get_settings().workers
        self.worker_names = [worker_name(i) for i in range(1, self.workers + 1)]
        self.ports = {
            n: free_port() for n in ("temporal", "ui", "api", "smtp", "mail", *self.worker_names)
        }
        self.pg: PostgresCluster | None = None
        self.extra_env = extra_env or {}
        self.services: dict[str, Service] = {}

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.ports['temporal']}"

    def oms_env(self) -> dict[str, str]:
        assert self.pg is not None
        return {
            **os.environ,
            **self.extra_env,
            "OMS_DATABASE_URL": self.pg.url,
            "OMS_TEMPORAL_ADDRESS": self.temporal_address,
            "OMS_SMTP_HOST": "127.0.0.1",
            "OMS_SMTP_PORT": str(self.ports["smtp"]),
            "OMS_MAIL_UI_PORT": str(self.ports["mail"]),
            "OMS_API_HOST": "127.0.0.1",
            "OMS_API_PORT": str(self.ports["api"]),
            "OMS_STATE_DIR": str(self.dir),
            "OMS_LOG_FORMAT": "json",
        }

    def up(self) -> None:
        self.pg = start_cluster()
        upgrade(self.pg.url)
        load_demo(self.pg.url)  # demo/*.csv through the importer; the ledger explains it
        demo_network.seed_staff_keys(self.pg.url)
        env, logs = self.oms_env(), self.dir / "logs"
        py = sys.executable
        self.services = {
            "temporal": Service(
                "temporal",
                [
                    temporal_cli(),
                    "server",
                    "start-dev",
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    str(self.ports["temporal"]),
                    "--ui-port",
                    str(self.ports["ui"]),
                    "--db-filename",
                    str(self.dir / "temporal.db"),
                    "--log-level",
                    "warn",
                    *DEV_SERVER_SQLITE,
                    *cli_flags(),
                ],
                env,
                logs,
            ),
            "mail": Service(
                "mail",
                [py, "-m", "devstack.mailcatcher"],
                {**env, "OMS_MAIL_DIR": str(self.mail_dir)},
                logs,
            ),
            **{
                name: Service(
                    name,
                    [py, str(ROOT / "worker.py")],
                    {**env, "OMS_WORKER_METRICS_PORT": str(self.ports[name])},
                    logs,
                )
                for name in self.worker_names
            },
            "api": Service(
                "api",
                [
                    py,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "api.app:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.ports["api"]),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                env,
                logs,
            ),
        }
        self.services["temporal"].start()
        self.services["mail"].start()
        wait_for_port("127.0.0.1", self.ports["temporal"], timeout=60)
        wait_for_port("127.0.0.1", self.ports["smtp"], timeout=30)
        for name in self.worker_names:
            self.services[name].start()
        self.services["api"].start()
        wait_for_http(f"{self.api_url}/health", timeout=60)

    def down(self, keep: bool = False) -> None:
        """Stop everything; ``keep``: leave PostgreSQL's data directory for a look afterwards
        (start it with pg_ctl -D <datadir> start)."""
        for name in ("api", *self.worker_names, "mail", "temporal"):
            if name in self.services:
                self.services[name].stop()
        if self.pg is not None:
            if keep:
                self.pg.stop()
            else:
                remove_cluster(self.pg)

    # ---- faults ------------------------------------------------------------------------
    def kill_worker(self) -> None:
        """SIGKILL the first worker: no graceful shutdown, running activities are lost mid-way
        (with more than one worker, the others carry on meanwhile)."""
        self.services["worker"].stop(signal.SIGKILL)

    def restart(self, name: str) -> None:
        self.services[name].stop()
        self.services[name].start()
        if name == "temporal":
            wait_for_port("127.0.0.1", self.ports["temporal"], timeout=60)

    def restart_postgres(self) -> None:
        """A fast shutdown (every connection cut) and a start on the same data directory."""
        assert self.pg is not None
        self.pg.stop("fast")
        self.pg.start()

    # ---- readings ----------------------------------------------------------------------
    def processes(self) -> dict[str, list[psutil.Process]]:
        """The live processes of each part (PostgreSQL: the postmaster and its backends)."""
        out: dict[str, list[psutil.Process]] = {}
        for name, svc in self.services.items():
            if svc.alive() and svc.proc is not None:
                root = psutil.Process(svc.proc.pid)
                out[name] = [root, *root.children(recursive=True)]
        if self.pg is not None:
            pidfile = self.pg.datadir / "postmaster.pid"
            if pidfile.exists():
                try:
                    root = psutil.Process(int(pidfile.read_text().split()[0]))
                    out["postgres"] = [root, *root.children(recursive=True)]
                except (psutil.Error, ValueError):
                    pass
        return out
