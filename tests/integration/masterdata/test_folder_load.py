"""A folder of master-data files (what compose's ``prepare`` loads from OMS_MASTERDATA_DIR):
loaded in dependency order whatever the file names sort as, harmless when loaded again, and a
bad file stops the load without changing anything of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from activities.masterdata.folder import FolderLoadError, load_folder
from activities.masterdata.tariffs import current_carriers
from core.db.engine import session_scope
from core.db.migrate import upgrade
from core.db.schema import Location, Sku, Stock
from core.settings import Settings

OWN_WORLD = Path(__file__).resolve().parent / "own_world"


def _counts(url: str) -> tuple[int, int, int]:
    with session_scope(url) as s:
        return (
            s.exec(select(func.count()).select_from(Sku)).scalar_one(),
            s.exec(select(func.count()).select_from(Location)).scalar_one(),
            s.exec(select(func.sum(Stock.on_hand))).scalar_one(),
        )


@pytest.fixture
def sqlite_settings(settings: Settings, tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'folder.db'}"
    upgrade(url)
    return settings.model_copy(update={"database_url": url})


def test_a_folder_loads_in_order_and_again_changes_nothing(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "masterdata"
    shutil.copytree(OWN_WORLD, folder)  # catalogue.csv, locations.jsonl, stock.csv, carriers
    first = load_folder(sqlite_settings, folder, actor="prepare")
    assert [p.name for p, _ in first.reports] == ["catalogue.csv", "locations.jsonl", "stock.csv"]
    assert all(r.status == "applied" and not r.replayed for _, r in first.reports)
    assert first.carriers_new and first.carriers_version is not None
    loaded = _counts(sqlite_settings.database_url)
    assert loaded == (3, 2, 105)

    again = load_folder(sqlite_settings, folder, actor="prepare")
    assert all(r.replayed for _, r in again.reports)
    assert (again.carriers_version, again.carriers_new) == (first.carriers_version, False)
    assert _counts(sqlite_settings.database_url) == loaded
    with session_scope(sqlite_settings.database_url) as s:
        _version, carriers = current_carriers(s)
    assert [c.name for c in carriers] == ["rhoenpaket"]


def test_a_bad_file_stops_the_load_and_changes_nothing_of_its_own(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "masterdata"
    shutil.copytree(OWN_WORLD, folder)
    (folder / "locations.jsonl").unlink()  # the stock file now names unknown locations
    with pytest.raises(FolderLoadError, match=r"stock\.csv was rejected: line 2 location_id"):
        load_folder(sqlite_settings, folder, actor="prepare")
    skus, locations, on_hand = _counts(sqlite_settings.database_url)
    assert (skus, locations, on_hand) == (3, 0, None)


def test_two_files_of_one_kind_are_ambiguous(sqlite_settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "catalogue.csv").write_text("sku\n")
    (tmp_path / "catalogue.jsonl").write_text("")
    with pytest.raises(FolderLoadError, match="both catalogue.csv and catalogue.jsonl"):
        load_folder(sqlite_settings, tmp_path, actor="prepare")
    assert _counts(sqlite_settings.database_url) == (0, 0, None)
