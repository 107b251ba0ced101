"""Carrier files: the demo's TOML is the old built-in set; mistakes name file, carrier, field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routing import Carrier, DistanceBand, TariffFileError, WeightBand, load_carriers
from routing.carriers import DEMO_CARRIERS, default_carriers
from routing.tariff_file import carriers_document, parse_carriers

OLD_DEFAULT = [  # routing/carriers.py before the tariffs moved to demo/carriers.toml
    Carrier(
        name="parcel",
        speeds=["standard", "express"],
        weight_bands=[
            WeightBand(max_kg=2, cost_cents=449),
            WeightBand(max_kg=5, cost_cents=549),
            WeightBand(max_kg=10, cost_cents=749),
            WeightBand(max_kg=31.5, cost_cents=1049),
            WeightBand(cost_cents=2990),
        ],
        transit_bands=[DistanceBand(max_km=200, days=1), DistanceBand(days=2)],
        express_days=1,
        express_surcharge_cents=990,
        bulky_surcharge_cents=1990,
        bulky_max_km=250,
        hazardous_allowed=True,
    ),
    Carrier(
        name="economy",
        speeds=["standard"],
        weight_bands=[
            WeightBand(max_kg=2, cost_cents=379),
            WeightBand(max_kg=5, cost_cents=459),
            WeightBand(max_kg=10, cost_cents=629),
            WeightBand(max_kg=31.5, cost_cents=949),
            WeightBand(cost_cents=2790),
        ],
        transit_bands=[DistanceBand(max_km=100, days=2), DistanceBand(days=3)],
        bulky_allowed=False,
        hazardous_allowed=False,
    ),
    Carrier(
        name="freight",
        speeds=["standard"],
        weight_bands=[WeightBand(max_kg=31.5, cost_cents=3900), WeightBand(cost_cents=5900)],
        transit_bands=[DistanceBand(max_km=300, days=2), DistanceBand(days=3)],
        bulky_allowed=True,
        bulky_max_km=600,
        hazardous_allowed=True,
    ),
    Carrier(
        name="courier",
        speeds=["same_day"],
        weight_bands=[
            WeightBand(max_kg=10, cost_cents=990),
            WeightBand(max_kg=31.5, cost_cents=1990),
            WeightBand(cost_cents=4990),
        ],
        same_day_max_km=40,
        bulky_allowed=True,
        bulky_surcharge_cents=1500,
        bulky_max_km=40,
        hazardous_allowed=False,
    ),
]

PARCEL = """
[[carrier]]
name = "parcel"
speeds = ["standard"]
weight_bands = [{ max_kg = 2, cost_cents = 449 }, { cost_cents = 990 }]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(TariffFileError) as caught:
        load_carriers(path)
    assert str(caught.value) == "; ".join(caught.value.errors)
    return caught.value.errors


def test_the_demo_file_is_the_old_built_in_set() -> None:
    assert Path(__file__).resolve().parents[3] / "demo" / "carriers.toml" == DEMO_CARRIERS
    assert load_carriers(DEMO_CARRIERS) == OLD_DEFAULT
    assert default_carriers() == OLD_DEFAULT


def test_default_carriers_are_the_callers_own_copies() -> None:
    mine = default_carriers()
    mine[0].weight_bands[0].cost_cents = 1
    assert default_carriers() == OLD_DEFAULT


def test_json_holds_the_same_carriers(tmp_path: Path) -> None:
    path = write(tmp_path, "carriers.json", json.dumps(carriers_document(OLD_DEFAULT)))
    assert load_carriers(path) == OLD_DEFAULT
    assert parse_carriers(json.loads(path.read_text()), "api") == OLD_DEFAULT


def test_a_bad_field_names_file_carrier_and_field_path(tmp_path: Path) -> None:
    text = PARCEL.replace("cost_cents = 990", "cost_cents = -5")
    path = write(tmp_path, "carriers.toml", text)
    assert errors_of(path) == [
        "carriers.toml: carrier 'parcel': weight_bands.1.cost_cents: "
        "Input should be greater than or equal to 0"
    ]


def test_every_mistake_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        PARCEL.replace('speeds = ["standard"]', 'speeds = ["overnight"]')
        + """
[[carrier]]
weight_bands = [{ max_kg = 5, cost_cents = 500 }]

[[carrier]]
name = "bike"
weight_bands = [{ cost_cents = 500 }]
same_day_max_km = "far"
"""
    )
    errors = errors_of(write(tmp_path, "mine.toml", text))
    assert errors[0].startswith("mine.toml: carrier 'parcel': speeds.0: Input should be ")
    assert "mine.toml: carrier 2: name: Field required" in errors
    assert (
        "mine.toml: carrier 2: weight_bands: "
        "the last weight band must be open-ended (max_kg omitted)" in errors
    )
    assert any(e.startswith("mine.toml: carrier 'bike': same_day_max_km: ") for e in errors)
    assert len(errors) == 4


def test_unknown_fields_are_refused(tmp_path: Path) -> None:
    errors = errors_of(write(tmp_path, "c.toml", PARCEL + "express_day = 1\n"))
    assert errors == ["c.toml: carrier 'parcel': express_day: Extra inputs are not permitted"]


def test_duplicate_and_reserved_names_are_refused(tmp_path: Path) -> None:
    twice = PARCEL + PARCEL.replace("449", "450")
    assert errors_of(write(tmp_path, "twice.toml", twice)) == [
        "twice.toml: carrier 'parcel': name: duplicate carrier name: each name once",
        "twice.toml: carrier 'parcel': name: duplicate carrier name: each name once",
    ]
    pickup = PARCEL.replace('name = "parcel"', 'name = "pickup"')
    (error,) = errors_of(write(tmp_path, "pickup.toml", pickup))
    assert error.startswith("pickup.toml: carrier 'pickup': name: 'pickup' is reserved")


def test_file_level_mistakes(tmp_path: Path) -> None:
    (error,) = errors_of(write(tmp_path, "a.toml", "[[carriers]]\nname = 1\n[x]\n"))
    assert error.startswith("a.toml: unknown top-level keys ['x']")
    (error,) = errors_of(write(tmp_path, "b.toml", "carrier = []\n"))
    assert error == "b.toml: carrier: needs at least one carrier"
    (error,) = errors_of(write(tmp_path, "c.toml", "[[carrier]\n"))
    assert error.startswith("c.toml: not valid TOML: ")
    (error,) = errors_of(write(tmp_path, "d.json", '{"carriers": [1]}'))
    assert error == "d.json: carrier 1: must be a table/object"
    (error,) = errors_of(write(tmp_path, "e.yaml", "carrier: []"))
    assert error == "e.yaml: unknown extension '.yaml': use .toml or .json"
    (error,) = errors_of(tmp_path / "missing.toml")
    assert error.startswith("missing.toml: cannot read")
