"""A mail return that never arrives expires after the policy's arrival timeout (time-skipping
server): the customer is told, and the units can be returned again."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from temporalio.testing import WorkflowEnvironment

from activities.returns.requests import open_returns
from core.db.engine import session_scope
from core.domain.returns import ReturnInput, ReturnLineRequest, ReturnRequest, ReturnStatus
from core.order_tokens import links
from core.settings import Settings
from tests.support.catalogue import make_sku
from tests.support.returns import delivered_order, request_return, warehouse_in
from tests.support.smtp import Inbox, wait_for_subject
from workflows.returns.workflow import ReturnWorkflow

Skipping = tuple[WorkflowEnvironment, Settings]


async def test_return_that_never_arrives_expires_and_frees_its_units(
    api: httpx.AsyncClient, skipping: Skipping, inbox: Inbox
) -> None:
    env, settings = skipping
    url = settings.database_url
    sku = make_sku(url, {warehouse_in(url, "Dortmund"): 3}, price_cents=1800)
    order = await delivered_order(api, [(sku, 1)])
    oid = order["order_id"]
    with session_scope(url) as s:
        [rec] = open_returns(
            s,
            oid,
            ReturnRequest(
                lines=[ReturnLineRequest(line_id="L1", quantity=1, reason="changed_mind")]
            ),
            channel="mail",
            requested_by="customer",
            now=datetime.now(UTC),
            links=links(settings),
        )
        ret = ReturnInput.model_validate(rec.payload)
    handle = await env.client.start_workflow(
        ReturnWorkflow.run, ret, id=ret.workflow_id, task_queue=settings.task_queue
    )
    state = await handle.result()  # the server skips the arrival timeout (policy: 30 days)
    assert state.status == ReturnStatus.EXPIRED and state.refunded_cents == 0
    await wait_for_subject(inbox, oid, f"Ihre Retoure {ret.return_id} ist nicht angekommen")
    r = await request_return(api, oid, ("L1", 1, "changed_mind"))
    assert r.status_code == 201, r.text  # the unit is returnable again
