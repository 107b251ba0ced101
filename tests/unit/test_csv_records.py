"""A CSV line the csv module cannot read (a bare carriage return inside an unquoted cell, as
an old Mac export or a hostile upload has) is a bad row for that line, in stock feeds and in
master-data imports alike; the lines after it are still read. It used to be a 500."""

from __future__ import annotations

import io

from activities.masterdata.rows import read
from activities.stock.feed_rows import RowError, csv_records, read_rows

BODY = b"location_id,sku,quantity\nWH-A,TS-1,5\nWH-A,TS\r2,3\n\nWH-B,TS-3,7\n"


def test_csv_records_reports_the_unreadable_line_and_goes_on() -> None:
    got = list(csv_records(io.BytesIO(BODY)))
    assert [line for line, _ in got] == [1, 2, 3, 5]
    bad = got[2][1]
    assert isinstance(bad, RowError) and bad.field == "line" and "not readable CSV" in bad.message
    assert got[3][1] == ["WH-B", "TS-3", "7"]


def test_a_stock_feed_reports_the_line() -> None:
    rows = list(read_rows(io.BytesIO(BODY), "csv", None))
    errors = [r for r in rows if isinstance(r, RowError)]
    assert [(e.line, e.field) for e in errors] == [(3, "line")]
    assert [r.sku for r in rows if not isinstance(r, RowError)] == ["TS-1", "TS-3"]


def test_a_masterdata_import_reports_the_line() -> None:
    parsed = list(read(io.BytesIO(BODY), "csv", "stock", {}))
    assert [(p.line, [e.field for e in p.errors]) for p in parsed if p.row is None] == [
        (3, ["line"])
    ]
    assert [p.line for p in parsed if p.row is not None] == [2, 5]
