"""The demo network as data: ``demo/*.csv`` and ``demo/carriers.toml`` loaded through the
same importer a retailer's files go through (activities/masterdata/folder.py), so the demo
exercises the real path and the ledger explains every demo stock level from the first minute."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from activities.masterdata.folder import load_folder
from core.db.engine import session_scope
from core.db.schema import Location
from core.settings import get_settings

DEMO = Path(__file__).resolve().parent.parent / "demo"


def load_demo(url: str) -> bool:
    """Load the demo unless the database already has locations. True if it loaded it."""
    with session_scope(url) as s:
        if s.exec(select(Location.id).limit(1)).first() is not None:
            return False
    load_folder(get_settings().model_copy(update={"database_url": url}), DEMO, actor="demo")
    return True
