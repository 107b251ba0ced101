"""Order placed → shipment released: latency and throughput on the embedded stack.

Places card orders that pass the risk check at a steady rate through the HTTP API (open loop:
the next order is sent on schedule, whatever happened to the last), then reads each order's
``released_at`` from the API. Prints the figures and writes bench/results/release_latency.json.

    .venv/bin/python bench/release_latency.py --rate 5 --seconds 60
    .venv/bin/python bench/release_latency.py --url http://127.0.0.1:8000   # a running stack
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.policy import release_policy  # noqa: E402
from bench.stack import EmbeddedStack  # noqa: E402
from core.demo_network import build_network  # noqa: E402
from core.geodata import postcodes  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "release_latency.json"


def _catalogue() -> list[str]:
    """Small, non-hazardous SKUs that the demo warehouses stock well."""
    locations, skus, stock = build_network()
    plenty: dict[str, int] = {}
    for row in stock:
        plenty[row.sku] = plenty.get(row.sku, 0) + row.on_hand
    return [s.sku for s in skus if not s.bulky and not s.hazardous and plenty.get(s.sku, 0) > 300]


def _customers(rng: random.Random, n: int) -> list[dict[str, Any]]:
    codes = [p for p in postcodes().values() if p.city]
    weights = [p.population for p in codes]
    out = []
    for i, pc in enumerate(rng.choices(codes, weights=weights, k=n)):
        name = f"Kundin {i}"
        out.append(
            {
                "customer": {"id": f"B-{i}", "email": f"k{i}@example.org", "name": name},
                "delivery_address": {
                    "name": name,
                    "street": "Musterweg 1",
                    "postcode": pc.postcode,
                    "city": pc.city,
                },
            }
        )
    return out


async def _place(
    http: httpx.AsyncClient, body: dict[str, Any], sent: dict[str, float], errors: list[str]
) -> None:
    try:
        r = await http.post("/orders", json=body)
        if r.status_code != 202:
            errors.append(f"{r.status_code}: {r.text[:200]}")
            return
        sent[body["order_id"]] = time.time()
    except httpx.HTTPError as exc:
        errors.append(repr(exc))


async def _released_at(
    http: httpx.AsyncClient, order_id: str, deadline: float, gate: asyncio.Semaphore
) -> tuple[datetime, datetime] | None:
    """(placed or the release hold's end, all shipments released), or None if it never got
    there. The timestamps come from the OMS itself, so how fast we poll does not change the
    figure."""
    while time.monotonic() < deadline:
        async with gate:
            order = (await http.get(f"/orders/{order_id}")).json()
        times = [s["released_at"] for s in order.get("shipments", [])]
        if times and all(times):
            start = datetime.fromisoformat(order["created_at"])
            if order.get("release_hold_until"):  # counted from the hold's end
                start = max(start, datetime.fromisoformat(order["release_hold_until"]))
            return start, max(datetime.fromisoformat(t) for t in times)
        if order.get("status") in ("rejected", "failed", "cancelled"):
            return None
        await asyncio.sleep(0.2)
    return None


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def run(url: str, rate: float, seconds: float, seed: int, hold_s: int) -> dict[str, Any]:
    rng = random.Random(seed)
    catalogue = _catalogue()
    n = int(rate * seconds)
    people = _customers(rng, n)
    run_id = uuid.uuid4().hex[:6]
    bodies = [
        {
            "order_id": f"RL-{run_id}-{i}",
            **people[i],
            "payment_method": "card",
            "lines": [
                {"sku": sku, "quantity": 1}
                for sku in rng.sample(catalogue, rng.choice([1, 1, 2, 3]))
            ],
        }
        for i in range(n)
    ]
    sent: dict[str, float] = {}
    errors: list[str] = []
    limits = httpx.Limits(max_connections=200)
    headers = {"X-API-Key": os.environ.get("OMS_BENCH_KEY", "demo-shop")}
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits, headers=headers) as http:
        start = time.monotonic()
        tasks = []
        for i, body in enumerate(bodies):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(_place(http, body, sent, errors)))
        await asyncio.gather(*tasks)
        place_s = time.monotonic() - start
        deadline = time.monotonic() + 120 + hold_s
        gate = asyncio.Semaphore(8)
        results = await asyncio.gather(*(_released_at(http, oid, deadline, gate) for oid in sent))
        done = [r for r in results if r is not None]
    latencies = [(rel - placed).total_seconds() * 1000 for placed, rel in done]
    span = (max(r for _, r in done) - min(p for p, _ in done)).total_seconds() if done else 0
    return {
        "command": f"bench/release_latency.py --rate {rate} --seconds {seconds} --seed {seed} "
        f"--hold {hold_s}",
        "release_hold_s": hold_s,
        "orders_sent": n,
        "orders_accepted": len(sent),
        "orders_released": len(done),
        "errors": len(errors),
        "error_samples": errors[:5],
        "target_rate_per_s": rate,
        "placing_rate_per_s": round(len(sent) / place_s, 2),
        "released_per_s": round(len(done) / span, 2) if span else 0.0,
        "latency_ms": {
            "p50": round(statistics.median(latencies), 1) if latencies else None,
            "p90": round(_pct(latencies, 90), 1) if latencies else None,
            "p99": round(_pct(latencies, 99), 1) if latencies else None,
            "max": round(max(latencies), 1) if latencies else None,
        },
        "target": "p99 < 1000 ms at 5 orders/s",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=5.0, help="orders per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", help="a running stack's API; default: start one")
    parser.add_argument(
        "--hold",
        type=int,
        default=0,
        help="release hold in seconds of the stack this starts (latency counts from its end)",
    )
    args = parser.parse_args()
    if args.url:
        result = asyncio.run(run(args.url, args.rate, args.seconds, args.seed, args.hold))
    else:
        policy = release_policy(Path(tempfile.mkdtemp(prefix="oms-bench-policy-")), args.hold)
        with EmbeddedStack(policy) as stack:
            result = asyncio.run(run(stack.url, args.rate, args.seconds, args.seed, args.hold))
    result["machine"] = {"cpus": os.cpu_count()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    lat = result["latency_ms"]
    print(
        f"orders: {result['orders_released']}/{result['orders_sent']} released, "
        f"{result['errors']} errors; placing {result['placing_rate_per_s']}/s, "
        f"released {result['released_per_s']}/s"
    )
    print(
        f"placed (or hold end) -> released: p50 {lat['p50']} ms, p90 {lat['p90']} ms, "
        f"p99 {lat['p99']} ms, max {lat['max']} ms   ({result['target']})"
    )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
