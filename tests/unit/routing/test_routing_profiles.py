"""Rule profile files: the example loads, and every mistake is named by group and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routing import ProfileError, default_profile, load_profiles, profile_for

EXAMPLE = Path(__file__).resolve().parents[3] / "routing" / "profiles.example.toml"


def test_example_file_loads_every_group() -> None:
    profiles = load_profiles(EXAMPLE)
    assert set(profiles) == {"default", "premium", "budget", "b2b"}
    assert profiles["premium"].priorities[0] == ["delivery_days"]
    assert profiles["budget"].weight("delivery_days") == 150
    assert profiles["budget"].weight("backlog") == 1
    assert profiles["b2b"].allow_line_split is False
    assert profiles["default"].name == "default"


def test_unknown_group_falls_back_to_default() -> None:
    profiles = load_profiles(EXAMPLE)
    assert profile_for(profiles, "premium").name == "premium"
    assert profile_for(profiles, "wholesale").name == "default"
    assert profile_for({}, "wholesale") == default_profile()


def test_json_profile_files_work_too(tmp_path: Path) -> None:
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"groups": {"vip": {"priorities": [["delivery_days"]]}}}))
    assert load_profiles(path)["vip"].priorities == [["delivery_days"]]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('[groups.vip]\npriorities = [["parcles"]]', "groups.vip.priorities.0.0"),
        ('[groups.vip]\npriorities = [["cost"], ["cost"]]', "more than one place"),
        ('[groups.vip]\npriorities = [["cost"], []]', "at least one criterion"),
        ("[groups.vip]\npriorities = []", "groups.vip.priorities"),
        (
            '[groups.vip]\npriorities = [["cost"]]\nweights = { parcels = 2 }',
            "weights.parcels: criterion is not listed",
        ),
        (
            '[groups.vip]\npriorities = [["cost"]]\nweights = { cost = 0 }',
            "weights.cost: weight must be a positive integer",
        ),
        (
            '[groups.vip]\npriorities = [["cost"]]\nweights = { cost = "high" }',
            "groups.vip.weights.cost",
        ),
        ('[groups.vip]\npriority = [["cost"]]', "groups.vip.priority: Extra inputs"),
        (
            '[groups.vip]\npriorities = [["cost"]]\nallow_line_split = "maybe"',
            "groups.vip.allow_line_split",
        ),
        ('[group.vip]\npriorities = [["cost"]]', "unknown top-level keys ['group']"),
        ("", "at least one [groups.<name>]"),
        ("[groups.vip\npriorities = 1", "not valid TOML"),
    ],
)
def test_invalid_profiles_name_the_offending_field(
    tmp_path: Path, body: str, fragment: str
) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(body)
    with pytest.raises(ProfileError) as info:
        load_profiles(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        load_profiles(tmp_path / "nope.toml")
