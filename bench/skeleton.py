"""The engine's own cost of an order's shape: a skeleton workflow with the same workflow tasks,
activities, local activities, search-attribute upserts, patch markers, timers and updates as a
real order, and no business logic (every activity returns at once, no payloads).

The shape is a *program*, read off a real order's history by :func:`program_from_history`
(one step per command, in history order): ``patch``, ``sa`` (upsert), ``la`` (local activity),
``act*N`` (N activities at once, awaited), ``update`` (wait for the next update from outside),
``signal`` (the same for a signal), ``timer`` (a timer that is cancelled before the end: the
order's promise and hold timers) and ``sleep`` (a timer that fires). The load bench
(bench/load.py) takes it from a simple card order of its own run and runs it on the same
Temporal server with as many worker processes as the OMS had, each like the OMS's worker
(pydantic data converter, sandbox, a thread pool for activities), and compares CPU time per
workflow with the OMS's per order. ``DEFAULT_PROGRAM`` is that order's shape, counted
on 2026-12-08 (card, one line, one parcel, shipped and delivered: 8 workflow tasks, 5
activities, 15 local activities, 15 upserts of which 6 come with the 6 patch markers, 2 timers
cancelled, 2 updates; 85 events), for runs on their own:

    .venv/bin/python bench/skeleton.py --address 127.0.0.1:7233 --workflows 500

(the server needs the OMS's search attributes: the dev server as ``make up`` starts it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.skeleton_workflow import SkeletonWorkflow, skeleton_step  # noqa: E402

PATCH_ATTRIBUTE = "TemporalChangeVersion"
"""Upserted by the SDK along with each patch marker: part of ``patch``, not an ``sa`` step."""
UPDATE_DELAY_S = 0.5
"""The outside world's pause before each update (the warehouse ships, the carrier delivers)."""

DEFAULT_PROGRAM = [
    *["patch", "patch", "patch", "la", "la", "sa", "la", "la", "sa", "sa", "la", "la", "sa"],
    *["sa", "la", "act*1", "sa", "la", "act*1", "la", "sa", "la", "patch", "patch", "timer"],
    *["update", "la", "act*1", "patch", "act*1", "sa", "la", "act*1", "timer", "update", "la"],
    *["la", "sa", "la"],
]
"""A card order with one line and one parcel, shipped and delivered (see the module's text)."""


# ---- shapes ----------------------------------------------------------------------------------


def _kind(event: HistoryEvent) -> str:
    return event.WhichOneof("attributes") or ""


def program_from_history(history: WorkflowHistory) -> list[str]:
    """The program whose skeleton has this history's shape (see the module's description)."""
    fired = {
        e.timer_fired_event_attributes.timer_id
        for e in history.events
        if _kind(e) == "timer_fired_event_attributes"
    }
    steps: list[str] = []
    task = 0  # workflow tasks completed so far: activities scheduled in one task run at once
    act_task = -1
    for e in history.events:
        kind = _kind(e)
        if kind == "workflow_task_completed_event_attributes":
            task += 1
        elif kind == "marker_recorded_event_attributes":
            name = e.marker_recorded_event_attributes.marker_name
            if name == "core_patch":
                steps.append("patch")
            elif name == "core_local_activity":
                steps.append("la")
        elif kind == "activity_task_scheduled_event_attributes":
            if act_task == task and steps and steps[-1].startswith("act*"):
                steps[-1] = f"act*{int(steps[-1][4:]) + 1}"
            else:
                steps.append("act*1")
            act_task = task
        elif kind == "upsert_workflow_search_attributes_event_attributes":
            fields = e.upsert_workflow_search_attributes_event_attributes.search_attributes
            if set(fields.indexed_fields) != {PATCH_ATTRIBUTE}:  # not a patch's own upsert
                steps.append("sa")
        elif kind == "timer_started_event_attributes":
            timer_id = e.timer_started_event_attributes.timer_id
            steps.append("sleep" if timer_id in fired else "timer")
        elif kind == "workflow_execution_update_accepted_event_attributes":
            steps.append("update")
        elif kind == "workflow_execution_signaled_event_attributes":
            steps.append("signal")
    return steps


SHAPE_OF = {
    "workflow_tasks": "workflow_task_completed_event_attributes",
    "activities": "activity_task_scheduled_event_attributes",
    "upserts": "upsert_workflow_search_attributes_event_attributes",
    "timers": "timer_started_event_attributes",
    "updates": "workflow_execution_update_accepted_event_attributes",
    "signals": "workflow_execution_signaled_event_attributes",
}


