"""Order policies for tests. The shipped default holds every order 15 minutes before release
(time to change it); tests that are not about the hold release at once, as the load bench
does, so each test's timing stays its own."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.policy import OrderPolicy, ReleasePolicy

NO_HOLD_TOML = '[release]\nhold = "PT0S"\n'
NO_HOLD = OrderPolicy(release=ReleasePolicy(hold=timedelta(0)))


def policy_file(folder: Path, toml: str = "") -> str:
    """A policy file in ``folder``: the no-hold release section, then ``toml`` (sections of
    the test's own)."""
    path = folder / "policy.toml"
    path.write_text(NO_HOLD_TOML + toml, encoding="utf-8")
    return str(path)
