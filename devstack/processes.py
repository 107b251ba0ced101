"""Starting and stopping the stack's child processes, and waiting for them to be ready."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx


class ChildFailed(RuntimeError):
    """A process of the stack died while we waited for it."""


Alive = Callable[[], str | None]


def _check(alive: Alive | None) -> None:
    if alive is not None and (why := alive()) is not None:
        raise ChildFailed(why)


def wait_for_port(host: str, port: int, timeout: float = 60.0, alive: Alive | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check(alive)
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def wait_for_http(url: str, timeout: float = 60.0, alive: Alive | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check(alive)
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s")


def worker_name(i: int) -> str:
    """Process and log name of the ``i``-th worker (from 1): ``worker``, ``worker-2``, ..."""
    return "worker" if i == 1 else f"worker-{i}"


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


class ProcessGroup:
    """Children started in order, stopped in reverse; logs go to files under ``log_dir``."""

    def __init__(self, log_dir: Path, cwd: Path) -> None:
        self.log_dir = log_dir
        self.cwd = cwd
        log_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.cwd,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.children.append((name, proc))

    def failed(self) -> str | None:
        for name, proc in self.children:
            if proc.poll() is not None:
                return f"{name} exited with {proc.returncode} (see {self.log_dir}/{name}.log)"
        return None

    def stop(self) -> None:
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _name, proc in reversed(self.children):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.children.clear()
