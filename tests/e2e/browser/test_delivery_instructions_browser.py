"""The promise of the confirmation e-mail ("Lieferhinweise ändern") in a real browser
(headless Chromium over real HTTP): its link opens the self-service page with the form, the
customer changes the instructions and sees them changed; too long a text is refused, said in
the customer's words, with what was typed kept, and nothing changes."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.async_api import Browser, expect

from core.domain.orders import MAX_DELIVERY_INSTRUCTIONS
from core.settings import Settings
from tests.support.orders import order_request, wait_for_status
from tests.support.portal import stocked_sku
from tests.support.smtp import Inbox, text_of, wait_for_subject

NEIGHBOUR = "Bitte beim Nachbarn (Hausnummer 19) abgeben"


async def test_the_confirmation_link_leads_to_the_form_and_the_change_sticks(
    server: str,
    chromium: Browser,
    api: httpx.AsyncClient,
    settings: Settings,
    inbox: Inbox,
    tmp_path: Path,
) -> None:
    sku = stocked_sku(settings.database_url, {"WH-BERLIN": 3})
    body = order_request(
        lines=[(sku, 1)], payment_method="prepayment", delivery_instructions="Garage"
    )  # waits for the money: not released, so the instructions can still change
    assert (await api.post("/orders", json=body)).status_code == 202
    oid = body["order_id"]
    await wait_for_status(api, oid, {"awaiting_payment"})
    mail = await wait_for_subject(inbox, oid, "Bestellbestätigung")
    found = re.search(r"Lieferhinweise ändern[^\n]*\n(\S+)", text_of(mail))
    assert found, text_of(mail)
    link = found.group(1).replace(settings.base_url, server)

    page = await chromium.new_page(viewport={"width": 1000, "height": 900})
    response = await page.goto(link)
    assert response is not None and response.status == 200
    await expect(page.locator("#current-instructions")).to_have_text("Garage")
    field = page.get_by_label("Hinweis für die Zustellung")
    await expect(field).to_have_value("Garage")
    await field.fill(NEIGHBOUR)
    await page.get_by_role("button", name="Lieferhinweise speichern").click()
    await expect(page.locator("#done-instructions")).to_have_text(
        "Ihre Lieferhinweise wurden geändert."
    )
    await expect(page.locator("#current-instructions")).to_have_text(NEIGHBOUR)
    await expect(field).to_have_value(NEIGHBOUR)
    await page.screenshot(path=str(tmp_path / "instructions.png"), full_page=True)

    # The field stops typing at the limit; a page from before, or a tampered one, does not.
    await field.evaluate("el => el.removeAttribute('maxlength')")
    too_long = "x" * (MAX_DELIVERY_INSTRUCTIONS + 1)
    await field.fill(too_long)
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.get_by_role("button", name="Lieferhinweise speichern").click()
    assert (await answer.value).status == 422
    await expect(page.locator("#error")).to_have_text(
        f"Lieferhinweise dürfen höchstens {MAX_DELIVERY_INSTRUCTIONS} Zeichen lang sein."
    )
    await expect(page.locator("#current-instructions")).to_have_text(NEIGHBOUR)
    await expect(page.get_by_label("Hinweis für die Zustellung")).to_have_value(too_long)
    order = (await api.get(f"/orders/{oid}")).json()
    assert order["delivery_instructions"] == NEIGHBOUR
    await page.close()
