"""A throwaway PostgreSQL cluster on a free loopback port, for tests and benchmarks (restartable,
so the load bench can take it down mid-run).

Runs initdb/pg_ctl from the machine's PostgreSQL (``OMS_PG_BINDIR`` or pg_config's bindir or
/usr/lib/postgresql/<v>/bin). As root it runs them as the ``postgres`` user, since initdb
refuses root.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bindir() -> Path:
    if env := os.environ.get("OMS_PG_BINDIR"):
        return Path(env)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if candidates:
        return Path(candidates[0])
    pg_config = shutil.which("pg_config")
    if pg_config:
        return Path(subprocess.check_output([pg_config, "--bindir"], text=True).strip())
    raise FileNotFoundError("no PostgreSQL server binaries (initdb) found; set OMS_PG_BINDIR")


@dataclass
class PostgresCluster:
    datadir: Path
    port: int
    bindir: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/oms"

    def _run(self, *argv: str) -> None:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, cwd="/tmp")

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.datadir / "server.log"),
            "-o",
            f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")


def start_cluster() -> PostgresCluster:
    """initdb a fresh cluster, start it and create the ``oms`` database."""
    root = Path(tempfile.mkdtemp(prefix="oms-pg-"))
    datadir = root / "data"
    datadir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(datadir, "postgres")
        root.chmod(0o755)
    cluster = PostgresCluster(datadir=datadir, port=free_port(), bindir=_bindir())
    cluster._run(
        "initdb", "-D", str(datadir), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"
    )
    cluster.start()
    cluster._run("createdb", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "oms")
    return cluster


def remove_cluster(cluster: PostgresCluster) -> None:
    try:
        cluster.stop("immediate")
    finally:
        shutil.rmtree(cluster.datadir.parent, ignore_errors=True)
