"""localstripe (a stateful Stripe API emulator, PyPI ``localstripe``) as a test component.

It is started as its own process on a free loopback port and stopped after the session. Its
``localstripe`` command binds every interface (``::``) and pickles its whole store to
``/tmp/localstripe.pickle`` after each write, which two test runs on one machine would share;
so the process runs a few lines instead of the command: the same aiohttp app, bound to
127.0.0.1, with the store kept in memory only. If it cannot start, the fixture raises: a
payment test never silently skips.

localstripe ignores ``Idempotency-Key`` (see ``activities/payments/stripe_provider.py`` for
what that means for the contract tests).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import httpx

API_KEY = "sk_test_oms_localstripe"
"""localstripe accepts any key that starts with ``sk_``."""

_SERVER = """
import sys
from aiohttp import web
from localstripe import resources, server

resources.Store.dump_to_disk = lambda self: None  # in memory only: no shared /tmp pickle
web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


@dataclass(frozen=True)
class LocalStripe:
    url: str
    api_key: str = API_KEY


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(
    proc: subprocess.Popen[bytes], log: IO[bytes], url: str, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            out = log.read().decode(errors="replace")
            raise RuntimeError(f"localstripe exited with {proc.returncode}:\n{out}")
        try:
            r = httpx.get(f"{url}/v1/balance", auth=(API_KEY, ""), timeout=1)
            if r.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"localstripe did not answer at {url} within {timeout_s} s")


@contextmanager
def start_localstripe(timeout_s: float = 30) -> Iterator[LocalStripe]:
    """A running localstripe on a free loopback port; stopped (and waited for) afterwards."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: nobody has to drain it
        proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_until_up(proc, log, url, timeout_s)
            yield LocalStripe(url=url)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
