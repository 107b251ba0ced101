"""Replays recorded order histories (tests/histories/) against today's workflow code, in
process: no Temporal server is needed to replay.

A change that would break running orders (non-deterministic for their history) fails here.
Record new histories with ``OMS_RECORD_HISTORIES=1 pytest tests/integration/test_replay_fresh.py``
after a deliberate, versioned change, and keep the old files: running orders still have them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.support.histories import HISTORIES
from workflows.ops.outbound_dispatch import OutboundDispatcherWorkflow, OutboundDispatchWorkflow
from workflows.order.workflow import OrderWorkflow
from workflows.returns.workflow import ReturnWorkflow


def replayer() -> Replayer:
    return Replayer(
        workflows=[
            OrderWorkflow,
            ReturnWorkflow,
            OutboundDispatchWorkflow,
            OutboundDispatcherWorkflow,
        ],
        data_converter=pydantic_data_converter,
    )


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


def test_histories_are_kept() -> None:
    assert len(recorded()) >= 2, "recorded histories are missing from tests/histories"


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await replayer().replay_workflow(history)
