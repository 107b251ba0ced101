"""A folder of master-data files, loaded in the one order that works: catalogue, locations,
stock (it names both), then carriers. The demo (``demo/``) and the production stack's
``prepare`` step (``OMS_MASTERDATA_DIR``) both load a folder this way.

Each file goes through the importer with ``on_error=reject``: a bad file changes nothing and
stops the load. Imports are idempotent by content and a carrier file equal to the tariff in
force makes no new version, so loading the same folder again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from activities.masterdata.importer import ImportReport, run_import
from activities.masterdata.rows import Format, Kind
from activities.masterdata.tariffs import put_carriers
from core.settings import Settings
from routing.tariff_file import load_carriers

ORDER: tuple[Kind, ...] = ("catalogue", "locations", "stock")
SUFFIXES: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CARRIER_FILES = ("carriers.toml", "carriers.json")


class FolderLoadError(RuntimeError):
    """A file of the folder did not import cleanly; nothing of that file was applied."""


@dataclass(frozen=True)
class FolderLoad:
    """What loading a folder did: one report per data file, and the tariff version."""

    reports: list[tuple[Path, ImportReport]]
    carriers_version: int | None = None
    carriers_new: bool = False


def data_file(folder: Path, kind: Kind) -> Path | None:
    """``catalogue.csv`` or ``catalogue.jsonl`` (or ``.ndjson``); two of them is ambiguous."""
    found = [
        folder / f"{kind}{suffix}" for suffix in SUFFIXES if (folder / f"{kind}{suffix}").exists()
    ]
    if len(found) > 1:
        raise FolderLoadError(f"{folder}: both {found[0].name} and {found[1].name}; keep one")
    return found[0] if found else None


def load_folder(settings: Settings, folder: Path, *, actor: str) -> FolderLoad:
    """Import every master-data file the folder has, in dependency order."""
    if not folder.is_dir():
        raise FolderLoadError(f"{folder} is not a folder")
    reports: list[tuple[Path, ImportReport]] = []
    for kind in ORDER:
        path = data_file(folder, kind)
        if path is None:
            continue
        with path.open("rb") as fh:
            report = run_import(
                settings.database_url,
                kind,
                fh,
                fmt=SUFFIXES[path.suffix],
                on_error="reject",
                source=f"{folder.name}/{path.name}",
                actor=actor,
                settings=settings,
            )
        if report.status not in ("applied",):
            errors = "; ".join(
                f"line {e['line']} {e['field']}: {e['message']}" for e in report.errors[:3]
            )
            raise FolderLoadError(f"{path} was {report.status}: {errors}")
        reports.append((path, report))
    for name in CARRIER_FILES:
        path = folder / name
        if path.exists():
            version, created = put_carriers(
                settings.database_url,
                load_carriers(path),
                source=f"{folder.name}/{name}",
                actor=actor,
            )
            return FolderLoad(reports, version, created)
    return FolderLoad(reports)
