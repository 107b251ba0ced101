"""Rows of a master-data import (catalogue, locations, stock), read one at a time from CSV or
JSON lines, each checked field by field and reported with its line number.

A row names the record's whole truth for the fields it carries: a CSV column or JSON key the
file does not have leaves that field as it is on an existing record (the default on a new one);
an empty cell or ``null`` sets the field's default. Whether a stock row's SKU and location
exist, and duplicate ids, are the importer's business (activities/masterdata/importer.py).

Formats:

- booleans: ``true/false``, ``1/0``, ``yes/no``, ``ja/nein`` (any case);
- price: ``price_cents`` (whole cents, gross) or ``price`` (euros, at most two decimals,
  ``19.99``); one of them is required;
- cut-offs: ``mon-fri 17:00; sat 12:00`` (days ``mon tue wed thu fri sat sun``, a range
  ``a-b`` or a list ``a,b``; weekdays not named are closed; empty: Monday to Saturday at
  ``cutoff_hour``); in JSON lines also an object ``{"mon": "17:00"}``;
- closed dates: ``2026-12-24;2026-12-31`` (ISO dates); in JSON lines also a list.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO, Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from stdnum import ean

from activities.stock.feed_rows import (
    LONE_SURROGATE,
    MAX_QUANTITY,
    FeedFormatError,
    RowError,
    csv_records,
)
from core.geodata import lookup

Kind = Literal["catalogue", "locations", "stock"]
Format = Literal["csv", "jsonl"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STATES = frozenset(  # the 16 German states
    ["BW", "BY", "BE", "BB", "HB", "HH", "HE", "MV", "NI", "NW", "RP", "SL", "SN", "ST", "SH"]
    + ["TH"]
)
_TRUE = {"true", "1", "yes", "ja", "y", "j"}
_FALSE = {"false", "0", "no", "nein", "n"}
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAYS = re.compile(r"^[a-z]{3}(-[a-z]{3})?(,[a-z]{3}(-[a-z]{3})?)*$")


def _bool(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(
        f"{str(value)[:40]!r} is not a yes/no value (true/false, 1/0, yes/no, ja/nein)"
    )


def _number(value: object) -> object:
    """JSON ``true`` is no number, nor are NaN and infinities."""
    if isinstance(value, bool):
        raise ValueError("a number is needed, not true/false")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a finite number is needed")
    return value


Bool = Annotated[bool, BeforeValidator(_bool)]
Int = Annotated[int, BeforeValidator(_number)]
Float = Annotated[float, BeforeValidator(_number), Field(allow_inf_nan=False)]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Country = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{2}$", strip_whitespace=True, to_upper=True)
]


def parse_cutoffs(value: object) -> dict[str, str]:
    """``mon-fri 17:00; sat 12:00`` (or a JSON object) as ``{"mon": "17:00", ...}``."""
    if isinstance(value, dict):
        pairs = [(str(k).strip().lower(), v) for k, v in value.items()]
    elif isinstance(value, str):
        pairs = []
        for part in value.replace("\n", ";").split(";"):
            if not part.strip():
                continue
            bits = part.split()
            if len(bits) != 2:
                raise ValueError(f"{part.strip()!r}: write days and a time, e.g. 'mon-fri 17:00'")
            pairs.append((bits[0].lower(), bits[1]))
    else:
        raise ValueError("cut-offs are written 'mon-fri 17:00; sat 12:00' (or a JSON object)")
    cutoffs: dict[str, str] = {}
    for days, at in pairs:
        if not isinstance(at, str) or not (m := _TIME.match(at.strip())):
            raise ValueError(f"{days}: {str(at)[:20]!r} is not a time HH:MM (00:00-23:59)")
        for day in _expand(days):
            if day in cutoffs:
                raise ValueError(f"{day} is named twice")
            cutoffs[day] = f"{int(m.group(1)):02d}:{m.group(2)}"
    return {day: cutoffs[day] for day in WEEKDAYS if day in cutoffs}


def _expand(days: str) -> list[str]:
    if not _DAYS.match(days):
        raise ValueError(f"{days[:20]!r}: days are mon tue wed thu fri sat sun, e.g. 'mon-fri'")
    out: list[str] = []
    for part in days.split(","):
        first, _, last = part.partition("-")
        for day in (first, last) if last else (first,):
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not a weekday (mon tue wed thu fri sat sun)")
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if b < a:
            raise ValueError(f"{part!r}: a range runs forward, e.g. 'mon-fri'")
        out += WEEKDAYS[a : b + 1]
    return out


def format_cutoffs(cutoffs: dict[str, str]) -> str:
    """The CSV form of a cut-off object, days with the same time joined (``mon-fri 17:00``)."""
    parts: list[str] = []
    days = [d for d in WEEKDAYS if d in cutoffs]
    i = 0
    while i < len(days):
        j = i
        while (
            j + 1 < len(days)
            and WEEKDAYS.index(days[j + 1]) == WEEKDAYS.index(days[j]) + 1
            and cutoffs[days[j + 1]] == cutoffs[days[i]]
        ):
            j += 1
        span = days[i] if i == j else f"{days[i]}-{days[j]}"
        parts.append(f"{span} {cutoffs[days[i]]}")
        i = j + 1
    return "; ".join(parts)


def parse_dates(value: object) -> list[str]:
    """``2026-12-24;2026-12-31`` (or a JSON list) as sorted unique ISO dates."""
    if isinstance(value, str):
        items: list[object] = [p for p in re.split(r"[;\s]+", value) if p]
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError("closed dates are written '2026-12-24;2026-12-31' (or a JSON list)")
    out: set[str] = set()
    for item in items:
        try:
            out.add(date.fromisoformat(str(item).strip()).isoformat())
        except ValueError:
            raise ValueError(f"{str(item)[:20]!r} is not a date YYYY-MM-DD") from None
    return sorted(out)


class _Row(BaseModel):
    """Common to all rows: unknown fields refused, empty values meaning the default."""

    model_config = ConfigDict(extra="forbid")
    COLUMNS: ClassVar[dict[str, str]] = {}
    """Row field -> database column, where they differ."""

    @classmethod
    def required(cls) -> list[str]:
        return [name for name, f in cls.model_fields.items() if f.is_required()]

    @field_validator("*", mode="before")
    @classmethod
    def _clean(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            if "\x00" in value:  # PostgreSQL stores no NUL
                raise ValueError("must not contain NUL characters (\\u0000)")
            if LONE_SURROGATE.search(value):
                raise ValueError("must not contain lone surrogates (\\ud800-\\udfff)")
        if value is None or (isinstance(value, str) and not value.strip()):
            assert info.field_name is not None
            f = cls.model_fields[info.field_name]
            if f.is_required():
                raise ValueError(f"{info.field_name} is missing")
            return f.get_default(call_default_factory=True)
        return value

    @property
    def key(self) -> str | tuple[str, str]:
        raise NotImplementedError

    def problems(self) -> list[tuple[str, str]]:
        """Checks across fields: (field, message) pairs."""
        return []

    def values(self, only_given: bool) -> dict[str, Any]:
        """Database column values: the fields the row carries, or all (with defaults)."""
        names = self.model_fields_set if only_given else set(type(self).model_fields)
        out = {
            self.COLUMNS.get(name, name): getattr(self, name)
            for name in type(self).model_fields
            if name in names and name not in ("price",)
        }
        return out


class CatalogueRow(_Row):
    COLUMNS: ClassVar[dict[str, str]] = {"name_de": "name"}

    sku: Id
    name_de: Name
    name_en: Text = ""
    gtin: str | None = None
    price_cents: Int | None = Field(default=None, ge=0, le=100_000_000)
    price: str | int | float | None = Field(
        default=None, description="euros, e.g. 19.99 (instead of cents)"
    )
    vat_class: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] = "standard"
    weight_kg: Float = Field(default=0.5, ge=0, le=100_000)
    length_cm: Float | None = Field(default=None, gt=0, le=100_000)
    width_cm: Float | None = Field(default=None, gt=0, le=100_000)
    height_cm: Float | None = Field(default=None, gt=0, le=100_000)
    bulky: Bool = False
    hazardous: Bool = False
    hazard_class: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] = ""
    returnable: Bool = True
    active: Bool = True

    @property
    def key(self) -> str:
        return self.sku

    @field_validator("gtin")
    @classmethod
    def _gtin(cls, value: str | None) -> str | None:
        if value is None:
            return None
        compact = ean.compact(value)
        if not compact.isdigit() or len(compact) not in (8, 12, 13, 14):
            raise ValueError(f"{value[:20]!r} is not a GTIN (8, 12, 13 or 14 digits)")
        try:
            return str(ean.validate(compact))
        except Exception:  # stdnum's InvalidChecksum and friends
            raise ValueError(f"{value[:20]!r}: wrong GTIN check digit") from None

    @field_validator("price")
    @classmethod
    def _price(cls, value: str | float | None) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool):
            raise ValueError("a price is needed, not true/false")
        try:
            euros = Decimal(str(value).strip().replace(",", "."))
        except InvalidOperation:
            raise ValueError(f"{str(value)[:20]!r} is not a price like 19.99") from None
        if not euros.is_finite() or euros < 0 or euros != euros.quantize(Decimal("0.01")):
            raise ValueError(f"{str(value)[:20]!r} is not a price like 19.99 (euros, >= 0)")
        if euros > 1_000_000:
            raise ValueError("price above 1,000,000 euros")
        return str(euros)

    @field_validator("vat_class")
    @classmethod
    def _vat(cls, value: str, info: ValidationInfo) -> str:
        rates = (info.context or {}).get("vat_rates")
        if rates is not None and value not in rates:
            raise ValueError(f"unknown VAT class {value!r} (known: {', '.join(sorted(rates))})")
        return value

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if self.price is not None:
            cents = int(Decimal(self.price) * 100)
            if self.price_cents is not None and self.price_cents != cents:
                found.append(("price", f"price {self.price} disagrees with price_cents"))
            self.price_cents = cents
        if self.price_cents is None:
            found.append(("price_cents", "price_cents (or price) is missing"))
        if self.hazardous and not self.hazard_class:
            found.append(("hazard_class", "hazardous goods need their hazard class (UN class)"))
        return found


class LocationRow(_Row):
    COLUMNS: ClassVar[dict[str, str]] = {"hazmat_certified": "hazardous_certified"}

    id: Id
    name: Name
    kind: Literal["warehouse", "store", "vendor", "returns_centre"]
    street: Text = ""
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5)]
    city: Text | None = None
    country: Country = "DE"
    state: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2)] | None = None
    latitude: Float | None = Field(default=None, ge=-90, le=90)
    longitude: Float | None = Field(default=None, ge=-180, le=180)
    zone: Text = ""
    ships_to_customers: Bool = True
    pickup_point: Bool = False
    hazmat_certified: Bool = False
    online: Bool = True
    daily_capacity: Int = Field(default=1000, ge=0, le=10_000_000)
    priority: Int = Field(default=100, ge=-1_000_000, le=1_000_000)
    cutoff_hour: Int = Field(default=16, ge=0, le=24)
    cutoffs: Annotated[dict[str, str], BeforeValidator(parse_cutoffs)] = Field(default_factory=dict)
    closed_dates: Annotated[list[str], BeforeValidator(parse_dates)] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return self.id

    def problems(self) -> list[tuple[str, str]]:
        """Fill city, state and coordinates from the postcode table where not given."""
        found: list[tuple[str, str]] = []
        pc = lookup(self.postcode) if self.country == "DE" else None
        if (self.latitude is None) != (self.longitude is None):
            missing = "latitude" if self.latitude is None else "longitude"
            found.append((missing, "give both latitude and longitude, or neither"))
        elif self.latitude is None:
            if pc is None:
                found.append(
                    (
                        "postcode",
                        f"unknown postcode {self.postcode!r} (not in the postcode table): "
                        "give latitude and longitude",
                    )
                )
            else:
                self.latitude, self.longitude = pc.latitude, pc.longitude
        if self.city is None and not found:
            if pc is None:
                found.append(("city", "city is missing (the postcode table does not know it)"))
            else:
                self.city = pc.city
        if self.state is None:
            self.state = pc.state if pc else ""
        elif self.state and self.country == "DE" and self.state not in STATES:
            found.append(("state", f"{self.state!r} is not a German state code (BY, HE, ...)"))
        return found


class StockRow(_Row):
    location_id: Id
    sku: Id
    quantity: Int = Field(ge=0, le=MAX_QUANTITY)

    @property
    def key(self) -> tuple[str, str]:
        return (self.location_id, self.sku)


MODELS: dict[str, type[_Row]] = {
    "catalogue": CatalogueRow,
    "locations": LocationRow,
    "stock": StockRow,
}
COLUMNS: dict[str, tuple[str, ...]] = {kind: tuple(m.model_fields) for kind, m in MODELS.items()}
"""The columns a CSV (or the keys a JSON line) may have, per kind."""

Row = CatalogueRow | LocationRow | StockRow


@dataclass(frozen=True)
class Parsed:
    """One line: its row, or what is wrong with it (every bad field)."""

    line: int
    row: _Row | None
    errors: tuple[RowError, ...] = ()


def read(fh: IO[bytes], fmt: Format, kind: Kind, context: dict[str, Any]) -> Iterator[Parsed]:
    """The rows of a CSV (with header) or JSON-lines file; blank lines are skipped. Raises
    :class:`FeedFormatError` when the CSV header cannot be used (unknown or missing column)."""
    fh.seek(0)
    model = MODELS[kind]
    records = _csv_records(fh, kind) if fmt == "csv" else _jsonl_records(fh)
    for line, record in records:
        if isinstance(record, RowError):
            yield Parsed(line, None, (record,))
            continue
        yield _validate(model, line, record, context)


def _validate(model: type[_Row], line: int, record: dict[str, Any], context: dict) -> Parsed:
    try:
        row = model.model_validate(record, context=context)
    except ValidationError as exc:
        return Parsed(line, None, tuple(_errors(line, exc)))
    problems = row.problems()
    if problems:
        return Parsed(line, None, tuple(RowError(line, f, m) for f, m in problems))
    return Parsed(line, row)


def _errors(line: int, exc: ValidationError) -> Iterator[RowError]:
    """One error per field (a union type, e.g. price, fails once per member)."""
    seen: set[str] = set()
    for e in exc.errors(include_url=False):
        field = str(e["loc"][0]) if e["loc"] else "line"
        if field in seen:
            continue
        seen.add(field)
        if e["type"] == "extra_forbidden":
            yield RowError(line, field[:64], f"unknown column {field[:64]!r}")
        elif e["type"] == "missing":
            yield RowError(line, field, f"{field} is missing")
        else:
            message = str(e["msg"]).removeprefix("Value error, ")
            got = e.get("input")
            shown = isinstance(got, str | int | float) and not isinstance(got, bool)
            if shown and repr(got)[:42] not in message:
                message += f" (got {repr(got)[:40]})"
            yield RowError(line, field, message)


def _csv_records(fh: IO[bytes], kind: Kind) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    names: list[str] | None = None
    for line, record in csv_records(fh):
        if isinstance(record, RowError):
            yield line, record
            continue
        if names is None:
            names = header(record, kind)
            continue
        if len(record) > len(names):
            yield line, RowError(line, "line", f"{len(record)} cells, the header has {len(names)}")
            continue
        yield line, {name: cell for name, cell in zip(names, record, strict=False)}


def header(record: list[str], kind: Kind) -> list[str]:
    """The CSV header's column names; refuses unknown, repeated and missing columns."""
    names = [cell.strip().lower() for cell in record]
    known = COLUMNS[kind]
    for name in names:
        if name not in known:
            raise FeedFormatError(
                name[:64] or "header",
                f"unknown column {name[:64]!r} (known: {', '.join(known)})",
            )
        if names.count(name) > 1:
            raise FeedFormatError(name, f"column {name!r} appears twice")
    for name in MODELS[kind].required():
        if name not in names:
            raise FeedFormatError(name, f"the header needs a {name!r} column")
    if kind == "catalogue" and "price_cents" not in names and "price" not in names:
        raise FeedFormatError("price_cents", "the header needs a 'price_cents' or 'price' column")
    return names


def _jsonl_records(fh: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for line, raw in enumerate(fh, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            yield line, RowError(line, "line", f"not valid JSON: {exc}")
            continue
        if not isinstance(obj, dict):
            yield line, RowError(line, "line", "each line must be a JSON object")
            continue
        yield line, obj
