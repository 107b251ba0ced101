"""Every kind of bad row in a master-data import is reported with its line and field;
``reject`` changes nothing, ``skip`` applies the good rows, a dry run changes nothing and
predicts the real run's counts, and the same file again is a replay. Through the HTTP API on
the session's PostgreSQL, and through the CLI on a fresh SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from activities.stock.ledger import explain
from core.db.engine import session_scope
from core.db.migrate import upgrade
from core.db.schema import AuditEntry, Location, Sku, Stock, StockMovement
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
TABLES = (Sku, Location, Stock, AuditEntry, StockMovement)
CSV = {"Content-Type": "text/csv"}
JSONL = {"Content-Type": "application/x-ndjson"}


def _counts(url: str, prefix: str = "") -> dict[str, int]:
    """Rows per table whose id starts with ``prefix`` (other tests' orders may move stock at
    the same time; this test's rows are its own)."""
    column = {
        Sku: Sku.sku,
        Location: Location.id,
        Stock: Stock.sku,
        AuditEntry: AuditEntry.entity_id,
        StockMovement: StockMovement.sku,
    }
    with session_scope(url) as s:
        return {
            t.__name__: s.exec(
                select(func.count()).select_from(t).where(column[t].like(f"{prefix}%"))  # type: ignore[attr-defined]
            ).one()[0]
            for t in TABLES
        }


def _where(report: dict[str, Any]) -> set[tuple[int, str]]:
    return {(e["line"], e["field"]) for e in report["errors"]}


def _catalogue(p: str) -> bytes:
    return (
        "sku,name_de,name_en,gtin,price,vat_class,weight_kg,hazardous,hazard_class\n"
        f"{p}-A,Hemd,Shirt,4006381333931,19.99,standard,0.4,nein,\n"  # 2 good
        f"{p}-B,Hemd,Shirt,4006381333932,19.99,standard,0.4,nein,\n"  # 3 check digit
        f"{p}-C,Hemd,Shirt,,19.99,standard,-0.4,nein,\n"  # 4 negative weight
        f"{p}-D,Hemd,Shirt,,19.99,luxury,0.4,nein,\n"  # 5 VAT class
        f"{p}-E,Akku,Battery,,9.99,standard,0.2,ja,\n"  # 6 hazardous, no class
        f"{p}-A,Hemd,Shirt,,19.99,standard,0.4,nein,\n"  # 7 duplicate id
        f"{p}-F,Akku,Battery,,9.99,reduced,0.2,ja,9\n"  # 8 good
    ).encode()


CATALOGUE_ERRORS = {(3, "gtin"), (4, "weight_kg"), (5, "vat_class"), (6, "hazard_class")}
CATALOGUE_ERRORS |= {(7, "sku")}


def _locations(p: str) -> bytes:
    rows: list[dict[str, Any]] = [
        {"id": f"{p}-W1", "name": "Lager", "kind": "warehouse", "postcode": "34117",
         "cutoffs": "mon-fri 17:00; sat 12:00", "closed_dates": "2026-12-24;2026-12-31"},
        {"id": f"{p}-W2", "name": "Lager", "kind": "warehouse", "postcode": "00001"},
        {"id": f"{p}-W3", "name": "Lager", "kind": "warehouse", "postcode": "34117",
         "cutoffs": "mon-fri 5pm"},
        {"id": f"{p}-W1", "name": "Lager", "kind": "store", "postcode": "34117"},
        {"id": f"{p}-W4", "name": "Lager", "kind": "store", "postcode": "34117", "colour": "red"},
        {"id": f"{p}-W5", "name": "Laden", "kind": "store", "postcode": "99999",
         "city": "Irgendwo", "latitude": 50.1, "longitude": 8.6, "online": "nein"},
    ]  # fmt: skip
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


LOCATION_ERRORS = {(2, "postcode"), (3, "cutoffs"), (4, "id"), (5, "colour")}


def _stock(p: str) -> bytes:
    return (
        "location_id,sku,quantity\n"
        f"{p}-W1,{p}-A,12\n"  # 2 good
        f"{p}-W1,{p}-NOPE,3\n"  # 3 unknown SKU
        f"{p}-NOWHERE,{p}-A,3\n"  # 4 unknown location
        f"{p}-W1,{p}-F,-2\n"  # 5 negative
        f"{p}-W1,{p}-A,5\n"  # 6 duplicate
        f"{p}-W5,{p}-F,4\n"  # 7 good
    ).encode()


STOCK_ERRORS = {(3, "sku"), (4, "location_id"), (5, "quantity"), (6, "sku")}


async def _post(
    api: httpx.AsyncClient, kind: str, body: bytes, headers: dict[str, str], **params: Any
) -> httpx.Response:
    return await api.post(
        f"/masterdata/imports/{kind}", content=body, headers=headers, params=params
    )


async def _reject_dry_skip_replay(
    api: httpx.AsyncClient,
    url: str,
    kind: str,
    body: bytes,
    headers: dict[str, str],
    errors: set[tuple[int, str]],
    created: int,
    prefix: str,
) -> dict[str, Any]:
    before = _counts(url, prefix)
    r = await _post(api, kind, body, headers, on_error="reject")
    assert r.status_code == 422, r.text
    rejected = r.json()
    assert rejected["status"] == "rejected" and _where(rejected) == errors, rejected
    assert {tuple(d["loc"][1:]) for d in rejected["detail"]} == {
        (f"line {n}", f) for n, f in errors
    }
    assert _counts(url, prefix) == before

    r = await _post(api, kind, body, headers, dry_run="true")
    assert r.status_code == 200, r.text
    dry = r.json()
    assert dry["status"] == "dry_run" and dry["created"] == created, dry
    assert _where(dry) == errors
    assert _counts(url, prefix) == before

    r = await _post(api, kind, body, headers, on_error="skip", source="test")
    assert r.status_code == 200, r.text
    applied = r.json()
    assert applied["status"] == "applied" and not applied["replayed"], applied
    for n in ("rows_total", "rows_bad", "created", "updated", "unchanged"):
        assert applied[n] == dry[n], n
    assert applied["rows_bad"] == len({line for line, _ in errors})

    r = await _post(api, kind, body, headers, on_error="skip")
    assert r.status_code == 200 and r.json()["replayed"] is True, r.text
    after = _counts(url, prefix)
    r = await api.get(f"/masterdata/imports/{applied['import_id']}")
    assert r.status_code == 200 and r.json()["status"] == "applied"
    assert _counts(url, prefix) == after
    return applied


async def test_bad_rows_through_the_api(api: httpx.AsyncClient, settings: Settings) -> None:
    url, p = settings.database_url, f"BR{uuid.uuid4().hex[:6].upper()}"
    for kind, body, headers, errors in (
        ("catalogue", _catalogue(p), CSV, CATALOGUE_ERRORS),
        ("locations", _locations(p), JSONL, LOCATION_ERRORS),
        ("stock", _stock(p), CSV, STOCK_ERRORS),
    ):
        await _reject_dry_skip_replay(api, url, kind, body, headers, errors, 2, p)

    with session_scope(url) as s:
        sku = s.get(Sku, f"{p}-A")
        assert sku is not None and sku.price_cents == 1999 and sku.gtin == "4006381333931"
        assert sku.name == "Hemd" and sku.name_en == "Shirt"
        hz = s.get(Sku, f"{p}-F")
        assert hz is not None and hz.hazardous and hz.hazard_class == "9"
        w1 = s.get(Location, f"{p}-W1")
        assert w1 is not None and (w1.city, w1.state) == ("Kassel", "HE")
        assert w1.cutoffs == {d: "17:00" for d in ("mon", "tue", "wed", "thu", "fri")} | {
            "sat": "12:00"
        }
        assert w1.closed_dates == ["2026-12-24", "2026-12-31"]
        w5 = s.get(Location, f"{p}-W5")
        assert w5 is not None and not w5.online and w5.latitude == 50.1
        for loc, sku_id, qty in ((f"{p}-W1", f"{p}-A", 12), (f"{p}-W5", f"{p}-F", 4)):
            seen = explain(s, loc, sku_id)
            assert seen is not None and seen.level.on_hand == qty and seen.explained
        audit = s.exec(
            select(AuditEntry.actor, AuditEntry.action).where(
                AuditEntry.entity_id.like(f"{p}-%")  # type: ignore[attr-defined]
            )
        ).all()
    assert len(audit) == 4 and {a.action for a in audit} == {"create"}  # 2 SKUs, 2 locations
    assert all("tests" in a.actor for a in audit)
    assert _counts(url, p)["AuditEntry"] == 4

    # A change is an update with its audit entry; the same row again is unchanged.
    change = f"sku,name_de,price_cents,active\n{p}-A,Hemd,2499,false\n{p}-F,Akku,999,1\n"
    r = await _post(api, "catalogue", change.encode(), CSV)
    report = r.json()
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 1, 1), report
    with session_scope(url) as s:
        sku = s.get(Sku, f"{p}-A")
        assert sku is not None and sku.price_cents == 2499 and not sku.active
        assert sku.gtin == "4006381333931"  # not in the file: kept
        entry = s.exec(
            select(AuditEntry).where(
                AuditEntry.entity_id == f"{p}-A", AuditEntry.action == "update"
            )
        ).one()[0]
        assert entry.before["price_cents"] == 1999 and entry.after["price_cents"] == 2499


