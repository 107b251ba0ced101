"""``python -m activities.masterdata import catalogue|locations|stock|carriers FILE``: the
retailer's master data from files, through the same importer as the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from activities.masterdata.importer import ImportReport, run_import
from activities.masterdata.rows import Format, Kind
from core.settings import Settings, get_settings

SHOW_ERRORS = 20
"""Errors printed after the summary (all are counted; the API's report keeps 1,000)."""

cli = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True)
imports = typer.Typer(no_args_is_help=True, help="Import a file of master data.")
cli.add_typer(imports, name="import")

FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]
FormatOpt = Annotated[
    str | None, typer.Option("--format", help="csv | jsonl (default: from the file's extension)")
]
OnErrorOpt = Annotated[
    str, typer.Option("--on-error", help="skip: apply the good rows; reject: change nothing")
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="report what would change, only")]
UrlOpt = Annotated[
    str | None, typer.Option("--database-url", help="default: OMS_DATABASE_URL / settings")
]


def _settings(url: str | None) -> Settings:
    settings = get_settings()
    return settings.model_copy(update={"database_url": url}) if url else settings


def _format(explicit: str | None, path: Path) -> Format:
    name = explicit or {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(
        path.suffix.lower(), ""
    )
    if name not in ("csv", "jsonl"):
        typer.echo(f"{path}: say --format csv or --format jsonl", err=True)
        raise typer.Exit(2)
    return name  # type: ignore[return-value]


def _run(
    kind: Kind, path: Path, fmt: str | None, on_error: str, dry_run: bool, url: str | None
) -> None:
    if on_error not in ("skip", "reject"):
        typer.echo("--on-error is skip or reject", err=True)
        raise typer.Exit(2)
    settings = _settings(url)
    every = max(settings.masterdata_chunk_rows, 10_000)
    shown = [0]

    def progress(done: int) -> None:
        if done - shown[0] >= every:
            typer.echo(f"  {done:,} rows {'compared' if dry_run else 'applied'}", err=True)
            shown[0] = done

    with path.open("rb") as fh:
        report = run_import(
            settings.database_url,
            kind,
            fh,
            fmt=_format(fmt, path),
            on_error=on_error,  # type: ignore[arg-type]
            dry_run=dry_run,
            source=f"cli:{path.name}",
            actor="cli",
            settings=settings,
            progress=progress,
        )
    typer.echo(summary(report, str(path)))
    if report.status == "rejected":
        raise typer.Exit(1)


def summary(report: ImportReport, name: str) -> str:
    """The report for a terminal: counts, then the first errors as ``FILE:LINE: field: msg``."""
    what = "dry run" if report.dry_run else report.status
    lines = [
        f"{report.kind} {what}{' (replayed: this file was imported before)' * report.replayed}:"
        f" {report.rows_total:,} rows, {report.rows_bad:,} bad; {report.created:,} created,"
        f" {report.updated:,} updated, {report.unchanged:,} unchanged"
        + (f"; {report.conflicts_count:,} conflicts" if report.conflicts_count else ""),
        f"import id {report.import_id}",
    ]
    lines += [f"{name}:{e['line']}: {e['field']}: {e['message']}" for e in report.errors][
        :SHOW_ERRORS
    ]
    if report.errors_count > SHOW_ERRORS:
        lines.append(f"... and {report.errors_count - SHOW_ERRORS:,} more errors")
    lines += [f"{name}:{c['line']}: quantity: {c['message']}" for c in report.conflicts][
        :SHOW_ERRORS
    ]
    return "\n".join(lines)


HELP: dict[Kind, str] = {
    "catalogue": "SKUs: sku, gtin, name_de, name_en, price_cents or price, vat_class, flags.",
    "locations": "Warehouses, stores, vendors, returns centres: address, capacity, cut-offs.",
    "stock": "On-hand per location and SKU (after catalogue and locations), through the ledger.",
}


def _row_command(kind: Kind) -> None:
    """``import catalogue|locations|stock FILE``: one command per kind, the same options."""

    def command(
        file: FileArg,
        format: FormatOpt = None,  # noqa: A002  (the option's name)
        on_error: OnErrorOpt = "skip",
        dry_run: DryRunOpt = False,
        database_url: UrlOpt = None,
    ) -> None:
        _run(kind, file, format, on_error, dry_run, database_url)

    imports.command(name=kind, help=HELP[kind])(command)


for _kind in HELP:
    _row_command(_kind)


@imports.command()
def carriers(file: FileArg, database_url: UrlOpt = None) -> None:
    """Carriers and tariffs (TOML) as a new tariff version."""
    from activities.masterdata.tariffs import put_carriers
    from routing.tariff_file import TariffFileError, load_carriers

    try:
        loaded = load_carriers(file)
    except TariffFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    version, created = put_carriers(
        _settings(database_url).database_url, loaded, source=f"cli:{file.name}", actor="cli"
    )
    state = "new version" if created else "unchanged, same as version"
    typer.echo(f"carriers: {len(loaded)} loaded; {state} {version}")
