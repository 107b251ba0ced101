"""Order policy from a TOML file the retailer edits (``OMS_POLICY_FILE``), validated on load.

The policy is frozen into each order's workflow input at placement, so editing the file
changes new orders only; running orders keep the rules they started with.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from core.models import OrderPolicy


class PolicyError(ValueError):
    """The policy file is unreadable or invalid; the message names the file and field."""


@lru_cache(maxsize=4)
def load_policy(path: str | None) -> OrderPolicy:
    if not path:
        return OrderPolicy()
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{file}: cannot read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{file}: not valid TOML: {exc}") from exc
    try:
        return OrderPolicy.model_validate(data)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PolicyError(f"{file}: {fields}") from exc
