"""Customer service and operations in a real browser (headless Chromium over real HTTP): an
agent finds an order by e-mail, cancels one unit of a line and sees it in the timeline; the
dashboard's numbers and charts change while the page is open as orders come in.

Screenshots are kept at ``<tmp>/console.png`` and ``<tmp>/dashboard.png``; set
``OMS_CONSOLE_SCREENSHOTS=docs`` to refresh the README's copies.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
from playwright.async_api import Browser, Page, expect

from core.settings import Settings
from tests.support.console import ALL_ROLES, place, staff_key, unique_email, wait_status

PAULA = {
    "name": "Paula Schmidt",
    "street": "Schillerstraße 9",
    "postcode": "04109",
    "city": "Leipzig",
}


async def _login(page: Page, server: str, key: str) -> None:
    await page.goto(f"{server}/console/login")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{server}/console")


def _keep(shot: Path) -> None:
    assert shot.stat().st_size > 10_000
    if target := os.environ.get("OMS_CONSOLE_SCREENSHOTS"):
        shutil.copyfile(shot, Path(target) / shot.name)


async def test_agent_finds_an_order_by_email_and_cancels_part_of_a_line(
    server: str, chromium: Browser, api: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    url = settings.database_url
    shop = staff_key(url, ALL_ROLES, "Web shop")
    email = unique_email()
    order_id = await place(
        api,
        shop,
        lines=[("TS-0000", 3), ("HO-0005", 1)],
        delivery_address=PAULA,
        customer={"id": "C-paula", "email": email, "name": "Paula Schmidt"},
    )
    await wait_status(url, order_id, {"in_fulfilment"})

    page = await chromium.new_page(locale="en-GB", viewport={"width": 1280, "height": 1100})
    await _login(page, server, staff_key(url, "customer_service", "Agent Mira"))
    await page.get_by_label("Search orders").fill(email)
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("[data-order]")).to_have_count(1)
    await page.get_by_role("link", name=order_id).click()
    await expect(page.locator("#waiting")).to_contain_text("waiting for shipment events")

    form = page.locator("#cancel-lines")
    await form.get_by_label("Line").select_option("L1")
    await form.get_by_label("Quantity").fill("1")
    await form.get_by_label("Reason").fill("customer wants two only")
    await form.get_by_role("button", name="Cancel units").click()
    await expect(page.locator(".flash.ok")).to_contain_text("cancel lines: 1 line(s) cancelled")
    event = page.locator('#timeline li[data-event^="lines_cancelled"]')
    await expect(event).to_contain_text("by Agent Mira")
    await expect(event).to_contain_text("1xL1")
    await expect(page.locator('#lines tr[data-line="L1"] td.qty')).to_have_text("2")

    shot = tmp_path / "console.png"
    await page.screenshot(path=str(shot), full_page=True)
    _keep(shot)
    await page.close()


async def test_dashboard_numbers_change_while_it_is_open(
    server: str, chromium: Browser, api: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    url = settings.database_url
    shop = staff_key(url, ALL_ROLES, "Web shop")
    page = await chromium.new_page(locale="en-GB", viewport={"width": 1280, "height": 900})
    await _login(page, server, staff_key(url, "operations", "Ops Lea"))
    await page.get_by_role("link", name="Dashboard").click()
    count = page.locator('[data-metric="orders_today"]')
    before = int(await count.inner_text())
    revenue_before = await page.locator('[data-metric="revenue"]').inner_text()

    placed = [
        await place(api, shop, channel=channel, lines=[(sku, 1)])
        for channel, sku in [("web", "TS-0000"), ("app", "HO-0005"), ("web", "SH-0001")]
    ]
    await expect(count).to_have_text(str(before + len(placed)), timeout=20_000)
    await expect(page.locator('[data-metric="revenue"]')).not_to_have_text(revenue_before)
    await expect(page.locator("#chart-status svg.chart g[data-label]").first).to_be_visible()
    await expect(page.locator("#chart-channel svg.donut circle").nth(1)).to_be_attached()
    await expect(page.locator("#live")).to_contain_text("updated")
    for order_id in placed:  # let the capacity chart show their reservations, then shoot
        await wait_status(url, order_id, {"in_fulfilment", "on_hold", "rejected"})
    await expect(page.locator("#chart-capacity svg.chart g[data-label]").first).to_be_visible(
        timeout=20_000
    )

    shot = tmp_path / "dashboard.png"
    await page.screenshot(path=str(shot), full_page=True)
    _keep(shot)
    await page.close()
