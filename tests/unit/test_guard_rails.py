"""The import rules (import-linter contracts in pyproject.toml) run in ``make lint``, hold on
the real tree, and fail, naming the contract, when a module breaks one.

The breaking cases copy the packages' Python files and pyproject.toml into a temporary
directory, add one offending module per case (each its own file), and run ``lint-imports``
there once: every contract must be reported broken, each naming its offending module."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {c["id"]: c["name"] for c in CONFIG["contracts"]}
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path) -> tuple[int, str]:
    """``lint-imports`` run in ``cwd`` (its packages shadow the installed ones there)."""
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": str(LINT_IMPORTS.parent), "COLUMNS": "200"},
    )
    return done.returncode, done.stdout + done.stderr


def copy_packages(target: Path) -> Path:
    """The root packages' Python files and the configuration."""
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    for package in CONFIG["root_packages"]:
        for source in (ROOT / package).rglob("*.py"):
            if "__pycache__" in source.parts:
                continue
            copied = target / source.relative_to(ROOT)
            copied.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, copied)
    return target


def test_the_contracts_cover_the_rules() -> None:
    assert set(CONTRACTS) == {
        "layers",
        "routing-pure",
        "nothing-imports-api",
        "workflows-no-database",
        "vocabulary-pure",
        "activities-below-workflows",
        "faces-only-from-workflows",
        "mcp-through-services",
        "mcp-wired-by-app-only",
        "agent-speaks-mcp-only",
    }


def test_the_real_tree_keeps_every_contract() -> None:
    code, out = lint_imports(ROOT)
    assert code == 0, out
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in out


BREAKS = [
    ("routing/_bad.py", "import temporalio\n", "routing-pure"),
    ("routing/_bad.py", "from core.db import engine\n", "routing-pure"),
    ("core/_bad.py", "import api.app\n", "nothing-imports-api"),
    ("devstack/_bad.py", "from api.http import errors\n", "nothing-imports-api"),
    ("workflows/ops/_bad.py", "from sqlmodel import select\n", "workflows-no-database"),
    ("workflows/order/_bad.py", "from core.db import engine\n", "workflows-no-database"),
    ("core/domain/_bad.py", "from temporalio import workflow\n", "vocabulary-pure"),
    ("core/rules/_bad.py", "import sqlalchemy\n", "vocabulary-pure"),
    ("core/rules/_bad.py", "from activities.stock import holds\n", "vocabulary-pure"),
    ("activities/stock/_bad.py", "import workflows.connection\n", "activities-below-workflows"),
    ("activities/orders/_bad.py", "from api import deps\n", "activities-below-workflows"),
    ("core/_bad.py", "import workflows.connection\n", "layers"),
    ("core/_bad.py", "import routing\n", "layers"),
    ("api/routes/_bad.py", "import activities.stock.activities\n", "faces-only-from-workflows"),
    (
        "activities/stock/_bad.py",
        "from activities.orders.activities import RiskActivities\n",
        "faces-only-from-workflows",
    ),
    ("api/mcp/_bad.py", "from api.routes import orders\n", "mcp-through-services"),
    ("api/services/_bad.py", "from api.mcp import callers\n", "mcp-wired-by-app-only"),
    # the agent module itself, replaced in the copy by one that reaches past the MCP server
    ("devstack/customer_agent.py", "from core import settings\n", "agent-speaks-mcp-only"),
]


def broken_sections(out: str) -> dict[str, str]:
    """lint-imports' report of broken contracts, by contract name."""
    report = out.split("Broken contracts\n----------------\n", 1)[1]
    parts = re.split(r"\n([^\n]+)\n-{3,}\n", "\n" + report)
    return {name.strip(): body for name, body in zip(parts[1::2], parts[2::2], strict=True)}


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, str]]:
    """One copy of the tree with every offending module of BREAKS added (each its own file),
    checked once."""
    tree = copy_packages(tmp_path_factory.mktemp("broken"))
    clean_code, clean_out = lint_imports(tree)
    assert clean_code == 0, f"the copy itself must be clean: {clean_out}"
    for n, (path, source, _) in enumerate(BREAKS):
        (tree / path.replace("_bad", f"_bad{n}")).write_text(source)
    code, out = lint_imports(tree)
    return code, out, broken_sections(out)


def test_a_broken_rule_fails_lint_imports(broken: tuple[int, str, dict[str, str]]) -> None:
    code, out, sections = broken
    assert code == 1, out
    assert f"Contracts: 0 kept, {len(CONTRACTS)} broken." in out, out
    assert set(sections) == set(CONTRACTS.values()), out


@pytest.mark.parametrize(
    ("n", "contract"),
    [(n, c) for n, (_, _, c) in enumerate(BREAKS)],
    ids=[f"{c}:{p}" for p, _, c in BREAKS],
)
def test_breaking_a_rule_fails_naming_its_contract_and_the_import(
    broken: tuple[int, str, dict[str, str]], n: int, contract: str
) -> None:
    _, out, sections = broken
    path = BREAKS[n][0].replace("_bad", f"_bad{n}")
    module = path.removesuffix(".py").replace("/", ".")
    assert f"{module} -> " in sections[CONTRACTS[contract]], out


def test_make_lint_runs_the_contracts() -> None:
    lint = (ROOT / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "lint-imports" in lint
    test = (ROOT / "Makefile").read_text().split("\ntest:", 1)[1].split("\n", 1)[0]
    assert "lint" in test.split("##")[0], "make test runs make lint first"
