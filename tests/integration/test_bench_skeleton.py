"""The load bench's skeleton workflow (bench/skeleton.py) has the shape of a real card order:
the same workflow tasks, activities, local activities, upserts, patch markers, timers and
updates, read off the order's history and played back on the same dev server. (Its CPU time is
the load bench's yardstick for the OMS's own overhead, so the shapes must agree.)"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from temporalio.client import Client

from bench.skeleton import DEFAULT_PROGRAM, program_from_history, run_one, shape, skeleton_worker
from tests.support.orders import order_request, post_event, wait_for_status


async def test_skeleton_has_the_shape_of_a_card_order(
    api: httpx.AsyncClient, temporal_client: Client
) -> None:
    body = order_request(lines=[("TS-0000", 1)])
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    [parcel] = order["shipments"]
    await post_event(api, parcel["shipment_id"], "shipped")
    await wait_for_status(api, body["order_id"], {"shipped"})
    await asyncio.sleep(0.5)  # the carrier delivers later, as in the load bench
    await post_event(api, parcel["shipment_id"], "delivered")
    await wait_for_status(api, body["order_id"], {"completed"})
    order_history = await temporal_client.get_workflow_handle(
        f"order-{body['order_id']}"
    ).fetch_history()
    program = program_from_history(order_history)
    assert program.count("update") == 2 and "act*1" in program and "la" in program

    task_queue = f"skeleton-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=50) as executor:
        async with skeleton_worker(temporal_client, task_queue, executor):
            await run_one(temporal_client, program, f"{task_queue}-0", task_queue)
    skeleton_history = await temporal_client.get_workflow_handle(f"{task_queue}-0").fetch_history()

    wanted, got = shape(order_history), shape(skeleton_history)
    print(f"order {wanted}\nskeleton {got}\nprogram {program}")
    assert {k: v for k, v in got.items() if k != "events"} == {
        k: v for k, v in wanted.items() if k != "events"
    }
    assert program_from_history(skeleton_history) == program
    # the standalone default is such an order's shape too (bench/skeleton.py says when counted)
    assert len(DEFAULT_PROGRAM) > 20 and DEFAULT_PROGRAM.count("update") == 2
