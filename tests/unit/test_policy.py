"""The order policy file: the shipped example loads, mistakes are named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from core.policy import OrderPolicy, PolicyError, load_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "policy.example.toml"


def test_example_file_loads_and_equals_defaults() -> None:
    assert load_policy(str(EXAMPLE)) == OrderPolicy()


def test_example_file_shows_every_section() -> None:
    """Each part of the policy is in the example, so an operator sees what can be set."""
    sections = {k for k, v in tomllib.loads(EXAMPLE.read_text()).items() if isinstance(v, dict)}
    wanted = {
        name
        for name, field in OrderPolicy.model_fields.items()
        if isinstance(field.default, BaseModel)
    }
    assert wanted <= sections, sorted(wanted - sections)


def test_no_file_means_defaults() -> None:
    assert load_policy("") == OrderPolicy()


@pytest.mark.parametrize(
    "text, named",
    [
        ("[risk]\nreject_score = 'high'\n", "risk.reject_score"),
        ("[risk]\nmax_qty = 3\n", "risk.max_qty"),
        ("reservation_attempts = [\n", "not valid TOML"),
    ],
)
def test_bad_policy_names_the_problem(tmp_path: Path, text: str, named: str) -> None:
    file = tmp_path / "policy.toml"
    file.write_text(text)
    with pytest.raises(PolicyError, match=named.replace(".", r"\.")):
        load_policy(str(file))
