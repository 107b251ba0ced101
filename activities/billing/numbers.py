"""Gap-free invoice numbers: each series (``RE-2026`` for invoices, ``GS-2026`` for credit notes)
counts 1, 2, 3, ... with no number missing and none given twice, as German bookkeeping (GoBD)
expects, and a retried step gets its invoice back instead of a new number.

How: the number is taken and the invoice inserted in ONE transaction that holds the series'
counter row locked (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite every write transaction
is ``BEGIN IMMEDIATE``, see core/db/engine.py, which serialises writers the same way). So

- two issuers of the same series queue on the row lock; the second reads the counter the first
  committed, never the same value;
- a failure anywhere before commit (the build, the insert, a crash) rolls back the increment
  together with the invoice: the number is given again to the next invoice, no gap;
- the idempotency key (order id + step) is looked up after the lock is held, when every earlier
  issue under that key has committed, and the key is unique in the table as last defence.

A sequence (``nextval``) would not do: it is not transactional, so a rolled-back invoice would
leave a hole.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from activities.billing.document import Kind
from core.db.engine import session_scope
from core.db.schema import Invoice, InvoiceCounter

SERIES_PREFIX: dict[Kind, str] = {"invoice": "RE", "credit_note": "GS"}
"""Rechnung and Gutschrift (credit note) are numbered in separate series."""

_NEW_SERIES = text(
    "INSERT INTO invoice_counter (series, next_number) VALUES (:series, 1) "
    "ON CONFLICT (series) DO NOTHING"
)


def series_for(kind: Kind, on: date) -> str:
    """The series of a document: its kind's prefix and the year (``RE-2026``)."""
    return f"{SERIES_PREFIX[kind]}-{on.year}"


def format_number(series: str, n: int) -> str:
    """The printed number: ``RE-2026-000042`` (fixed width, so it also sorts as text)."""
    return f"{series}-{n:06d}"


def find(url: str, key: str) -> Invoice | None:
    """The invoice issued under an idempotency key, if any."""
    with session_scope(url) as s:
        return _by_key(s, key)


def issue(url: str, key: str, series: str, build: Callable[[str], Invoice]) -> Invoice:
    """Issue the next number of ``series`` to the invoice ``build(number)`` returns, or return
    the invoice already issued under ``key``.

    ``build`` runs while the series is locked: keep it quick and free of side effects (price
    the document before, render the PDF after). ``issue`` sets the row's number, series and
    idempotency key itself.
    """
    if (found := find(url, key)) is not None:
        return found
    try:
        with session_scope(url) as s:
            counter = _lock_counter(s, series)
            if (found := _by_key(s, key)) is not None:  # issued while we waited for the lock
                return found
            number = format_number(series, counter.next_number)
            row = build(number)
            row.number, row.series, row.idempotency_key = number, series, key
            s.add(row)
            counter.next_number += 1
            s.add(counter)
            s.flush()
            return row
    except IntegrityError:
        # the same key issued concurrently under another series: that one stands
        if (found := find(url, key)) is not None:
            return found
        raise


def attach_pdf(url: str, number: str, pdf: bytes) -> None:
    """Store the rendered PDF of an issued document; the first stored copy stays (renders are
    deterministic, and an issued document must not change)."""
    with session_scope(url) as s:
        row = s.exec(select(Invoice).where(Invoice.number == number).with_for_update()).one()
        if row.pdf is None:
            row.pdf = pdf
            s.add(row)


def _by_key(s: Session, key: str) -> Invoice | None:
    return s.exec(select(Invoice).where(Invoice.idempotency_key == key)).first()


def _lock_counter(s: Session, series: str) -> InvoiceCounter:
    """The series' counter row, locked until the transaction ends; created at 1 if new (two
    first issuers of a series both insert-or-ignore, then queue on the same row)."""
    query = (
        select(InvoiceCounter)
        .where(InvoiceCounter.series == series)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    counter = s.exec(query).first()
    if counter is None:
        s.connection().execute(_NEW_SERIES, {"series": series})
        counter = s.exec(query).one()
    return counter
