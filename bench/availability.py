"""Availability and delivery-promise latency through the HTTP API, on the embedded stack with the
demo network (6 warehouses, 36 stores, 2 vendors, 300 SKUs).

Starts ``python -m devstack up`` on free ports with a fresh state directory (SQLite), or measures
an already running stack with ``--url``. One client, keep-alive, requests one after the other:
the figures are per-request latency as a shop's backend would see it.

    .venv/bin/python bench/availability.py                 # starts and stops its own stack
    .venv/bin/python bench/availability.py --url http://127.0.0.1:8000 --requests 2000

Targets on the reference machine (2 cores): one SKU across the network p99 < 20 ms, a
5-line cart promise p99 < 100 ms. Writes bench/results/availability.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.demo_network import build_network  # noqa: E402
from core.geodata import postcodes  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGETS_MS = {"availability_one_sku_network": 20.0, "promise_cart_5_lines": 100.0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def embedded_stack() -> Iterator[str]:
    """``python -m devstack up`` on free ports in a temporary state directory."""
    with tempfile.TemporaryDirectory(prefix="oms-bench-") as tmp:
        ports = {name: _free_port() for name in ("temporal", "ui", "api", "smtp", "mail")}
        env = {
            **os.environ,
            "OMS_STATE_DIR": tmp,
            "OMS_DATABASE_URL": f"sqlite:///{tmp}/oms.db",
            "OMS_TEMPORAL_DEV_DB": f"{tmp}/temporal.db",
            "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
            "OMS_TEMPORAL_UI_PORT": str(ports["ui"]),
            "OMS_API_PORT": str(ports["api"]),
            "OMS_SMTP_PORT": str(ports["smtp"]),
            "OMS_MAIL_UI_PORT": str(ports["mail"]),
        }
        out = Path(tmp) / "stdout.txt"
        with out.open("w") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "devstack", "up"],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 180
            while "Ctrl-C" not in out.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the stack did not come up:\n{out.read_text()}")
                time.sleep(0.3)
            yield f"http://127.0.0.1:{ports['api']}"
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)


def measure(name: str, n: int, warmup: int, request: Callable[[], httpx.Response]) -> dict:
    for _ in range(warmup):
        request().raise_for_status()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = request()
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    times.sort()

    def pct(p: float) -> float:
        return round(times[min(len(times) - 1, int(len(times) * p))], 2)

    result = {
        "requests": n,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(times[-1], 2),
        "mean_ms": round(statistics.fmean(times), 2),
    }
    if name in TARGETS_MS:
        result["target_p99_ms"] = TARGETS_MS[name]
        result["meets_target"] = result["p99_ms"] < TARGETS_MS[name]
    return result


def run(url: str, n: int, warmup: int, seed: int) -> dict:
    rng = random.Random(seed)
    _, skus, _ = build_network()
    sku_ids = [s.sku for s in skus]
    small = [s.sku for s in skus if not s.bulky]
    towns = [p.postcode for p in postcodes().values() if p.population > 20_000]
    headers = {"X-API-Key": os.environ.get("OMS_BENCH_KEY", "demo-shop")}
    with httpx.Client(base_url=url, timeout=30, headers=headers) as http:

        def one_sku() -> httpx.Response:
            return http.get(
                f"/inventory/availability/{rng.choice(sku_ids)}", params={"channel": "web"}
            )

        def cart() -> httpx.Response:
            lines = [
                {"sku": sku, "quantity": rng.randint(1, 2)}
                for sku in rng.sample(sku_ids, 4) + [rng.choice(small)]
            ]
            if len({ln["sku"] for ln in lines}) < 5:
                lines = [{"sku": sku, "quantity": 1} for sku in rng.sample(sku_ids, 5)]
            return http.post(
                "/inventory/promise",
                json={
                    "postcode": rng.choice(towns),
                    "speed": rng.choice(["standard", "express"]),
                    "lines": lines,
                },
            )

        def one_sku_promise() -> httpx.Response:
            return http.get(
                "/inventory/promise",
                params={"sku": rng.choice(sku_ids), "postcode": rng.choice(towns)},
            )

        def ten_skus() -> httpx.Response:
            return http.get("/inventory/availability", params={"sku": rng.sample(sku_ids, 10)})

        scenarios = {
            "availability_one_sku_network": measure(
                "availability_one_sku_network", n, warmup, one_sku
            ),
            "availability_10_skus": measure("availability_10_skus", n, warmup, ten_skus),
            "promise_one_sku": measure("promise_one_sku", n, warmup, one_sku_promise),
            "promise_cart_5_lines": measure("promise_cart_5_lines", n, warmup, cart),
        }
        sample = cart().json()
    return {
        "scenarios": scenarios,
        "sample_promise": {
            k: sample[k] for k in ("deliverable", "promised_delivery", "strategy", "optimal")
        }
        | {"shipments": len(sample["shipments"])},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="measure this running stack instead of starting one")
    parser.add_argument("--requests", type=int, default=1000, help="per scenario")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS / "availability.json")
    args = parser.parse_args()

    if args.url:
        figures = run(args.url, args.requests, args.warmup, args.seed)
        stack = f"running stack at {args.url}"
    else:
        with embedded_stack() as url:
            figures = run(url, args.requests, args.warmup, args.seed)
        stack = "embedded (python -m devstack up: SQLite, Temporal dev server, uvicorn)"
    report = {
        "benchmark": "availability",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stack": stack,
        "network": "demo: 6 warehouses, 36 stores, 2 vendors, 300 SKUs",
        "client": "one keep-alive HTTP client, sequential requests",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        **figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'scenario':32} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}  target")
    for name, r in report["scenarios"].items():
        target = (
            f"p99 < {r['target_p99_ms']:.0f} ms: {'ok' if r['meets_target'] else 'MISSED'}"
            if "target_p99_ms" in r
            else ""
        )
        print(
            f"{name:32} {r['p50_ms']:8.2f} {r['p90_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['max_ms']:8.2f}  {target}"
        )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
