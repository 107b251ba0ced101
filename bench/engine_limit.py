"""How many empty workflows per second a Temporal server and Python worker processes complete.

The ceiling for any workflow-per-order system on that server: the load bench runs it against
the same dev server right after the OMS load (with as many worker processes as the OMS had), and
reports the OMS's orders per second as a share of it. Each worker is its own process (like the
OMS worker), the starter this one. bench/skeleton.py measures a workflow of an order's shape.

    .venv/bin/python bench/engine_limit.py --address 127.0.0.1:7233 --workflows 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker


@workflow.defn
class EmptyWorkflow:
    """Starts and completes: one workflow task, nothing else."""

    @workflow.run
    async def run(self) -> None:
        return None


async def _serve(address: str, task_queue: str) -> None:
    client = await Client.connect(address)
    async with Worker(client, task_queue=task_queue, workflows=[EmptyWorkflow]):
        await asyncio.Event().wait()


async def measure(
    address: str, workflows: int, concurrency: int = 100, workers: int = 1
) -> dict[str, float]:
    """Start ``workers`` worker processes, then run ``workflows`` empty workflows through them,
    at most ``concurrency`` at a time; completions per second from the first start to the last
    end."""
    task_queue = f"engine-limit-{uuid.uuid4().hex[:8]}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.engine_limit",
                "--serve",
                "--address",
                address,
                "--task-queue",
                task_queue,
            ],
            cwd=Path(__file__).parent.parent,
        )
        for _ in range(workers)
    ]  # no module-level I/O: the workflow sandbox re-imports this module
    try:
        client = await Client.connect(address)
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                await client.execute_workflow(
                    EmptyWorkflow.run, id=f"{task_queue}-{i}", task_queue=task_queue
                )

        await asyncio.wait_for(one(-1), 60)  # the worker is up and polling
        start = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(workflows)))
        seconds = time.monotonic() - start
    finally:
        for worker in procs:
            worker.terminate()
        for worker in procs:
            worker.wait(30)
    return {
        "workflows": workflows,
        "workers": workers,
        "concurrency": concurrency,
        "seconds": round(seconds, 2),
        "workflows_per_s": round(workflows / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--workflows", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--task-queue", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.address, args.task_queue))
        return
    result = asyncio.run(measure(args.address, args.workflows, args.concurrency, args.workers))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
