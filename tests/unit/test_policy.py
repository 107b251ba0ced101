"""The order policy file: the shipped example loads, mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.policy import OrderPolicy, PolicyError, load_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "policy.example.toml"


def test_example_file_loads_and_equals_defaults() -> None:
    assert load_policy(str(EXAMPLE)) == OrderPolicy()


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
