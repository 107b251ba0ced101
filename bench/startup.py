"""`make up` from a fresh clone: how long until the stack prints where to look.

Clones the repository's committed HEAD into a temporary folder, runs the README's start command
there (`make up`: creates the virtualenv and installs the project, migrates, loads the demo
network through the master-data importer, starts Temporal, worker, API and mail catcher) on free
ports, and times it until the banner ("Ctrl-C") appears. Then stops it with Ctrl-C. Prints the
figures and writes bench/results/startup.json.

    .venv/bin/python bench/startup.py              # fresh clone, fresh virtualenv
    .venv/bin/python bench/startup.py --runs 2     # the second run reuses the clone's virtualenv

pip's download cache is whatever the machine has (a first-ever install downloads everything).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "startup.json"
sys.path.insert(0, str(ROOT))

from devstack.postgres import free_port  # noqa: E402


def _env(state: Path) -> dict[str, str]:
    ports = {name: free_port() for name in ("temporal", "ui", "api", "smtp", "mail")}
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "OMS_"))},
        "OMS_STATE_DIR": str(state),
        "OMS_DATABASE_URL": f"sqlite:///{state}/oms.db",
        "OMS_TEMPORAL_DEV_DB": str(state / "temporal.db"),
        "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "OMS_TEMPORAL_UI_PORT": str(ports["ui"]),
        "OMS_API_PORT": str(ports["api"]),
        "OMS_SMTP_PORT": str(ports["smtp"]),
        "OMS_MAIL_UI_PORT": str(ports["mail"]),
    }


def one_run(clone: Path, timeout: float) -> dict[str, Any]:
    """`make up` in the clone with a fresh state folder; seconds until the banner."""
    state = Path(tempfile.mkdtemp(prefix="oms-startup-state-"))
    out = state / "stdout.txt"
    fresh_venv = not (clone / ".venv" / ".installed").exists()
    started = time.monotonic()
    proc = subprocess.Popen(
        ["make", "up"],
        cwd=clone,
        env=_env(state),
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    installed_at: float | None = None
    try:
        while True:
            text = out.read_text(errors="replace")
            if installed_at is None and "-m devstack up" in text:
                installed_at = time.monotonic() - started
            if "Ctrl-C" in text:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"make up exited {proc.returncode}:\n{text[-3000:]}")
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"not ready after {timeout:.0f} s:\n{text[-3000:]}")
            time.sleep(0.2)
        ready = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    text = out.read_text(errors="replace")
    shutil.rmtree(state, ignore_errors=True)
    return {
        "fresh_virtualenv": fresh_venv,
        "install_s": round(installed_at or 0.0, 1),
        "ready_s": round(ready, 1),
        "stack_s": round(ready - (installed_at or 0.0), 1),
        "demo_loaded": "demo network loaded" in text,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1, help="runs in the same clone")
    ap.add_argument("--timeout", type=float, default=900.0)
    args = ap.parse_args()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="oms-startup-"))
    clone = tmp / "oms"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    runs = []
    try:
        for n in range(1, args.runs + 1):
            run = one_run(clone, args.timeout)
            runs.append(run)
            print(
                f"run {n}: ready after {run['ready_s']} s "
                f"(install {run['install_s']} s, stack {run['stack_s']} s; "
                f"fresh virtualenv: {run['fresh_virtualenv']}, demo loaded: {run['demo_loaded']})"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "benchmark": "startup",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "bench/startup.py " + " ".join(sys.argv[1:]),
        "commit": head,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
