"""Stock feeds through the HTTP API on PostgreSQL: idempotent by feed id, snapshots that keep
reserved stock, a 100,000-row feed streamed with visible progress, bad rows by line number."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
from sqlmodel import func, select

from activities.stock import reservations as inventory
from core.db.engine import session_scope
from core.db.schema import Sku, StockMovement
from tests.integration.inventory.support import (
    csv_body,
    ledger_sums,
    level,
    new_location,
    new_sku,
    plan,
    post_feed,
    uid,
)


def _movements(url: str, source: str) -> int:
    with session_scope(url) as s:
        return s.exec(
            select(func.count()).select_from(StockMovement).where(StockMovement.source == source)
        ).one()


async def test_a_feed_posted_twice_changes_nothing_the_second_time(
    api: httpx.AsyncClient, url: str
) -> None:
    loc, sku = new_location(url), new_sku(url)
    feed_id = uid("DELTA")
    body = csv_body([(loc, sku, 7), (loc, sku, 5)])

    first = await post_feed(api, feed_id, body, source="wms-hamburg")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "applied" and first.json()["rows_applied"] == 2
    assert level(url, loc, sku) == (12, 0, 0)

    again = await post_feed(api, feed_id, body, source="wms-hamburg")
    assert again.status_code == 200
    assert again.json()["replayed"] is True and again.json()["rows_applied"] == 2
    assert level(url, loc, sku) == (12, 0, 0)
    assert _movements(url, f"feed:{feed_id}") == 2

    other = await post_feed(api, feed_id, csv_body([(loc, sku, 100)]), source="wms-hamburg")
    assert other.status_code == 409 and "other content" in other.text
    assert level(url, loc, sku) == (12, 0, 0)
    assert ledger_sums(url, loc, sku) == (12, 0, 0)

    shown = await api.get(f"/inventory/feeds/{feed_id}")
    assert shown.json()["status"] == "applied" and shown.json()["source"] == "wms-hamburg"


async def test_a_snapshot_never_wipes_out_reserved_stock_and_reports_conflicts(
    api: httpx.AsyncClient, url: str
) -> None:
    loc = new_location(url)
    a, b, c = new_sku(url), new_sku(url), new_sku(url)
    r = await post_feed(
        api,
        uid("SNAP"),
        csv_body([(loc, a, 10), (loc, b, 5), (loc, c, 3)]),
        mode="snapshot",
        location_id=loc,
    )
    assert r.status_code == 200, r.text
    order = uid("ORD")
    assert inventory.reserve(url, order, plan(order, loc, (a, 8), (b, 2))).ok

    # The count says 4 of A (8 are reserved), B is missing (2 reserved), C was recounted.
    feed_id = uid("SNAP")
    r = await post_feed(
        api, feed_id, f"sku,quantity\n{a},4\n{c},7\n", mode="snapshot", location_id=loc
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert level(url, loc, a) == (8, 8, 0)
    assert level(url, loc, b) == (2, 2, 0)
    assert level(url, loc, c) == (7, 0, 0)
    conflicts = {x["sku"]: x for x in report["conflicts"]}
    assert report["conflicts_count"] == 2
    assert conflicts[a]["line"] == 2 and conflicts[a]["reported"] == 4
    assert conflicts[a]["on_hand_after"] == 8 and conflicts[a]["reserved"] == 8
    assert conflicts[b]["line"] is None and conflicts[b]["on_hand_after"] == 2
    assert report["zeroed"] == 1
    for sku in (a, b, c):
        assert ledger_sums(url, loc, sku) == level(url, loc, sku)

    # Once the reservations are gone, the next snapshot sets what it counts.
    assert inventory.release(url, order) == 10
    r = await post_feed(
        api, uid("SNAP"), f"sku,quantity\n{a},4\n{c},7\n", mode="snapshot", location_id=loc
    )
    assert r.json()["conflicts_count"] == 0
    assert [level(url, loc, x) for x in (a, b, c)] == [(4, 0, 0), (0, 0, 0), (7, 0, 0)]
    for sku in (a, b, c):
        assert ledger_sums(url, loc, sku) == level(url, loc, sku)


async def test_malformed_rows_are_reported_by_line_and_skipped_or_refuse_the_feed(
    api: httpx.AsyncClient, url: str
) -> None:
    loc, sku, other = new_location(url), new_sku(url), new_sku(url)
    body = (
        "location_id,sku,quantity\n"
        f"{loc},{sku},5\n"  # line 2: fine
        f"{loc},{sku},five\n"  # line 3: not a number
        f"{loc},NO-SUCH-SKU,1\n"  # line 4: unknown SKU
        f"{loc},{other}\n"  # line 5: quantity missing
        "\n"
        f"NOWHERE,{other},2\n"  # line 7: unknown location
        f"{loc},{other},3\n"
    )  # line 8: fine

    refused_id = uid("BAD")
    refused = await post_feed(api, refused_id, body, on_error="reject")
    assert refused.status_code == 422
    report = refused.json()
    assert report["status"] == "rejected" and report["rows_applied"] == 0
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (3, "quantity"),
        (4, "sku"),
        (5, "quantity"),
        (7, "location_id"),
    ]
    assert {"loc": ["body", "line 3", "quantity"]}.items() <= report["detail"][0].items()
    assert level(url, loc, sku) == (0, 0, 0) and level(url, loc, other) == (0, 0, 0)
    assert _movements(url, f"feed:{refused_id}") == 0

    skipped = await post_feed(api, uid("BAD"), body, on_error="skip")
    assert skipped.status_code == 200
    report = skipped.json()
    assert report["rows_total"] == 6 and report["rows_bad"] == 4
    assert report["rows_applied"] == 2
    assert [e["line"] for e in report["errors"]] == [3, 4, 5, 7]
    assert level(url, loc, sku) == (5, 0, 0) and level(url, loc, other) == (3, 0, 0)

    # JSON lines: line numbers too, and a refused feed id can be posted again once fixed.
    jsonl = (
        "\n".join(
            [
                json.dumps({"location_id": loc, "sku": sku, "quantity": 1}),
                "{not json",
                json.dumps(["a list"]),
                json.dumps({"location_id": loc, "sku": sku, "quantity": 2.5}),
            ]
        )
        + "\n"
    )
    feed_id = uid("JL")
    r = await post_feed(api, feed_id, jsonl, fmt="jsonl", on_error="reject")
    assert r.status_code == 422
    assert [(e["line"], e["field"]) for e in r.json()["errors"]] == [
        (2, "line"),
        (3, "line"),
        (4, "quantity"),
    ]
    fixed = json.dumps({"location_id": loc, "sku": sku, "quantity": 1}) + "\n"
    r = await post_feed(api, feed_id, fixed, fmt="jsonl", on_error="reject")
    assert r.status_code == 200 and r.json()["rows_applied"] == 1
    assert level(url, loc, sku) == (6, 0, 0)


async def test_bad_feed_requests_get_a_4xx_naming_the_problem(
    api: httpx.AsyncClient, url: str
) -> None:
    loc, sku = new_location(url), new_sku(url)
    r = await post_feed(api, uid("F"), csv_body([(loc, sku, 1)]), mode="full")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "mode"]
    r = await post_feed(api, uid("F"), csv_body([(loc, sku, 1)]), location_id="NOWHERE")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "location_id"]
    r = await api.post(
        f"/inventory/feeds/{uid('F')}",
        params={"mode": "delta"},
        content=b"x",
        headers={"content-type": "application/pdf"},
    )
    assert r.status_code == 415
    r = await post_feed(api, uid("F"), f"sku,qty\n{sku},1\n", location_id=loc)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "header"
    assert "'quantity'" in r.json()["errors"][0]["message"]
    assert level(url, loc, sku) == (0, 0, 0)


async def test_a_hundred_thousand_row_snapshot_streams_with_visible_progress(
    api: httpx.AsyncClient, url: str
) -> None:
    locations = [new_location(url, online=False) for _ in range(40)]
    prefix = uid("BULK")
    skus = [f"{prefix}-{n:04d}" for n in range(2500)]
    with session_scope(url) as s:
        s.add_all(Sku(sku=sku, name=sku, price_cents=100) for sku in skus)
    rows = [
        f"{loc},{sku},{(i * 7 + j) % 60}\n"
        for i, loc in enumerate(locations)
        for j, sku in enumerate(skus)
    ]
    assert len(rows) == 100_000
    feed_id = uid("BIG")
    half_sent, go_on = asyncio.Event(), asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"location_id,sku,quantity\n"
        for start in range(0, len(rows), 5000):
            if start == 50_000:
                half_sent.set()
                await go_on.wait()
            yield "".join(rows[start : start + 5000]).encode()

    upload = asyncio.create_task(
        api.post(
            f"/inventory/feeds/{feed_id}",
            params={"mode": "snapshot"},
            content=body(),
            headers={"content-type": "text/csv"},
            timeout=300,
        )
    )
    await half_sent.wait()
    seen = {}
    for _ in range(600):  # the server reads what was sent so far and shows it
        seen = (await api.get(f"/inventory/feeds/{feed_id}")).json()
        if seen.get("lines_received", 0) >= 40_000:
            break
        await asyncio.sleep(0.05)
    assert seen["status"] == "receiving" and 40_000 <= seen["lines_received"] <= 50_001
    busy = await post_feed(api, feed_id, "location_id,sku,quantity\n", mode="snapshot")
    assert busy.status_code == 409 and "being processed" in busy.text
    go_on.set()
    done = await upload

    assert done.status_code == 200, done.text[:500]
    report = done.json()
    assert report["status"] == "applied"
    assert report["lines_received"] == 100_001
    assert report["rows_total"] == report["rows_applied"] == 100_000
    assert report["rows_bad"] == 0 and report["conflicts_count"] == 0
    assert level(url, locations[3], skus[10]) == ((3 * 7 + 10) % 60, 0, 0)
    assert level(url, locations[39], skus[2499]) == ((39 * 7 + 2499) % 60, 0, 0)
    assert _movements(url, f"feed:{feed_id}") == report["rows_changed"] > 90_000
    assert ledger_sums(url, locations[3], skus[10]) == level(url, locations[3], skus[10])
