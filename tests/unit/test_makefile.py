"""The start command's own output: `make up` on a fresh machine first installs the virtualenv,
and nothing pip merely warns about may bury the URLs the start command prints (a machine's pip
configuration can name indexes that lack most packages: one warning per package)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_installing_prints_errors_only(tmp_path: Path) -> None:
    stamp = tmp_path / ".installed"
    dry = subprocess.run(
        ["make", "-n", "-B", f"STAMP={stamp}", "install"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installs = [line for line in dry.splitlines() if "pip install" in line]
    assert len(installs) >= 2, dry
    assert all(" -qq " in line for line in installs), installs
