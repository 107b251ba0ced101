"""The order policy a bench runs with: the shipped defaults but its own release hold (the
default 15 minutes would hold every bench order), written into the stack's folder."""

from __future__ import annotations

from pathlib import Path


def release_policy(folder: Path, hold_s: int) -> dict[str, str]:
    """Environment that points the stack at a policy holding orders ``hold_s`` seconds;
    latency is measured from the hold's end."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench-policy.toml"
    path.write_text(f'[release]\nhold = "PT{int(hold_s)}S"\n', encoding="utf-8")
    return {"OMS_POLICY_FILE": str(path)}
