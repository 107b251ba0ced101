"""Load and faults: a compressed shop day on the OMS with real PostgreSQL, then an audit.

Starts its own stack (bench/load_stack.py: PostgreSQL, Temporal dev server on a database file,
mail catcher, ``--workers`` worker processes, API), places ``--orders`` orders at ``--rate`` per
second and plays every partner (bench/load_day.py) while the fault schedule hits: the (first)
worker SIGKILLed and restarted, the Temporal dev server restarted, PostgreSQL restarted, the SMTP
server down for a minute, and the payment provider failing 30% of calls throughout. Then it
audits (bench/load_audit.py), and measures on the same server, with as many worker processes:
empty workflows per second (bench/engine_limit.py) and a skeleton workflow with the shape of a
simple card order of this run (bench/skeleton.py), whose CPU time per workflow it sets against
the OMS's CPU time per order. Prints the figures and writes bench/results/load.json. Exit code 1
if the audit found anything.

    .venv/bin/python bench/load.py --orders 2000
    .venv/bin/python bench/load.py --orders 200 --no-faults      # quick look
    .venv/bin/python bench/load.py --orders 60 --workers 2 --out /tmp/smoke.json   # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import engine_limit, load_audit, skeleton  # noqa: E402
from bench.load_day import Day, Outcome, Plan, plans  # noqa: E402
from bench.load_stack import LoadStack  # noqa: E402
from bench.policy import release_policy  # noqa: E402
from core.db.engine import session_scope  # noqa: E402
from core.settings import Settings  # noqa: E402
from devstack.client import OmsAuth  # noqa: E402
from workflows.connection import connect  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "load.json"


class Usage:
    """CPU seconds and peak memory of each part of the stack, sampled every two seconds;
    processes that die and come back (faults) are followed by their new pids."""

    def __init__(self, stack: LoadStack) -> None:
        self.stack = stack
        self.cpu: dict[str, float] = {}
        self.peak_rss: dict[str, int] = {}
        self._last: dict[int, float] = {}
        self.started = time.monotonic()

    def sample(self) -> None:
        groups = self.stack.processes()
        groups["bench"] = [psutil.Process()]
        for name, procs in groups.items():
            rss = 0
            for p in procs:
                try:
                    t = p.cpu_times()
                    total = t.user + t.system
                    rss += p.memory_info().rss
                except psutil.Error:
                    continue
                self.cpu[name] = self.cpu.get(name, 0.0) + total - self._last.get(p.pid, 0.0)
                self._last[p.pid] = total
            self.peak_rss[name] = max(self.peak_rss.get(name, 0), rss)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(2)

    def report(self) -> dict[str, dict[str, float]]:
        wall = time.monotonic() - self.started
        return {
            name: {
                "cpu_percent_mean": round(100 * self.cpu[name] / wall, 1),
                "cpu_s": round(self.cpu[name], 1),
                "rss_peak_mb": round(self.peak_rss.get(name, 0) / 2**20, 1),
            }
            for name in sorted(self.cpu)
        }


async def faults(stack: LoadStack, placing_s: float, log: list[dict[str, Any]]) -> None:
    """The fault schedule, spread over the placing window."""
    t0 = time.monotonic()

    async def at(share: float) -> None:
        await asyncio.sleep(max(0.0, t0 + share * placing_s - time.monotonic()))

    async def fault(name: str, action: Any, *args: Any) -> None:
        start = time.time()
        await asyncio.to_thread(action, *args)
        log.append({"fault": name, "at": start, "seconds": round(time.time() - start, 1)})
        print(f"  fault: {name} ({time.time() - start:.1f} s)", flush=True)

    await at(0.15)
    await fault("worker SIGKILL, restarted after 3 s", _kill_worker, stack)
    await at(0.35)
    await fault("Temporal dev server restarted on its database file", stack.restart, "temporal")
    await at(0.55)
    await fault("PostgreSQL restarted (fast shutdown)", stack.restart_postgres)
    await at(0.70)
    await fault("SMTP server down for 60 s", _smtp_outage, stack)


def _kill_worker(stack: LoadStack) -> None:
    stack.kill_worker()
    time.sleep(3)
    stack.services["worker"].start()


def _smtp_outage(stack: LoadStack) -> None:
    stack.services["mail"].stop()
    time.sleep(60)
    stack.services["mail"].start()


async def drive(stack: LoadStack, args: argparse.Namespace, run_id: str) -> dict[str, Any]:
    todo = plans(args.orders, args.seed, run_id, args.cancel_share, args.return_share)
    outcomes = [Outcome(order_id=p.order_id) for p in todo]
    settings = Settings(_env_file=None)  # dev webhook secrets, as the stack has them
    fault_log: list[dict[str, Any]] = []
    usage = Usage(stack)
    stop = asyncio.Event()
    sampler = asyncio.create_task(usage.run(stop))
    placing_s = args.orders / args.rate
    async with httpx.AsyncClient(
        base_url=stack.api_url,
        timeout=30,
        limits=httpx.Limits(max_connections=100),
        auth=OmsAuth("", settings),
    ) as http:
        day = Day(http, shop_key="demo-shop", cs_key="demo-cs", seed=args.seed)
        chaos = asyncio.create_task(faults(stack, placing_s, fault_log)) if args.faults else None
        start = time.monotonic()

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, start + i / args.rate - time.monotonic()))
            try:
                await day.live(todo[i], outcomes[i])
            except Exception as exc:  # noqa: BLE001 - recorded, the audit reports it
                outcomes[i].error = repr(exc)[:300]

        tasks = [asyncio.create_task(one(i)) for i in range(args.orders)]
        progress = asyncio.create_task(_progress(outcomes, start))
        await asyncio.gather(*tasks)
        if chaos is not None:
            await chaos
        progress.cancel()
        elapsed = time.monotonic() - start
    stop.set()
    await sampler
    print(f"  all orders settled after {elapsed:.0f} s; {day.send.retries} retried calls")
    return {
        "plans": todo,
        "outcomes": outcomes,
        "faults": fault_log,
        "usage": usage.report(),
        "elapsed_s": elapsed,
        "retries": day.send.retries,
    }


async def _progress(outcomes: list[Outcome], start: float) -> None:
    while True:
        await asyncio.sleep(30)
        done = sum(bool(o.final_status or o.error) for o in outcomes)
        placed = sum(o.accepted for o in outcomes)
        print(f"  {time.monotonic() - start:5.0f} s: {placed} placed, {done} settled", flush=True)


def release_latency(url: str, prefix: str, faults: list[dict[str, Any]]) -> dict[str, Any]:
    """Placed (or the release hold's end) → every shipment released, from the OMS's own
    timestamps, for orders that do not
    wait for the customer's bank transfer; also for orders placed well away from any fault
    (more than two minutes after it ended)."""
    with session_scope(url) as s:
        rows = (
            s.connection()
            .execute(
                text(
                    "SELECT GREATEST(o.created_at, MAX(CAST(e.detail->>'hold_until' AS "
                    "timestamptz))), MAX(sh.released_at), BOOL_AND(sh.released_at IS NOT NULL) "
                    "FROM order_record o JOIN shipment_record sh ON sh.order_id = o.order_id "
                    "LEFT JOIN order_event e ON e.order_id = o.order_id AND e.type = 'placed' "
                    "WHERE o.order_id LIKE :p AND o.payment_method <> 'prepayment' "
                    "GROUP BY o.order_id, o.created_at"
                ),
                {"p": prefix + "%"},
            )
            .all()
        )
    # a fault's shadow: the backlog it leaves takes a while to clear
    windows = [(f["at"] - 5, f["at"] + f["seconds"] + 120) for f in faults]
    all_ms, calm_ms = [], []
    for created, released, complete in rows:
        if not complete:
            continue
        ms = (released - created).total_seconds() * 1000
        all_ms.append(ms)
        if not any(lo <= created.timestamp() <= hi for lo, hi in windows):
            calm_ms.append(ms)
    span = [min(r[0] for r in rows), max(r[1] for r in rows if r[1])] if rows else []
    return {
        "all": _pcts(all_ms),
        "calm": _pcts(calm_ms),
        "released_per_s": round(len(all_ms) / (span[1] - span[0]).total_seconds(), 2)
        if span
        else 0.0,
    }


def _pcts(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {
        "n": len(values),
        "p50": round(statistics.median(values)),
        "p99": round(p99),
        "max": round(max(values)),
    }


async def audit(stack: LoadStack, prefix: str, outcomes: list[Outcome]) -> dict[str, Any]:
    assert stack.pg is not None
    url = stack.pg.url
    client = await connect(Settings(temporal_address=stack.temporal_address))
    return {
        "orders": load_audit.orders(url, prefix, outcomes),
        "workflows": await load_audit.workflows(client, url, prefix, outcomes),
        "stock": load_audit.stock(url),
        "emails": load_audit.emails(url, prefix, stack.mail_dir),
        "money": load_audit.money(url, prefix, outcomes),
    }


async def simple_card_program(
    address: str, todo: list[Plan], outcomes: list[Outcome], candidates: int = 20
) -> dict[str, Any]:
    """The skeleton's program, read off the simplest card order of this run (one line, one
    parcel, completed, neither cancelled nor returned; of the first ``candidates`` such orders
    the one with the shortest history, i.e. with the fewest retries); the default program if
    the run had none."""
    client = await connect(Settings(temporal_address=address))
    found = [
        p.order_id
        for p, o in zip(todo, outcomes, strict=True)
        if p.body["payment_method"] == "card"
        and len(p.body["lines"]) == 1
        and not p.cancel
        and not p.return_lines
        and o.final_status == "completed"
        and o.shipments == 1
    ][:candidates]
    best: tuple[int, str, Any] | None = None
    for order_id in found:
        history = await client.get_workflow_handle(f"order-{order_id}").fetch_history()
        if best is None or len(history.events) < best[0]:
            best = (len(history.events), order_id, history)
    if best is None:
        return {"from_order": None, "program": skeleton.DEFAULT_PROGRAM, "order_shape": None}
    _n, order_id, history = best
    return {
        "from_order": order_id,
        "program": skeleton.program_from_history(history),
        "order_shape": skeleton.shape(history),
    }


def per_order(usage: dict[str, dict[str, float]], orders: int) -> dict[str, float]:
    """CPU milliseconds per accepted order of each part (all worker processes as one), over
    the whole run: placing, fulfilment, cancellations, returns, faults."""
    parts: dict[str, float] = {}
    for name, u in usage.items():
        part = "worker" if name.startswith("worker") else name
        parts[part] = parts.get(part, 0.0) + u["cpu_s"]
    out = {name: round(1000 * cpu_s / max(orders, 1), 1) for name, cpu_s in sorted(parts.items())}
    out["total"] = round(sum(v for k, v in out.items()), 1)
    return out


def over_skeleton(oms: dict[str, float], skel: dict[str, float]) -> dict[str, float | None]:
    """How many times the engine's own CPU time for the order's shape the OMS spends."""

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 1) if b else None

    return {
        "worker": ratio(oms.get("worker", 0.0), skel.get("worker", 0.0)),
        "temporal": ratio(oms.get("temporal", 0.0), skel.get("temporal", 0.0)),
        "worker_and_temporal": ratio(
            oms.get("worker", 0.0) + oms.get("temporal", 0.0),
            skel.get("worker", 0.0) + skel.get("temporal", 0.0),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=2.0, help="orders placed per second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cancel-share", type=float, default=0.05)
    parser.add_argument("--return-share", type=float, default=0.10)
    parser.add_argument("--payment-failure-rate", type=float, default=0.3)
    parser.add_argument("--payment-latency-ms", type=int, default=150)
    parser.add_argument("--no-faults", dest="faults", action="store_false")
    parser.add_argument(
        "--hold", type=int, default=0, help="release hold in seconds (latency counts from its end)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default OMS_WORKERS, 1); the engine measurements use as many",
    )
    parser.add_argument("--engine-workflows", type=int, default=2000)
    parser.add_argument(
        "--skeleton-workflows",
        type=int,
        default=1000,
        help="skeleton workflows with a card order's shape, run after the audit (0: skip)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the stack's files behind")
    parser.add_argument("--out", default="", help="result file (default bench/results/load.json)")
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:6]
    prefix = f"LD-{run_id}-"
    failure = args.payment_failure_rate if args.faults else 0.0
    stack = LoadStack(
        {
            "OMS_PAYMENT_SIM_FAILURE_RATE": str(failure),
            "OMS_PAYMENT_SIM_LATENCY_MS": str(args.payment_latency_ms),
        },
        workers=args.workers,
    )
    stack.extra_env.update(release_policy(stack.dir, args.hold))
    print(
        f"stack in {stack.dir}; run {run_id}: {args.orders} orders at {args.rate}/s, "
        f"{stack.workers} worker process(es), faults {'on' if args.faults else 'off'}",
        flush=True,
    )
    try:
        stack.up()
        run = asyncio.run(drive(stack, args, run_id))
        assert stack.pg is not None
        latency = release_latency(stack.pg.url, prefix, run["faults"])
        findings = asyncio.run(audit(stack, prefix, run["outcomes"]))
        engine = asyncio.run(
            engine_limit.measure(
                stack.temporal_address, args.engine_workflows, workers=stack.workers
            )
        )
        skel: dict[str, Any] | None = None
        if args.skeleton_workflows:
            source = asyncio.run(
                simple_card_program(stack.temporal_address, run["plans"], run["outcomes"])
            )
            temporal = stack.services["temporal"].proc
            assert temporal is not None
            skel = asyncio.run(
                skeleton.measure(
                    stack.temporal_address,
                    source["program"],
                    args.skeleton_workflows,
                    workers=stack.workers,
                    server_pids=[temporal.pid],
                )
            )
            skel["from_order"] = source["from_order"]
            skel["order_shape"] = source["order_shape"]
    finally:
        stack.down(keep=args.keep)
    outcomes: list[Outcome] = run["outcomes"]
    accepted = [o for o in outcomes if o.accepted]
    clean = all(f["problems"] == 0 for f in findings.values())
    cpu_per_order = per_order(run["usage"], len(accepted))
    result = {
        "command": "bench/load.py " + " ".join(sys.argv[1:]),
        "orders": args.orders,
        "rate_target_per_s": args.rate,
        "faults": run["faults"],
        "payment_failure_rate": failure,
        "orders_accepted": len(accepted),
        "orders_shed_503": sum(o.shed for o in outcomes),
        "orders_per_s_sustained": latency["released_per_s"],
        "elapsed_s": round(run["elapsed_s"]),
        "retried_calls": run["retries"],
        "release_latency_ms": {"all": latency["all"], "calm": latency["calm"]},
        "workers": stack.workers,
        "usage": run["usage"],
        "cpu_ms_per_order": cpu_per_order,
        "engine_limit": engine,
        "oms_share_of_engine_limit": round(
            latency["released_per_s"] / engine["workflows_per_s"], 4
        ),
        "skeleton": skel,
        "oms_over_skeleton": over_skeleton(cpu_per_order, skel["cpu_ms_per_workflow"])
        if skel
        else None,
        "audit_clean": clean,
        "audit": findings,
        "outcome_mix": {
            s: sum(o.final_status == s for o in outcomes)
            for s in {o.final_status for o in outcomes}
        },
        "machine": {"cpus": os.cpu_count()},
    }
    if not args.keep:
        import shutil

        shutil.rmtree(stack.dir, ignore_errors=True)
    out = Path(args.out) if args.out else RESULTS
    result["result_file"] = str(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    _print(result)
    if args.keep:
        (stack.dir / "outcomes.json").write_text(
            json.dumps([asdict(o) for o in outcomes], default=str)
        )
    sys.exit(0 if clean else 1)


def _print(r: dict[str, Any]) -> None:
    lat = r["release_latency_ms"]
    print(
        f"orders: {r['orders_accepted']}/{r['orders']} accepted "
        f"({r['orders_shed_503']} shed with 503 busy until the shop gave up), sustained "
        f"{r['orders_per_s_sustained']} orders/s (target {r['rate_target_per_s']}/s), "
        f"{r['retried_calls']} calls retried by the partners"
    )
    print(
        f"placed -> released: all p50 {lat['all']['p50']} ms, p99 {lat['all']['p99']} ms; "
        f"away from faults p50 {lat['calm']['p50']} ms, p99 {lat['calm']['p99']} ms"
    )
    for name, u in r["usage"].items():
        print(f"  {name:<9} CPU {u['cpu_percent_mean']:5.1f}%  peak RSS {u['rss_peak_mb']} MB")
    e = r["engine_limit"]
    print(
        f"empty workflows on the same server: {e['workflows_per_s']}/s; the OMS runs at "
        f"{100 * r['oms_share_of_engine_limit']:.1f}% of that"
    )
    if r["skeleton"]:
        sk, ratio = r["skeleton"], r["oms_over_skeleton"]
        print(
            f"skeleton of a card order ({sk['shape']['workflow_tasks']} workflow tasks, "
            f"{sk['shape']['activities']} activities, {sk['shape']['local_activities']} local "
            f"activities; from {sk['from_order']}): {sk['workflows_per_s']}/s on "
            f"{sk['workers']} worker process(es)"
        )
        print(f"  CPU ms per skeleton workflow: {sk['cpu_ms_per_workflow']}")
        print(f"  CPU ms per OMS order:         {r['cpu_ms_per_order']}")
        print(f"  OMS / skeleton: {ratio}")
    for name, f in r["audit"].items():
        figures = {k: v for k, v in f.items() if k not in ("problems", "examples")}
        print(
            f"audit {name:<9} {'clean' if not f['problems'] else f['problems']} "
            f"{figures} {f['examples'] if f['problems'] else ''}"
        )
    print(f"audit: {'CLEAN' if r['audit_clean'] else 'PROBLEMS'}; written to {r['result_file']}")


if __name__ == "__main__":
    main()
