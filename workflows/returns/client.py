"""The typed way in to a return workflow: start it, and tell it what happened to the parcel.
A return whose workflow has ended answers ``ReturnClosed`` (409 in the API)."""

from __future__ import annotations

from collections.abc import Awaitable

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from core.domain.returns import (
    ReturnInput,
    ReturnInspection,
    ReturnReceipt,
    ReturnScan,
    ReturnState,
    return_workflow_id,
)
from workflows.returns.workflow import ReturnWorkflow


class ReturnClosed(Exception):
    """The return's workflow has ended; it takes no more news."""

    def __init__(self, return_id: str, reason: str) -> None:
        super().__init__(reason)
        self.return_id = return_id
        self.reason = reason


class ReturnClient:
    def __init__(self, client: Client, return_id: str) -> None:
        self.return_id = return_id
        self._handle: WorkflowHandle[ReturnWorkflow, ReturnState] = client.get_workflow_handle(
            return_workflow_id(return_id), result_type=ReturnState
        )

    @staticmethod
    async def start(client: Client, ret: ReturnInput, task_queue: str) -> None:
        await client.start_workflow(
            ReturnWorkflow.run,
            ret,
            id=ret.workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"Return {ret.return_id} of order {ret.order_id}: "
            f"{ret.channel} to {ret.destination.location_id}",
        )

    async def in_transit(self, scan: ReturnScan) -> None:
        await self._signal(self._handle.signal(ReturnWorkflow.in_transit, scan))

    async def received(self, receipt: ReturnReceipt) -> None:
        await self._signal(self._handle.signal(ReturnWorkflow.received, receipt))

    async def inspected(self, inspection: ReturnInspection) -> None:
        await self._signal(self._handle.signal(ReturnWorkflow.inspected, inspection))

    async def _signal(self, call: Awaitable[None]) -> None:
        try:
            await call
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise ReturnClosed(self.return_id, f"return {self.return_id} is closed") from exc
            raise