def shape(history: WorkflowHistory) -> dict[str, int]:
    """What the comparison is about: workflow tasks, activities, local activities, ... and the
    number of events."""
    kinds = Counter(_kind(e) for e in history.events)
    markers = Counter(
        e.marker_recorded_event_attributes.marker_name
        for e in history.events
        if _kind(e) == "marker_recorded_event_attributes"
    )
    out = {name: kinds[kind] for name, kind in SHAPE_OF.items()}
    out["local_activities"] = markers["core_local_activity"]
    out["patches"] = markers["core_patch"]
    out["events"] = len(history.events)
    return out


# ---- running it ------------------------------------------------------------------------------


def skeleton_worker(client: Client, task_queue: str, executor: ThreadPoolExecutor) -> Worker:
    """Configured like the OMS's worker (worker.py): sandboxed workflows, activities on a thread
    pool of 50."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[SkeletonWorkflow],
        activities=[skeleton_step],
        activity_executor=executor,
        max_concurrent_activities=50,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def _serve(address: str, task_queue: str) -> None:
    sys.dont_write_bytecode = False  # as worker.py
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    with ThreadPoolExecutor(max_workers=50) as executor:
        async with skeleton_worker(client, task_queue, executor):
            await asyncio.Event().wait()


async def run_one(
    client: Client,
    program: list[str],
    workflow_id: str,
    task_queue: str,
    update_delay_s: float = UPDATE_DELAY_S,
) -> None:
    """One skeleton from start to end, the outside world sending its updates and signals."""
    handle = await client.start_workflow(
        SkeletonWorkflow.run, program, id=workflow_id, task_queue=task_queue
    )
    for step in program:
        if step == "update":
            await asyncio.sleep(update_delay_s)
            await handle.execute_update(SkeletonWorkflow.event)
        elif step == "signal":
            await asyncio.sleep(update_delay_s)
            await handle.signal(SkeletonWorkflow.poke)
    await handle.result()


def _cpu_s(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


async def measure(
    address: str,
    program: list[str],
    workflows: int,
    workers: int = 1,
    concurrency: int = 200,
    server_pids: list[int] | None = None,
) -> dict[str, Any]:
    """Start ``workers`` skeleton worker processes, run ``workflows`` skeletons through them
    (at most ``concurrency`` at a time) and report the rate and the CPU time per workflow of
    each part: the worker processes, the Temporal server (``server_pids``, with their
    children) and this process (the client that starts them and sends the updates)."""
    task_queue = f"skeleton-{uuid.uuid4().hex[:8]}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.skeleton",
                "--serve",
                "--address",
                address,
                "--task-queue",
                task_queue,
            ],
            cwd=ROOT,
        )
        for _ in range(workers)
    ]  # no module-level I/O: the workflow sandbox re-imports this module
    try:
        client = await Client.connect(address, data_converter=pydantic_data_converter)
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                await run_one(client, program, f"{task_queue}-{i}", task_queue)

        await asyncio.wait_for(one(-1), 120)  # the workers are up and polling
        parts = {
            "worker": [p for w in procs for p in _tree(w.pid)],
            "temporal": [p for pid in server_pids or [] for p in _tree(pid)],
            "client": [psutil.Process()],
        }
        before = {name: _cpu_s(ps) for name, ps in parts.items()}
        start = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(workflows)))
        seconds = time.monotonic() - start
        cpu = {name: _cpu_s(ps) - before[name] for name, ps in parts.items()}
        history = await client.get_workflow_handle(f"{task_queue}-0").fetch_history()
    finally:
        for w in procs:
            w.terminate()
        for w in procs:
            w.wait(30)
    per_wf = {name: round(1000 * s / workflows, 2) for name, s in cpu.items() if parts[name]}
    return {
        "workflows": workflows,
        "workers": workers,
        "concurrency": concurrency,
        "seconds": round(seconds, 2),
        "workflows_per_s": round(workflows / seconds, 2),
        "cpu_ms_per_workflow": {**per_wf, "total": round(sum(per_wf.values()), 2)},
        "shape": shape(history),
        "program": program,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--workflows", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--server-pid", type=int, action="append", default=[])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--task-queue", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.address, args.task_queue))
        return
    result = asyncio.run(
        measure(
            args.address,
            DEFAULT_PROGRAM,
            args.workflows,
            args.workers,
            args.concurrency,
            args.server_pid,
        )
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
