"""Invoice numbers are gap-free and never doubled under concurrency, a repeated key returns its
invoice, and a failed issue leaves no gap (activities/billing/numbers.py), on the session's
PostgreSQL and on SQLite."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from activities.billing import numbers
from activities.billing.document import InvoiceDraft, Item, Party
from core.db.engine import session_scope
from core.db.migrate import upgrade
from core.db.schema import Invoice, InvoiceCounter

N = 50


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("database_url"))
    sqlite = f"sqlite:///{tmp_path}/billing.db"
    upgrade(sqlite)
    return sqlite


def _draft(order_id: str) -> InvoiceDraft:
    return InvoiceDraft.from_items(
        order_id=order_id,
        items=[
            Item(
                sku="TS-1", name="T-Shirt", quantity=1, unit_gross_cents=1190, vat_rate=Decimal(19)
            )
        ],
        buyer=Party(name="Anna Beispiel", street="Marienplatz 1", postcode="80331", city="München"),
        issued_on=date(2026, 12, 8),
    )


def _series() -> str:
    return f"T{uuid.uuid4().hex[:8]}-2026"  # a series of its own per test: the database is shared


def test_concurrent_issues_get_consecutive_numbers_once(url: str) -> None:
    series, run = _series(), uuid.uuid4().hex[:8]
    keys = [f"O-{run}-{i}:invoice" for i in range(N)]
    start = threading.Barrier(N)

    def one(key: str) -> str:
        start.wait()
        return numbers.issue(url, key, series, _draft(key.split(":")[0]).row).number

    with ThreadPoolExecutor(max_workers=N) as pool:
        issued = list(pool.map(one, keys))
    expected = [numbers.format_number(series, n) for n in range(1, N + 1)]
    assert sorted(issued) == expected  # each number once, none missing

    with ThreadPoolExecutor(max_workers=8) as pool:  # every step retried: the same numbers
        again = list(
            pool.map(lambda k: numbers.issue(url, k, series, _draft("x").row).number, keys)
        )
    assert again == issued
    with session_scope(url) as s:
        rows = s.exec(select(Invoice).where(Invoice.series == series)).all()
        counter = s.get(InvoiceCounter, series)
    assert len(rows) == N and counter is not None and counter.next_number == N + 1
    assert {r.idempotency_key: r.number for r in rows} == dict(zip(keys, issued, strict=True))


def test_a_failed_issue_rolls_back_its_number(url: str) -> None:
    series, run = _series(), uuid.uuid4().hex[:8]
    first = numbers.issue(url, f"{run}-1", series, _draft("O-1").row)
    taken: list[str] = []

    def broken(number: str) -> Invoice:
        taken.append(number)
        raise RuntimeError("the step died after taking a number")

    with pytest.raises(RuntimeError):
        numbers.issue(url, f"{run}-2", series, broken)
    assert taken == [numbers.format_number(series, 2)]

    # a failure at insert (the number taken, the row refused by the database) rolls back too
    def bad_row(number: str) -> Invoice:
        row = _draft("O-2").row(number)
        row.kind = "x" * 500  # longer than the column: PostgreSQL refuses it
        return row

    if url.startswith("postgresql"):
        with pytest.raises(Exception, match="too long"):
            numbers.issue(url, f"{run}-3", series, bad_row)

    second = numbers.issue(url, f"{run}-2", series, _draft("O-2").row)
    assert [first.number, second.number] == [
        numbers.format_number(series, 1),
        numbers.format_number(series, 2),
    ]
    assert numbers.find(url, f"{run}-3") is None


def test_series_and_pdf(url: str) -> None:
    assert numbers.series_for("invoice", date(2026, 1, 1)) == "RE-2026"
    assert numbers.series_for("credit_note", date(2027, 1, 1)) == "GS-2027"
    series = _series()
    row = numbers.issue(url, f"{series}-pdf", series, _draft("O-9").row)
    numbers.attach_pdf(url, row.number, b"%PDF-first")
    numbers.attach_pdf(url, row.number, b"%PDF-second")
    found = numbers.find(url, f"{series}-pdf")
    assert found is not None and found.pdf == b"%PDF-first"