async def test_unknown_csv_column_refuses_the_file(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    p = f"UC{uuid.uuid4().hex[:6]}"
    before = _counts(settings.database_url, p)
    body = f"sku,name_de,prize\n{p},Hemd,1999\n".encode()
    r = await _post(api, "catalogue", body, CSV)
    assert r.status_code == 422, r.text
    report = r.json()
    assert report["status"] == "rejected" and _where(report) == {(1, "prize")}
    assert "unknown column 'prize'" in report["errors"][0]["message"]
    assert _counts(settings.database_url, p) == before


async def test_a_file_with_no_good_row_is_refused_even_with_skip(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    """Nothing to apply is not "applied": the sender hears 422 with every line named."""
    p = f"NG{uuid.uuid4().hex[:6]}"
    before = _counts(settings.database_url, p)
    body = f"sku,name_de,price_cents\n{p}-1,Hemd,-5\n{p}-2,,100\n".encode()
    r = await _post(api, "catalogue", body, CSV, on_error="skip")
    assert r.status_code == 422, r.text
    report = r.json()
    assert report["status"] == "rejected" and _where(report) == {(2, "price_cents"), (3, "name_de")}
    r = await _post(api, "catalogue", b"null\n", JSONL, on_error="skip")  # the fuzz's find
    assert r.status_code == 422 and _where(r.json()) == {(1, "line")}, r.text
    assert _counts(settings.database_url, p) == before


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "activities.masterdata", "import", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bad_rows_through_the_cli_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    upgrade(url)
    p = "CLI"
    files = {
        "catalogue": (tmp_path / "catalogue.csv", _catalogue(p), CATALOGUE_ERRORS),
        "locations": (tmp_path / "locations.jsonl", _locations(p), LOCATION_ERRORS),
        "stock": (tmp_path / "stock.csv", _stock(p), STOCK_ERRORS),
    }
    for kind, (path, body, errors) in files.items():
        path.write_bytes(body)
        before = _counts(url)
        out = _cli(kind, str(path), "--on-error", "reject", "--database-url", url)
        assert out.returncode == 1, out.stdout + out.stderr
        for line, field in errors:
            assert f"{path}:{line}: {field}: " in out.stdout, (line, field, out.stdout)
        assert _counts(url) == before

        dry = _cli(kind, str(path), "--dry-run", "--database-url", url)
        assert dry.returncode == 0 and "dry run" in dry.stdout, dry.stdout + dry.stderr
        assert _counts(url) == before
        real = _cli(kind, str(path), "--database-url", url)
        assert real.returncode == 0 and "applied" in real.stdout, real.stdout + real.stderr
        assert (
            real.stdout.splitlines()[0].split(":", 1)[1]
            == dry.stdout.splitlines()[0].split(":", 1)[1]
        )  # the same counts
        assert "2 created" in real.stdout
        again = _cli(kind, str(path), "--database-url", url)
        assert again.returncode == 0 and "replayed" in again.stdout
    with session_scope(url) as s:
        seen = explain(s, f"{p}-W1", f"{p}-A")
        assert seen is not None and seen.level.on_hand == 12 and seen.explained
