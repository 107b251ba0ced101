"""Switching the staff pages' language in a real browser (headless Chromium over real HTTP): a
browser set to English gets the console in English; the switch in the header turns it German,
for the login, the console and the dashboard alike, and it stays German after a reload and
over the browser's own preference, until switched back."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, Page, expect

from core.settings import Settings
from tests.support.console import staff_key


async def _heading(page: Page, text: str) -> None:
    await expect(page.locator("main h1").first).to_contain_text(text)


async def test_an_agent_switches_the_console_to_german_and_back(
    server: str, chromium: Browser, api: httpx.AsyncClient, settings: Settings
) -> None:
    context = await chromium.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(f"{server}/console/login")
    await _heading(page, "Log in")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    switch = page.get_by_role("navigation", name="Language")
    await expect(switch.get_by_role("link", name="English")).to_have_attribute(
        "aria-current", "true"
    )

    await switch.get_by_role("link", name="Deutsch").click()
    await expect(page).to_have_url(f"{server}/console/login")
    await _heading(page, "Anmelden")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await page.get_by_label("API-Schlüssel").fill(
        staff_key(settings.database_url, "customer_service", "Agentin Jana")
    )
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).to_have_url(f"{server}/console")
    await expect(page.locator(".flash.ok")).to_have_text("angemeldet: Agentin Jana")
    await _heading(page, "Neueste Bestellungen")
    await expect(page.get_by_role("button", name="Suchen")).to_be_visible()

    await page.get_by_role("link", name="Dashboard").click()
    await expect(page.locator("#panels")).to_contain_text("Bestellungen heute")
    await expect(page.locator("#live")).to_contain_text("aktualisiert", timeout=15_000)
    await page.reload()  # the choice is kept (a cookie), whatever the browser prefers
    await expect(page.locator("#panels")).to_contain_text("Umsatz heute")

    switch = page.get_by_role("navigation", name="Sprache")
    await switch.get_by_role("link", name="English").click()
    await expect(page).to_have_url(f"{server}/dashboard")
    await expect(page.locator("#panels")).to_contain_text("Orders today")
    await page.get_by_role("link", name="Orders", exact=True).click()
    await _heading(page, "Latest orders")
    await context.close()
