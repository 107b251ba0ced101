"""A German customer's self-service page in a real browser (headless Chromium over real HTTP):
the link from the German order e-mail opens the page in German although the browser prefers
English (the order's language decides); the switch at the top turns it English, it stays
English after a reload and on the next visit from the e-mail, and switches back to German."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.async_api import Browser, Page, expect

from core.settings import Settings
from tests.support.catalogue import make_sku
from tests.support.returns import delivered_order, warehouse_in
from tests.support.smtp import Inbox, text_of, wait_for_subject
from tests.unit.test_customer_translations import assert_one_language


async def _reads(page: Page, lang: str) -> None:
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    text = await page.locator("body").text_content()
    assert text is not None
    assert_one_language(re.sub(r"\s+", " ", text), lang, page.url)


async def test_a_german_customer_follows_the_e_mail_link_and_switches_to_english(
    server: str,
    chromium: Browser,
    api: httpx.AsyncClient,
    settings: Settings,
    inbox: Inbox,
    tmp_path: Path,
) -> None:
    url = settings.database_url
    sku = make_sku(url, {warehouse_in(url, "Dortmund"): 4}, price_cents=2999)
    order = await delivered_order(api, [(sku, 2)])  # a German customer (locale "de")
    oid = order["order_id"]
    mail = await wait_for_subject(inbox, oid, "Bestellbestätigung")
    found = re.search(r"(\S+/my/orders/\S+)", text_of(mail))
    assert found, text_of(mail)
    link = found.group(1).replace(settings.base_url, server)

    context = await chromium.new_context(locale="en-GB", viewport={"width": 1000, "height": 900})
    page = await context.new_page()
    response = await page.goto(link)
    assert response is not None and response.status == 200
    await expect(page.locator("h1")).to_contain_text(f"Bestellung {oid}")
    await expect(page.locator("#order-status")).to_have_text("abgeschlossen")
    await expect(page.get_by_role("link", name="Sendung verfolgen")).to_have_count(1)
    await expect(page.get_by_role("button", name="Rücksendung starten")).to_be_visible()
    await expect(page.locator("main")).to_contain_text("59,98 €")
    await _reads(page, "de")
    await page.screenshot(path=str(tmp_path / "self_service_de.png"), full_page=True)

    switch = page.get_by_role("navigation", name="Sprache")
    await expect(switch.get_by_role("link", name="Deutsch")).to_have_attribute(
        "aria-current", "true"
    )
    await switch.get_by_role("link", name="English").click()
    await expect(page).to_have_url(link)
    await expect(page.locator("h1")).to_contain_text(f"Order {oid}")
    await expect(page.locator("#order-status")).to_have_text("completed")
    await expect(page.get_by_role("link", name="Track parcel")).to_have_count(1)
    await expect(page.get_by_role("button", name="Start return")).to_be_visible()
    await expect(page.locator("main")).to_contain_text("€59.98")
    await _reads(page, "en")
    await page.screenshot(path=str(tmp_path / "self_service_en.png"), full_page=True)

    await page.reload()  # kept in a cookie: on this page and the next visit from the e-mail
    await expect(page.locator("#order-status")).to_have_text("completed")
    again = await context.new_page()
    await again.goto(link)
    await expect(again.get_by_role("button", name="Start return")).to_be_visible()
    await again.close()

    switch = page.get_by_role("navigation", name="Language")
    await switch.get_by_role("link", name="Deutsch").click()
    await expect(page).to_have_url(link)
    await expect(page.locator("#order-status")).to_have_text("abgeschlossen")
    await _reads(page, "de")
    await context.close()
