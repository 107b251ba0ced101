"""Reading stock-feed rows from CSV or JSON lines, one at a time, each with its line number.

Only the shape of a row is checked here (fields present, quantity an integer); whether its SKU
and location exist is the feed's business (activities/stock/feeds.py).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

MAX_QUANTITY = 1_000_000_000
_INT = re.compile(r"^[+-]?\d+$")

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""Half of a UTF-16 pair: JSON decodes it into a str that no database can store."""


@dataclass(frozen=True)
class FeedRow:
    line: int
    location_id: str
    sku: str
    quantity: int
    reason: str = ""


@dataclass(frozen=True)
class RowError:
    """A row that cannot be applied; location and SKU when they could be read, so a snapshot
    leaves that SKU alone instead of taking it as absent."""

    line: int
    field: str
    message: str
    location_id: str | None = None
    sku: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


class FeedFormatError(ValueError):
    """The feed as a whole cannot be read (e.g. its CSV header lacks a column)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def read_rows(fh: IO[bytes], fmt: str, location_id: str | None) -> Iterator[FeedRow | RowError]:
    """Rows of a CSV (with header) or JSON-lines feed; blank lines are skipped."""
    fh.seek(0)
    if fmt == "csv":
        return _csv_rows(fh, location_id)
    return _jsonl_rows(fh, location_id)


def _decoded(fh: IO[bytes], undecodable: set[int]) -> Iterator[str]:
    for n, raw in enumerate(fh, start=1):
        try:
            text = raw.decode("utf-8-sig" if n == 1 else "utf-8")
        except UnicodeDecodeError:
            undecodable.add(n)
            text = "\n"
        yield text


def csv_records(fh: IO[bytes]) -> Iterator[tuple[int, list[str] | RowError]]:
    """A CSV file's records with their line numbers, blank ones skipped. A line that is not
    UTF-8 or that the csv module cannot read (a bare carriage return in an unquoted cell) is
    a RowError for that line; reading goes on with the next."""
    undecodable: set[int] = set()
    reader = csv.reader(_decoded(fh, undecodable))
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, RowError(reader.line_num, "line", f"not readable CSV: {exc}")
            continue
        line = reader.line_num
        if line in undecodable:
            yield line, RowError(line, "line", "not valid UTF-8")
        elif record and any(cell.strip() for cell in record):
            yield line, record


def _csv_rows(fh: IO[bytes], location_id: str | None) -> Iterator[FeedRow | RowError]:
    columns: dict[str, int] | None = None
    for line, record in csv_records(fh):
        if isinstance(record, RowError):
            yield record
            continue
        if columns is None:
            columns = _header(record, location_id)
            continue
        fields = {name: record[i].strip() for name, i in columns.items() if i < len(record)}
        missing = [name for name in columns if name not in fields and name != "reason"]
        if missing:
            yield RowError(line, missing[0], f"missing column {missing[0]!r}")
            continue
        yield _row(
            line,
            fields.get("location_id"),
            fields.get("sku"),
            fields.get("quantity"),
            fields.get("reason", ""),
            location_id,
        )


def _header(record: list[str], location_id: str | None) -> dict[str, int]:
    names = [cell.strip().lower() for cell in record]
    needed = ["sku", "quantity"] + ([] if location_id else ["location_id"])
    for name in needed:
        if name not in names:
            raise FeedFormatError(
                "header", f"CSV header needs a {name!r} column (found {', '.join(names)})"
            )
    return {
        name: names.index(name)
        for name in ("location_id", "sku", "quantity", "reason")
        if name in names
    }


def _jsonl_rows(fh: IO[bytes], location_id: str | None) -> Iterator[FeedRow | RowError]:
    for line, raw in enumerate(fh, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            yield RowError(line, "line", f"not valid JSON: {exc}")
            continue
        if not isinstance(obj, dict):
            yield RowError(line, "line", "each line must be a JSON object")
            continue
        quantity = obj.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int | str | type(None)):
            quantity = repr(quantity)
        yield _row(
            line,
            _text(obj.get("location_id")),
            _text(obj.get("sku")),
            None if quantity is None else str(quantity),
            _text(obj.get("reason")) or "",
            location_id,
        )


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.strip() if isinstance(value, str) else repr(value)


def _row(
    line: int,
    row_location: str | None,
    sku: str | None,
    quantity: str | None,
    reason: str,
    feed_location: str | None,
) -> FeedRow | RowError:
    for field, value in (
        ("location_id", row_location),
        ("sku", sku),
        ("quantity", quantity),
        ("reason", reason),
    ):
        if value and "\x00" in value:  # PostgreSQL stores no NUL, not even in the error log
            return RowError(line, field, "must not contain NUL characters (\\u0000)")
        if value and LONE_SURROGATE.search(value):  # JSON's "\ud800" decodes, never encodes
            return RowError(line, field, "must not contain lone surrogates (\\ud800-\\udfff)")
    location = row_location or feed_location
    key = {"location_id": location, "sku": sku or None}
    if feed_location and row_location and row_location != feed_location:
        return RowError(
            line,
            "location_id",
            f"location {row_location!r} differs from the feed's location {feed_location!r}",
            **key,
        )
    if not location:
        return RowError(line, "location_id", "location_id is missing", **key)
    if not sku:
        return RowError(line, "sku", "sku is missing", **key)
    if len(sku) > 64 or len(location) > 64:
        return RowError(
            line, "sku" if len(sku) > 64 else "location_id", "longer than 64 characters"
        )
    if quantity is None or quantity == "":
        return RowError(line, "quantity", "quantity is missing", **key)
    if not _INT.match(quantity) or abs(int(quantity)) > MAX_QUANTITY:
        return RowError(
            line,
            "quantity",
            f"quantity {quantity[:40]!r} is not a whole number "
            f"between -{MAX_QUANTITY} and {MAX_QUANTITY}",
            **key,
        )
    return FeedRow(line, location, sku, int(quantity), reason[:200])
