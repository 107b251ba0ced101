"""Rule profiles per customer group, loaded from a file the retailer edits (TOML or JSON)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from routing.model import RuleProfile


class ProfileError(ValueError):
    """A rule profile file is unreadable or invalid; the message names file, group and field."""


def default_profile() -> RuleProfile:
    """Fewest parcels first, then earliest delivery, then cost and backlog balance together."""
    return RuleProfile(
        name="default",
        description="fewest parcels, then earliest delivery, then cost and backlog balance",
        priorities=[["parcels"], ["delivery_days"], ["cost", "backlog"]],
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ProfileError(f"{path}: not valid {path.suffix.lstrip('.').upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: top level must be a table/object")
    return data


def _describe(group: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(x) for x in err["loc"]) or "(profile)"
        parts.append(f"groups.{group}.{field}: {err['msg']}")
    return "; ".join(parts)


def parse_profiles(data: dict[str, Any], source: str = "<profiles>") -> dict[str, RuleProfile]:
    """Validate the `groups` table of an already parsed profile document."""
    unknown = sorted(set(data) - {"groups"})
    if unknown:
        raise ProfileError(f"{source}: unknown top-level keys {unknown}; expected [groups.<name>]")
    groups = data.get("groups")
    if not isinstance(groups, dict) or not groups:
        raise ProfileError(f"{source}: needs at least one [groups.<name>] table")
    profiles: dict[str, RuleProfile] = {}
    for group, body in groups.items():
        if not isinstance(body, dict):
            raise ProfileError(f"{source}: groups.{group} must be a table")
        body = {"name": group, **body}
        try:
            profiles[group] = RuleProfile.model_validate(body)
        except ValidationError as exc:
            raise ProfileError(f"{source}: {_describe(group, exc)}") from exc
    return profiles


def load_profiles(path: str | Path) -> dict[str, RuleProfile]:
    """Load and validate every customer group's profile; errors name the offending field."""
    path = Path(path)
    return parse_profiles(_read(path), str(path))


def profile_for(profiles: dict[str, RuleProfile], customer_group: str) -> RuleProfile:
    """The group's profile, else the file's `default` group, else the built-in default."""
    return profiles.get(customer_group) or profiles.get("default") or default_profile()
