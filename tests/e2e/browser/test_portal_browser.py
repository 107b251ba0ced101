"""A store's staff use the portal in a real browser (headless Chromium over real HTTP): log in
with the store's key, see only their own shipments, confirm one shipped with a tracking number,
and the order moves on.

The screenshot is kept at ``<tmp>/portal.png``; set ``OMS_PORTAL_SCREENSHOT=docs/portal.png``
to refresh the README's copy.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
from playwright.async_api import Browser, expect

from core.db.engine import session_scope
from core.db.schema import ShipmentRecord
from core.settings import Settings
from tests.support.orders import wait_for_status
from tests.support.portal import place_released, portal_key, shipment_status, stocked_sku

STORE, OTHER = "ST-BERLIN", "ST-HAMBURG"
BERLIN = {"name": "Jonas Weber", "street": "Torstraße 112", "postcode": "10119", "city": "Berlin"}
TRACKING = "00340434161234567890"


async def test_store_confirms_shipped_in_the_browser_and_the_order_moves_on(
    server: str, chromium: Browser, api: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    url = settings.database_url
    mine = []
    for name, qty, extra in [
        ("T-Shirt Basic weiß, M", 2, ("Sneaker Canvas, 42", 1)),
        ("Kissen Leinen natur", 1, None),
        ("Lampe Messing", 1, ("Vase Steingut blau", 2)),
    ]:
        lines = [(stocked_sku(url, {STORE: 10}, name), qty)]
        if extra:
            lines.append((stocked_sku(url, {STORE: 10}, extra[0]), extra[1]))
        mine.append(await place_released(api, lines, delivery_address=BERLIN))
    theirs = await place_released(api, [(stocked_sku(url, {OTHER: 10}, "Teppich grau"), 1)])
    my_ids = [o["shipments"][0]["shipment_id"] for o in mine]
    their_id = theirs["shipments"][0]["shipment_id"]
    assert {o["shipments"][0]["location_id"] for o in mine} == {STORE}

    page = await chromium.new_page(locale="en-GB", viewport={"width": 1100, "height": 720})
    await page.goto(f"{server}/portal/login")
    await page.get_by_label("Portal key").fill(portal_key(url, STORE, "Filiale Berlin, Lager"))
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{server}/portal/queue")
    await expect(page.locator("header .who")).to_contain_text("Filiale Berlin")

    # Only this store's work: every card on the page is a Berlin shipment, theirs is absent.
    for sid in my_ids:
        await expect(page.locator(f'[data-shipment="{sid}"]')).to_have_count(1)
    await expect(page.locator(f'[data-shipment="{their_id}"]')).to_have_count(0)
    shown = await page.locator("[data-shipment]").evaluate_all(
        "cards => cards.map(c => c.dataset.shipment)"
    )
    with session_scope(url) as s:
        records = [s.get(ShipmentRecord, sid) for sid in shown]
    assert {r.location_id for r in records if r is not None} == {STORE} and None not in records

    # Work on the second one a little, so the queue shows where each parcel stands.
    second = page.locator(f'[data-shipment="{my_ids[1]}"]')
    await second.get_by_role("button", name="Accept").click()
    await expect(page.locator(".flash.ok")).to_contain_text(my_ids[1])
    await expect(second.locator(".badge")).to_have_text("accepted")

    first = page.locator(f'[data-shipment="{my_ids[0]}"]')
    await first.get_by_placeholder("carrier").fill("DHL")
    await first.get_by_placeholder("tracking number").fill(TRACKING)
    await first.get_by_role("button", name="Shipped").click()
    await expect(page.locator(".flash.ok")).to_contain_text(f"{my_ids[0]} is shipped")
    await expect(page.locator(f'[data-shipment="{my_ids[0]}"]')).to_have_count(0)

    order = await wait_for_status(api, mine[0]["order_id"], {"shipped"})
    assert order["shipments"][0]["tracking_number"] == TRACKING
    assert shipment_status(url, their_id) == ("released", "")

    shot = tmp_path / "portal.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if target := os.environ.get("OMS_PORTAL_SCREENSHOT"):
        shutil.copyfile(shot, target)

    await (
        page.locator(f'[data-shipment="{my_ids[2]}"]').get_by_role("link", name="Pick list").click()
    )
    await expect(page.locator(".picklist")).to_contain_text("Vase Steingut blau")
    await expect(page.locator(".picklist")).to_contain_text("Torstraße 112, 10119 Berlin")
    await page.screenshot(path=str(tmp_path / "picklist.png"), full_page=True)

    await page.get_by_role("link", name="Shipped").click()
    await expect(page.locator(f"#s-{my_ids[0]}")).to_contain_text(TRACKING)
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(f"{server}/portal/login")
    await page.goto(f"{server}/portal/queue")  # logged out: back to the login page
    await expect(page).to_have_url(f"{server}/portal/login")
    await page.close()
