"""A workflow that only logs through ``workflow.logger``: the logging test's way to get a real
SDK workflow log line (with the SDK's ``temporal_workflow`` extra) without touching OMS code."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn
class LogLineWorkflow:
    @workflow.run
    async def run(self, message: str) -> None:
        workflow.logger.info(message)
