"""The return label as a customer prints it: its text (pdftotext) carries the return number and
both addresses, and its QR code (rendered by pdftoppm, decoded by zbarimg) reads back as the
return number. The tools come from Debian (poppler-utils, zbar-tools); missing ones fail.

Set ``OMS_RETURN_LABEL_PNG=docs/return_label.png`` to refresh the README's picture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx

from core.settings import Settings
from tests.support.catalogue import make_sku
from tests.support.returns import delivered_order, request_return, warehouse_in


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: apt-get install poppler-utils zbar-tools (.ci/run does)"
    return path


async def test_label_pdf_has_number_addresses_and_a_qr_code_that_reads_back(
    api: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    url = settings.database_url
    sku = make_sku(url, {warehouse_in(url, "Dortmund"): 4, warehouse_in(url, "Leipzig"): 1})
    order = await delivered_order(api, [(sku, 1)])
    [ret] = (await request_return(api, order["order_id"], ("L1", 1, "wrong_size"))).json()[
        "returns"
    ]
    rid, dest = ret["return_id"], ret["destination"]

    r = await api.get(f"/returns/{rid}/label.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    pdf = tmp_path / "label.pdf"
    pdf.write_bytes(r.content)

    text = subprocess.run(
        [_tool("pdftotext"), "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert rid in text
    for line in ("Erika Mustermann", "Heidestraße 17", "51147 Köln"):  # the sender
        assert line in text
    for line in (dest["name"], f"{dest['postcode']} {dest['city']}"):  # the destination
        assert line in text

    subprocess.run(
        [_tool("pdftoppm"), "-png", "-r", "150", "-singlefile", str(pdf), str(tmp_path / "label")],
        check=True,
    )
    png = tmp_path / "label.png"
    decoded = subprocess.run(
        [_tool("zbarimg"), "--quiet", "--raw", str(png)], check=True, capture_output=True, text=True
    ).stdout.split()
    assert decoded == [rid]
    if target := os.environ.get("OMS_RETURN_LABEL_PNG"):
        shutil.copyfile(png, target)
