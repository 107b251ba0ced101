"""A day at the shop, compressed: every order's life as the outside world drives it.

The shop places the order (and retries it, same body, until the OMS answers), the payment
provider's bank transfer arrives for prepayment orders, the warehouse accepts and ships each
parcel, the carrier delivers it, customer service cancels some orders, customers return part of
some deliveries and the returns centre receives and inspects them. Every sender behaves like a
real one during an outage: it retries with backoff until the OMS takes the message.

What each order *should* end as is written down here, independently of the OMS, so the audit
can compare.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import httpx

from core.demo_network import build_network
from core.geodata import postcodes

RETRY_ON = {408, 429, 500, 502, 503, 504}


@dataclass
class Plan:
    """What the bench intends for one order, decided before it is placed."""

    order_id: str
    body: dict[str, Any]
    cancel: bool = False
    return_lines: list[tuple[str, int]] = field(default_factory=list)  # (line id, qty)


@dataclass
class Outcome:
    """What happened to one order, as the outside world saw it."""

    order_id: str
    placed_at: float = 0.0  # bench clock (time.time) of the first attempt
    accepted: bool = False
    shed: bool = False  # the shop gave up: the OMS kept answering 503 busy (back-pressure)
    final_status: str = ""
    expected_status: str = ""
    cancelled: bool = False
    total_cents: int = 0
    expected_refund_cents: int = 0
    created_at: datetime | None = None
    released_at: datetime | None = None
    returns: list[str] = field(default_factory=list)
    shipments: int = 0
    error: str = ""


def catalogue() -> tuple[list[str], dict[str, int]]:
    """Small non-hazardous SKUs the demo warehouses stock well, and every SKU's price."""
    _locations, skus, stock = build_network()
    plenty: dict[str, int] = {}
    for row in stock:
        plenty[row.sku] = plenty.get(row.sku, 0) + row.on_hand
    good = [s.sku for s in skus if not s.bulky and not s.hazardous and plenty.get(s.sku, 0) > 300]
    return good, {s.sku: s.price_cents for s in skus}


def plans(n: int, seed: int, run_id: str, cancel_share: float, return_share: float) -> list[Plan]:
    """``n`` orders of a realistic mix: mostly card and wallet, some invoice and prepayment,
    1-3 lines, customers weighted by where people live."""
    rng = random.Random(seed)
    skus, _prices = catalogue()
    codes = [p for p in postcodes().values() if p.city]
    people = rng.choices(codes, weights=[p.population for p in codes], k=n)
    out = []
    for i, pc in enumerate(people):
        name = f"Kundin {run_id} {i}"
        method = rng.choices(["card", "wallet", "invoice", "prepayment"], [60, 20, 15, 5])[0]
        lines: list[dict[str, Any]] = [
            {"sku": sku, "quantity": rng.choice([1, 1, 1, 2])}
            for sku in rng.sample(skus, rng.choice([1, 1, 2, 2, 3]))
        ]
        body: dict[str, Any] = {
            "order_id": f"LD-{run_id}-{i:05d}",
            "channel": rng.choice(["web", "app"]),
            "customer": {
                "id": f"LC-{run_id}-{i}",
                "email": f"k{i}.{run_id}@example.org",
                "name": name,
                "locale": rng.choice(["de", "de", "en"]),
            },
            "delivery_address": {
                "name": name,
                "street": "Musterweg 1",
                "postcode": pc.postcode,
                "city": pc.city,
            },
            "lines": lines,
            "shipping_speed": "standard",
            "payment_method": method,
        }
        plan = Plan(order_id=body["order_id"], body=body)
        roll = rng.random()
        if roll < cancel_share:
            plan.cancel = True
        elif roll < cancel_share + return_share:
            picked = rng.sample(range(len(lines)), rng.randint(1, len(lines)))
            plan.return_lines = [(f"L{j + 1}", lines[j]["quantity"]) for j in sorted(picked)]
        out.append(plan)
    return out


