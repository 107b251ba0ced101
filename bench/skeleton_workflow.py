"""The skeleton workflow of the load bench (bench/skeleton.py says what it is for): a program
of steps with the shape of an order, and no business logic. Kept apart from the runner, since
the workflow sandbox re-imports this module for every run (no I/O here)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import SearchAttributeKey

STATUS = SearchAttributeKey.for_keyword("OrderStatus")


@activity.defn
def skeleton_step() -> None:
    """Every activity and local activity of the skeleton: nothing."""


@workflow.defn
class SkeletonWorkflow:
    """Runs a program (see the module's description); the ``event`` update stands for the
    order's shipment events and completes when the work that follows it is done."""

    def __init__(self) -> None:
        self.arrived = {"update": 0, "signal": 0}
        self.reached = {"update": 0, "signal": 0}
        self.finished = False

    @workflow.run
    async def run(self, program: list[str]) -> int:
        background: list[asyncio.Task[None]] = []
        for i, step in enumerate(program):
            if step == "patch":
                workflow.patched(f"skeleton-{i}")
            elif step == "sa":
                workflow.upsert_search_attributes([STATUS.value_set(f"step-{i}")])
            elif step == "la":
                await workflow.execute_local_activity(
                    skeleton_step, start_to_close_timeout=timedelta(seconds=30)
                )
            elif step.startswith("act*"):
                await asyncio.gather(
                    *(
                        workflow.execute_activity(
                            skeleton_step, start_to_close_timeout=timedelta(seconds=30)
                        )
                        for _ in range(int(step[4:]))
                    )
                )
            elif step in ("update", "signal"):
                self.reached[step] += 1
                await workflow.wait_condition(self._arrived(step, self.reached[step]))
            elif step == "timer":
                background.append(asyncio.create_task(workflow.sleep(timedelta(days=30))))
            elif step == "sleep":
                await workflow.sleep(timedelta(milliseconds=10))
            else:
                raise ValueError(f"unknown step {step!r}")
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        self.finished = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return len(program)

    def _arrived(self, kind: str, n: int) -> Callable[[], bool]:
        return lambda: self.arrived[kind] >= n

    @workflow.update
    async def event(self) -> None:
        self.arrived["update"] += 1
        n = self.arrived["update"]
        await workflow.wait_condition(lambda: self.reached["update"] > n or self.finished)

    @workflow.signal
    def poke(self) -> None:
        self.arrived["signal"] += 1
