"""A customer uses the self-service page in a real browser (headless Chromium over real HTTP):
open the signed link from the e-mail, start a return, download the label (the customer is
German: so is the page). A tampered token, or another order's token, opens nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import Browser, expect

from core.order_tokens import order_token
from core.settings import Settings
from tests.support.catalogue import make_sku
from tests.support.returns import delivered_order, wait_return, warehouse_in


async def test_customer_starts_a_return_and_downloads_the_label(
    server: str, chromium: Browser, api: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    url = settings.database_url
    sku = make_sku(url, {warehouse_in(url, "Dortmund"): 6}, price_cents=2999)
    order = await delivered_order(api, [(sku, 2)])
    other = await delivered_order(api, [(sku, 1)])
    oid = order["order_id"]
    token = order_token(settings.self_service_secret, oid)

    page = await chromium.new_page(viewport={"width": 1000, "height": 900}, locale="de-DE")
    response = await page.goto(f"{server}/my/orders/{oid}?t={token}")
    assert response is not None and response.status == 200
    await expect(page.locator("#order-id")).to_have_text(oid)
    await expect(page.get_by_role("link", name="Sendung verfolgen")).to_have_count(1)

    row = page.locator('#start-return tr[data-line="L1"]')
    await row.get_by_role("spinbutton").fill("1")
    await row.get_by_role("combobox").select_option("wrong_size")
    await page.get_by_role("button", name="Rücksendung starten").click()
    rid = f"R-{oid}-1"
    await expect(page.locator("#done")).to_contain_text(rid)
    card = page.locator(f'[data-return="{rid}"]')
    await expect(card).to_contain_text("1 x Testartikel")
    await expect(card).to_contain_text("29,99 €")
    await page.screenshot(path=str(tmp_path / "self_service.png"), full_page=True)

    async with page.expect_download() as info:
        await card.get_by_role("link", name="Rücksendeetikett herunterladen (PDF)").click()
    download = await info.value
    saved = tmp_path / "label.pdf"
    await download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF") and saved.stat().st_size > 1000
    assert download.suggested_filename == f"return-label-{rid}.pdf"
    await wait_return(api, rid, {"label_issued"})

    # The second unit can still be returned, the first cannot be returned twice.
    await page.reload()
    await expect(page.locator('#start-return tr[data-line="L1"] td').nth(1)).to_have_text("1")

    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    theirs = order_token(settings.self_service_secret, other["order_id"])
    for bad in (
        f"/my/orders/{oid}?t={tampered}",
        f"/my/orders/{oid}",
        f"/my/orders/{oid}?t={theirs}",
        f"/my/orders/{oid}/returns/{rid}/label.pdf?t={tampered}",
    ):
        response = await page.goto(f"{server}{bad}")
        assert response is not None and response.status == 403, bad
        await expect(page.locator("#refused")).to_contain_text("nicht gültig")
        await expect(page.locator("body")).not_to_contain_text(oid)
    await page.close()