class Sender:
    """HTTP calls the way a real integration makes them: retried on outages with backoff,
    until a deadline."""

    def __init__(self, http: httpx.AsyncClient, deadline_s: float) -> None:
        self.http = http
        self.deadline_s = deadline_s
        self.retries = 0

    async def call(
        self, method: str, path: str, *, ok: set[int], key: str | None = None, json: Any = None
    ) -> httpx.Response:
        deadline = time.monotonic() + self.deadline_s
        wait = 0.2
        last = ""
        while time.monotonic() < deadline:
            try:
                headers = {"X-API-Key": key} if key else None
                r = await self.http.request(method, path, json=json, headers=headers)
                if r.status_code in ok:
                    return r
                if r.status_code not in RETRY_ON:
                    raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
                last = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            self.retries += 1
            await asyncio.sleep(wait)
            wait = min(wait * 2, 5.0)
        raise TimeoutError(f"{method} {path}: gave up after {self.deadline_s:.0f}s ({last})")


class Day:
    """Drives every order of the run; ``delays`` scales the partners' answer times."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        shop_key: str,
        cs_key: str,
        seed: int,
        deadline_s: float = 900.0,
        poll_s: float = 2.0,
    ) -> None:
        self.send = Sender(http, deadline_s)
        self.shop_key, self.cs_key = shop_key, cs_key
        self.rng = random.Random(seed)
        self.deadline_s = deadline_s
        self.poll_s = poll_s
        self.gate = asyncio.Semaphore(64)  # status polls in flight at once

    async def _order(self, order_id: str) -> dict[str, Any]:
        async with self.gate:
            r = await self.send.call("GET", f"/orders/{order_id}", ok={200}, key=self.shop_key)
        return r.json()

    async def _until(self, order_id: str, done: Any) -> dict[str, Any]:
        """Poll the order until ``done(order)``."""
        deadline = time.monotonic() + self.deadline_s
        while time.monotonic() < deadline:
            order = await self._order(order_id)
            if done(order):
                return order
            await asyncio.sleep(self.poll_s * (0.5 + self.rng.random()))
        raise TimeoutError(f"{order_id}: stuck in {order['status']}")

    async def _pause(self, low: float, high: float) -> None:
        await asyncio.sleep(self.rng.uniform(low, high))

    async def live(self, plan: Plan, out: Outcome) -> None:
        """One order from placement to its end (and its return, if any)."""
        out.placed_at = time.time()
        try:
            await self.send.call("POST", "/orders", ok={202}, key=self.shop_key, json=plan.body)
        except TimeoutError as exc:
            if "busy" not in str(exc):
                raise
            out.shed = True  # back-pressure: the customer is told to try later, nothing taken
            return
        out.accepted = True
        order = await self._order(plan.order_id)
        out.total_cents = order["total_cents"]
        if plan.body["payment_method"] == "prepayment":
            await self._until(plan.order_id, lambda o: o["status"] == "awaiting_payment")
            await self._pause(1, 5)
            await self.send.call(
                "POST",
                "/webhooks/payments",
                ok={202},
                json={
                    "order_id": plan.order_id,
                    "payment_id": f"BANK-{plan.order_id}",
                    "amount_cents": out.total_cents,
                    "reference": plan.order_id,
                },
            )
        order = await self._until(plan.order_id, _released_or_over)
        if plan.cancel and order["status"] not in FINAL:
            await self._pause(0.5, 3)
            r = await self.send.call(
                "POST",
                f"/orders/{plan.order_id}/cancel",
                ok={200, 409},
                key=self.cs_key,
                json={"agent": "cs-load", "reason": "customer asked"},
            )
            out.cancelled = r.status_code == 200
        if out.cancelled:
            out.expected_status = "cancelled"
            order = await self._until(plan.order_id, lambda o: o["status"] in FINAL)
        else:
            out.expected_status = "completed"
            order = await self._ship_everything(plan.order_id, order)
            out.shipments = len(order["shipments"])
            if plan.return_lines and order["status"] == "completed":
                await self._return(plan, order, out)
        out.final_status = order["status"]

    async def _ship_everything(self, order_id: str, order: dict[str, Any]) -> dict[str, Any]:
        """Ship every parcel the order has; a parcel the order moved elsewhere meanwhile (not
        accepted in time under load) is refused with 409, and its replacement is shipped in
        the next round, as the other location's staff would."""
        handled: set[str] = set()
        while order["status"] not in FINAL:
            todo = [
                s["shipment_id"]
                for s in order["shipments"]
                if s["shipment_id"] not in handled and s.get("released_at")
            ]
            handled |= set(todo)
            await asyncio.gather(*(self._parcel(sid) for sid in todo))
            order = await self._until(order_id, partial(_news, frozenset(handled)))
        return order

    async def _parcel(self, shipment_id: str) -> None:
        """Warehouse accepts and ships; the carrier delivers. A 409 means the order withdrew
        the parcel (moved or cancelled): the partner stops."""
        for event, low, high in (("accepted", 0.5, 3), ("shipped", 1, 5), ("delivered", 2, 8)):
            await self._pause(low, high)
            body: dict[str, Any] = {"shipment_id": shipment_id, "event": event}
            if event == "shipped":
                body |= {"carrier": "DHL", "tracking_number": f"LT{shipment_id}"[-30:]}
            r = await self.send.call("POST", "/webhooks/shipments", ok={202, 409}, json=body)
            if r.status_code == 409:
                return

    async def _return(self, plan: Plan, order: dict[str, Any], out: Outcome) -> None:
        """The customer sends some lines back; the returns centre receives and inspects."""
        await self._pause(1, 5)
        lines = [
            {"line_id": lid, "quantity": q, "reason": "changed_mind"}
            for lid, q in plan.return_lines
        ]
        r = await self.send.call(
            "POST",
            f"/orders/{plan.order_id}/returns",
            ok={201, 422},
            key=self.cs_key,
            json={"agent": "cs-load", "lines": lines},
        )
        if r.status_code == 422:
            if "already returned" not in r.text:
                raise RuntimeError(f"return refused: {r.text[:300]}")
            # an earlier attempt got through but its answer was lost: take what it opened
            r = await self.send.call(
                "GET", f"/orders/{plan.order_id}/returns", ok={200}, key=self.cs_key
            )
        prices = {ln["line_id"]: ln["unit_price_cents"] for ln in order["lines"]}
        goods = sum(prices[lid] * q for lid, q in plan.return_lines)
        everything = sum(ln["quantity"] for ln in order["lines"]) == sum(
            q for _, q in plan.return_lines
        )
        out.expected_refund_cents = order["total_cents"] if everything else goods
        for ret in r.json()["returns"]:
            rid = ret["return_id"]
            out.returns.append(rid)
            await self._until_return(rid, {"label_issued"})
            await self._pause(1, 4)
            await self.send.call(
                "POST",
                "/webhooks/returns",
                ok={202},
                json={
                    "return_id": rid,
                    "event": "in_transit",
                    "carrier": "DHL",
                    "tracking_number": f"RT{rid}"[-30:],
                },
            )
            await self._pause(1, 4)
            await self.send.call(
                "POST",
                "/webhooks/returns",
                ok={202},
                json={
                    "return_id": rid,
                    "event": "received",
                    "location_id": ret["destination"]["location_id"],
                },
            )
            await self._until_return(rid, {"received", "inspected", "refunded", "closed"})
            await self.send.call(
                "POST",
                "/webhooks/returns",
                ok={202},
                json={
                    "return_id": rid,
                    "event": "inspected",
                    "lines": [{"line_id": ln["line_id"], "sellable": True} for ln in ret["lines"]],
                },
            )
            await self._until_return(rid, {"closed"})

    async def _until_return(self, return_id: str, statuses: set[str]) -> None:
        deadline = time.monotonic() + self.deadline_s
        while time.monotonic() < deadline:
            async with self.gate:
                r = await self.send.call("GET", f"/returns/{return_id}", ok={200}, key=self.cs_key)
            if r.json()["status"] in statuses:
                return
            await asyncio.sleep(self.poll_s)
        raise TimeoutError(f"return {return_id} never reached {statuses}")


FINAL = {"completed", "cancelled", "rejected", "failed"}


def _news(handled: frozenset[str], order: dict[str, Any]) -> bool:
    """The order ended, or has a released parcel the partners have not handled yet."""
    return order["status"] in FINAL or any(
        s["shipment_id"] not in handled and s.get("released_at") for s in order["shipments"]
    )


def _released_or_over(order: dict[str, Any]) -> bool:
    shipments = order["shipments"]
    released = bool(shipments) and all(s.get("released_at") for s in shipments)
    return released or order["status"] in FINAL
