"""Carriers and tariffs as a file the retailer edits (TOML or JSON), validated field by field.

TOML holds one ``[[carrier]]`` table per carrier service, JSON an object ``{"carriers": [...]}``;
each entry has exactly the fields of `routing.model.Carrier`. Every mistake is reported at once,
naming the file, the carrier (by name, else by position) and the field path, so the retailer can
fix a file in one pass, and the API can answer 422 for each.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from routing.model import PICKUP_CARRIER, Carrier

TariffFormat = Literal["toml", "json"]
LIST_KEYS = ("carrier", "carriers")
"""The list of carriers: ``[[carrier]]`` in TOML, ``"carriers"`` in JSON (either works in both)."""


@dataclass(frozen=True)
class TariffProblem:
    """One mistake: which carrier (position and name if it has one), which field, what."""

    index: int | None
    carrier: str | None
    field: tuple[str | int, ...]
    message: str
    kind: str = "value_error"

    def where(self) -> str:
        """``carrier 'parcel'`` or ``carrier 3`` (1-based), or nothing for the whole file."""
        if self.carrier:
            return f"carrier {self.carrier!r}"
        return "" if self.index is None else f"carrier {self.index + 1}"

    def describe(self, source: str) -> str:
        parts = [source, self.where(), ".".join(str(x) for x in self.field)]
        return ": ".join([p for p in parts if p] + [self.message])


class TariffFileError(ValueError):
    """A carrier file is unreadable or invalid. ``errors`` holds one readable line per mistake
    (file: carrier: field: message); ``problems`` the same, structured."""

    def __init__(self, source: str, problems: list[TariffProblem]) -> None:
        self.source = source
        self.problems = problems
        self.errors = [p.describe(source) for p in problems]
        super().__init__("; ".join(self.errors))


def _fail(source: str, message: str, field: tuple[str | int, ...] = ()) -> TariffFileError:
    return TariffFileError(source, [TariffProblem(None, None, field, message)])


def _message(err: Any) -> str:
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def parse_carriers(data: object, source: str) -> list[Carrier]:
    """Validate an already parsed carrier document (a TOML table or JSON object)."""
    if not isinstance(data, dict):
        raise _fail(source, "top level must be a table/object holding the carriers")
    unknown = sorted(set(data) - set(LIST_KEYS))
    if unknown:
        raise _fail(source, f"unknown top-level keys {unknown}; expected [[carrier]] tables")
    present = [k for k in LIST_KEYS if k in data]
    if len(present) != 1:
        raise _fail(source, "expected exactly one list of carriers ([[carrier]] or carriers)")
    key = present[0]
    entries = data[key]
    if not isinstance(entries, list) or not entries:
        raise _fail(source, "needs at least one carrier", (key,))
    carriers: list[Carrier] = []
    problems: list[TariffProblem] = []
    for i, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        label = name if isinstance(name, str) and name.strip() else None
        if not isinstance(entry, dict):
            problems.append(TariffProblem(i, None, (), "must be a table/object", "dict_type"))
            continue
        try:
            carrier = Carrier.model_validate(entry)
        except ValidationError as exc:
            problems += [
                TariffProblem(i, label, tuple(e["loc"]), _message(e), e["type"])
                for e in exc.errors()
            ]
            continue
        if not carrier.name.strip():
            problems.append(TariffProblem(i, None, ("name",), "must not be empty"))
            continue
        if carrier.name == PICKUP_CARRIER:
            msg = f"{PICKUP_CARRIER!r} is reserved for a pickup store's own shelf"
            problems.append(TariffProblem(i, label, ("name",), msg))
            continue
        carriers.append(carrier)
    counts = Counter(c.name for c in carriers)
    for i, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and counts[name] > 1:
            msg = "duplicate carrier name: each name once"
            problems.append(TariffProblem(i, name, ("name",), msg))
    if problems:
        raise TariffFileError(source, problems)
    return carriers


def loads_carriers(text: str, fmt: TariffFormat, source: str) -> list[Carrier]:
    """Parse and validate carrier file text in the given format."""
    try:
        data = json.loads(text) if fmt == "json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise _fail(source, f"not valid {fmt.upper()}: {exc}") from exc
    return parse_carriers(data, source)


def file_format(path: Path) -> TariffFormat:
    """TOML or JSON, by the file's extension."""
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return "toml"
    if suffix == ".json":
        return "json"
    raise _fail(path.name, f"unknown extension {suffix!r}: use .toml or .json")


def load_carriers(path: str | Path) -> list[Carrier]:
    """Load and validate a carrier file; errors name the file (its name), carrier and field."""
    path = Path(path)
    fmt = file_format(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise _fail(path.name, f"cannot read ({reason})") from exc
    return loads_carriers(text, fmt, path.name)


def carriers_document(carriers: list[Carrier]) -> dict[str, list[dict[str, Any]]]:
    """The JSON file format of a carrier list: ``{"carriers": [...]}``, every field spelled out."""
    return {"carriers": [c.model_dump(mode="json") for c in carriers]}
