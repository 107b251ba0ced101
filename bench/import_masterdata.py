"""Master-data import throughput and memory: 100,000 SKUs, 500 locations and 200,000 stock
rows through ``run_import`` (the code path of the API and the CLI), on a throwaway PostgreSQL
and, with ``--sqlite``, on a SQLite file.

Per database: the catalogue (all new), the same catalogue with every tenth price changed
(updates: compare all, write a tenth), the locations, the stock levels (through the ledger).
Rows/s per phase and the process's peak RSS after each phase: the files stream from disk in
chunks, so the peak must stay flat as the files grow (only the ids are kept, for duplicates).

    .venv/bin/python bench/import_masterdata.py                # PostgreSQL
    .venv/bin/python bench/import_masterdata.py --sqlite       # and SQLite
    .venv/bin/python bench/import_masterdata.py --skus 20000 --no-write

Writes bench/results/import_masterdata.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activities.masterdata.importer import run_import  # noqa: E402
from activities.masterdata.rows import Kind  # noqa: E402
from core.db.migrate import upgrade  # noqa: E402
from core.geodata import postcodes  # noqa: E402
from core.settings import Settings  # noqa: E402
from devstack.postgres import remove_cluster, start_cluster  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def peak_mb() -> float:
    """Peak resident set of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def write_catalogue(path: Path, n: int, changed_every: int = 0) -> None:
    rng = random.Random(1)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sku", "name_de", "name_en", "price_cents", "vat_class", "weight_kg"])
        for i in range(n):
            price = rng.randrange(499, 99_999)
            if changed_every and i % changed_every == 0:
                price += 100
            w.writerow([f"B-{i:06d}", f"Artikel {i}", f"Article {i}", price, "standard", 0.5])


def write_locations(path: Path, n: int) -> list[str]:
    codes = sorted(postcodes())
    step = max(1, len(codes) // n)
    ids = []
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "kind", "postcode", "daily_capacity", "cutoffs"])
        for i in range(n):
            ids.append(f"BL-{i:04d}")
            kind = "warehouse" if i < 20 else "store"
            cutoffs = "mon-fri 17:00; sat 12:00" if kind == "warehouse" else ""
            w.writerow([ids[-1], f"Ort {i}", kind, codes[i * step], 500, cutoffs])
    return ids


def write_stock(path: Path, locations: list[str], skus: int, rows: int) -> None:
    per_location = max(1, rows // len(locations))
    rng = random.Random(2)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["location_id", "sku", "quantity"])
        written = 0
        for loc in locations:
            start = rng.randrange(skus)
            for k in range(per_location):
                if written >= rows:
                    return
                w.writerow([loc, f"B-{(start + k * 7) % skus:06d}", rng.randint(0, 200)])
                written += 1


def phase(url: str, settings: Settings, kind: Kind, path: Path, label: str) -> dict[str, Any]:
    started = time.perf_counter()
    with path.open("rb") as fh:
        report = run_import(
            url, kind, fh, fmt="csv", source="bench", actor="bench", settings=settings
        )
    seconds = time.perf_counter() - started
    assert report.status == "applied" and report.rows_bad == 0, report.errors[:3]
    figures = {
        "phase": label,
        "rows": report.rows_total,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "seconds": round(seconds, 2),
        "rows_per_s": round(report.rows_total / seconds),
        "peak_rss_mb": peak_mb(),
    }
    print(
        f"  {label:<22} {figures['rows']:>8,} rows {seconds:7.2f} s "
        f"{figures['rows_per_s']:>8,} rows/s  peak RSS {figures['peak_rss_mb']} MB",
        flush=True,
    )
    return figures


def run(url: str, files: dict[str, Path]) -> list[dict[str, Any]]:
    upgrade(url)
    settings = Settings(database_url=url)
    steps: list[tuple[Kind, str, str]] = [
        ("catalogue", "catalogue", "catalogue (new)"),
        ("catalogue", "catalogue_changed", "catalogue (10% changed)"),
        ("locations", "locations", "locations (new)"),
        ("stock", "stock", "stock (new, ledger)"),
    ]
    return [phase(url, settings, kind, files[name], label) for kind, name, label in steps]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--locations", type=int, default=500)
    parser.add_argument("--stock-rows", type=int, default=200_000)
    parser.add_argument("--sqlite", action="store_true", help="also on a SQLite file")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="oms-import-bench-") as tmp:
        d = Path(tmp)
        files = {name: d / f"{name}.csv" for name in ("catalogue", "catalogue_changed")}
        files |= {name: d / f"{name}.csv" for name in ("locations", "stock")}
        write_catalogue(files["catalogue"], args.skus)
        write_catalogue(files["catalogue_changed"], args.skus, changed_every=10)
        ids = write_locations(files["locations"], args.locations)
        write_stock(files["stock"], ids, args.skus, args.stock_rows)
        sizes = {name: round(p.stat().st_size / 1e6, 1) for name, p in files.items()}
        print(f"files (MB): {sizes}; peak RSS before importing {peak_mb()} MB", flush=True)
        results: dict[str, list[dict[str, Any]]] = {}
        databases: list[tuple[str, Callable[[], tuple[str, Callable[[], None]]]]] = [
            ("postgresql", _postgres)
        ]
        if args.sqlite:
            databases.append(("sqlite", lambda: (f"sqlite:///{d / 'bench.db'}", lambda: None)))
        for name, start in databases:
            print(f"{name}:", flush=True)
            url, stop = start()
            try:
                results[name] = run(url, files)
            finally:
                stop()
    out = {
        "benchmark": "import_masterdata",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "bench/import_masterdata.py" + (" --sqlite" if args.sqlite else ""),
        "data": {
            "skus": args.skus,
            "locations": args.locations,
            "stock_rows": args.stock_rows,
            "file_mb": sizes,
        },
        "chunk_rows": Settings().masterdata_chunk_rows,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "results": results,
    }
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "import_masterdata.json"
        path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


def _postgres() -> tuple[str, Callable[[], None]]:
    cluster = start_cluster()
    return cluster.url, lambda: remove_cluster(cluster)


if __name__ == "__main__":
    main()
