"""``python -m devstack up``: the whole OMS on one machine, on its embedded defaults.

Starts the Temporal dev server (UI on 8233, search attributes registered), migrates and seeds
the SQLite database, starts the mail catcher, the worker (``OMS_WORKERS`` of them, each with its
own metrics port) and the API, prints where to look, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import typer

from activities.masterdata.cli import summary
from activities.masterdata.folder import load_folder
from core import demo_network
from core.db.migrate import upgrade
from core.policy import load_policy
from core.settings import get_settings
from devstack.binaries import DEV_SERVER_SQLITE, temporal_cli
from devstack.client import OmsAuth
from devstack.demo_data import load_demo
from devstack.postgres import free_port
from devstack.processes import (
    ChildFailed,
    ProcessGroup,
    port_free,
    wait_for_http,
    wait_for_port,
    worker_name,
)
from workflows.connection import connect
from workflows.ops.setup import register_search_attributes
from workflows.search_attributes import cli_flags

ROOT = Path(__file__).resolve().parent.parent
DEMO_POLICY = ROOT / "demo" / "policy.toml"
WORKER_METRICS_PORT = 9464  # the worker's Prometheus endpoint unless OMS_WORKER_METRICS_PORT

cli = typer.Typer(add_completion=False, help=__doc__)


@cli.command()
def migrate() -> None:
    """Bring the OMS database to the newest schema."""
    upgrade(get_settings().database_url)


@cli.command()
def seed() -> None:
    """Load the demo network (warehouses, stores, catalogue, stock) into an empty database."""
    settings = get_settings()
    upgrade(settings.database_url)
    loaded = load_demo(settings.database_url)  # stock through the ledger: levels explained
    typer.echo("demo network loaded" if loaded else "database already has a network; kept it")


@cli.command()
def prepare() -> None:
    """Production start-up step: migrate the database, load the master-data folder
    (OMS_MASTERDATA_DIR, when set), register Temporal search attributes."""
    settings = get_settings()
    upgrade(settings.database_url)
    if settings.masterdata_dir is not None:
        loaded = load_folder(settings, settings.masterdata_dir, actor="prepare")
        for path, report in loaded.reports:
            typer.echo(summary(report, str(path)))
        if loaded.carriers_version is not None:
            state = "new version" if loaded.carriers_new else "unchanged, version"
            typer.echo(f"carriers: {state} {loaded.carriers_version}")

    async def _register() -> list[str]:
        return await register_search_attributes(
            await connect(settings), settings.temporal_namespace
        )

    added = asyncio.run(_register())
    typer.echo(f"database migrated; search attributes added: {', '.join(added) or 'none'}")


@cli.command()
def up() -> None:
    """Start everything and keep running until interrupted."""
    s = get_settings()
    temporal_host, temporal_port = s.temporal_address.rsplit(":", 1)
    for name, host, port in [
        ("Temporal", temporal_host, int(temporal_port)),
        ("Temporal UI", temporal_host, s.temporal_ui_port),
        ("API", s.api_host, s.api_port),
        ("SMTP", s.smtp_host, s.smtp_port),
        ("mail inbox", s.smtp_host, s.mail_ui_port),
    ]:
        if not port_free(host, port):
            typer.echo(
                f"port {port} ({name}) is taken: stop what uses it, or set OMS_* ports", err=True
            )
            raise typer.Exit(1)
    metrics_ports = _worker_metrics_ports(s.worker_metrics_port, s.workers)
    state = s.state_dir
    group = ProcessGroup(state / "logs", cwd=ROOT)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        Path(s.temporal_dev_db).parent.mkdir(parents=True, exist_ok=True)
        group.start(
            "temporal",
            [
                temporal_cli(),
                "server",
                "start-dev",
                "--ip",
                temporal_host,
                "--port",
                temporal_port,
                "--ui-port",
                str(s.temporal_ui_port),
                "--db-filename",
                s.temporal_dev_db,
                "--namespace",
                s.temporal_namespace,
                "--log-level",
                "warn",
                *DEV_SERVER_SQLITE,
                *cli_flags(),
            ],
        )
        group.start(
            "mail",
            [sys.executable, "-m", "devstack.mailcatcher"],
            {"OMS_MAIL_DIR": str(state.resolve() / "mail")},
        )
        policy = s.policy_file or str(DEMO_POLICY)  # the demo's release hold, unless yours
        os.environ["OMS_POLICY_FILE"] = policy  # the API and worker inherit it
        upgrade(s.database_url)
        loaded = load_demo(s.database_url)  # demo/*.csv through the master-data importer
        portal_keys = demo_network.seed_portal_keys(s.database_url)
        staff_keys = demo_network.seed_staff_keys(s.database_url)
        wait_for_port(temporal_host, int(temporal_port), timeout=60, alive=group.failed)
        for i, metrics_port in enumerate(metrics_ports, start=1):
            group.start(
                worker_name(i),
                [sys.executable, str(ROOT / "worker.py")],
                {"OMS_WORKER_METRICS_PORT": str(metrics_port)},
            )
        group.start(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "api.app:create_app",
                "--host",
                s.api_host,
                "--port",
                str(s.api_port),
                "--log-level",
                "warning",
            ],
        )
        wait_for_http(f"http://{s.api_host}:{s.api_port}/health", timeout=60, alive=group.failed)
        wait_for_port(s.smtp_host, s.mail_ui_port, timeout=30, alive=group.failed)
        typer.echo(
            f"""
OMS is running ({"demo network loaded" if loaded else "existing database"}: {s.database_url})
  API            http://{s.api_host}:{s.api_port}        (docs: /docs)
  Temporal UI    http://{temporal_host}:{s.temporal_ui_port}/namespaces/{s.temporal_namespace}/workflows
  Mail inbox     http://{s.smtp_host}:{s.mail_ui_port}
  Metrics        http://{s.api_host}:{s.api_port}/metrics   (API: requests, OMS state)
{_workers_banner(metrics_ports)}
  Logs           {state / "logs"}/
  Order policy   {policy}   (release hold: {_hold_text(policy)})
{_portal_banner(f"http://{s.api_host}:{s.api_port}/portal/login", portal_keys)}
{_console_banner(f"http://{s.api_host}:{s.api_port}", staff_keys)}
Place an order:  see README.md ("Try it"). Ctrl-C stops everything.
""",
            nl=False,
        )
        while (why := group.failed()) is None:
            time.sleep(1)
        typer.echo(f"stopping: {why}", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("stopping...")
    except (TimeoutError, ChildFailed) as exc:
        typer.echo(f"could not start: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        group.stop()


def _worker_metrics_ports(configured: int, workers: int) -> list[int]:
    """One metrics port per worker. The first: the configured port (it must be free), else
    9464, else any free one (a second stack, in tests, must not fail on the default); the
    next ones follow it where free, else any free port."""
    if configured:
        if not port_free("127.0.0.1", configured):
            typer.echo(
                f"port {configured} (worker metrics) is taken: stop what uses it, or "
                "set OMS_WORKER_METRICS_PORT",
                err=True,
            )
            raise typer.Exit(1)
        first = configured
    else:
        free = port_free("127.0.0.1", WORKER_METRICS_PORT)
        first = WORKER_METRICS_PORT if free else free_port()
    ports = [first]
    while len(ports) < workers:
        nxt = ports[-1] + 1
        ports.append(nxt if nxt not in ports and port_free("127.0.0.1", nxt) else free_port())
    return ports


def _workers_banner(metrics_ports: list[int]) -> str:
    """The metrics line of each worker, under the API's."""
    n = len(metrics_ports)
    return "\n".join(
        f"                 http://127.0.0.1:{port}/metrics   "
        + (f"(worker {i} of {n}: Temporal SDK, OMS)" if n > 1 else "(worker: Temporal SDK, OMS)")
        for i, port in enumerate(metrics_ports, start=1)
    )


def _hold_text(policy_file: str) -> str:
    release = load_policy(policy_file).release
    rules = ", ".join(
        f"{r.channel or 'any channel'}/{r.payment_method or 'any payment'} {r.hold}"
        for r in release.rules
    )
    return f"{release.hold}" + (f"; {rules}" if rules else "")


def _portal_banner(login_url: str, keys: list[demo_network.PortalKey]) -> str:
    """Where store and vendor staff log in, with a demo key of each kind."""
    lines = [f"  Portal         {login_url}   (every location: demo-<location id in lower case>)"]
    for kind in ("store", "vendor"):
        found = next((k for k in keys if k.kind == kind), None)
        if found is not None:
            lines.append(f"    {kind:<7}      {found.name:<24} key {found.key}")
    return "\n".join(lines)


def _console_banner(base: str, keys: list[tuple[str, str]]) -> str:
    """Where customer service and operations log in, with their demo keys."""
    lines = [f"  Console        {base}/console/login   dashboard {base}/dashboard"]
    lines += [f"    {role:<17}  key {key}" for key, role in keys if role != "agent"]
    lines += [  # AI agents (phone and chat bots): MCP over streamable HTTP, docs/agents.md
        f"  MCP (agents)   {base}/mcp   key {key}" for key, role in keys if role == "agent"
    ]
    return "\n".join(lines)


@cli.command()
def webhook(path: str, body: str) -> None:
    """POST a JSON body to a webhook of the running stack, signed like the real sender
    (``/webhooks/shipments``: carrier, ``/webhooks/payments``: payment provider, ...)."""
    s = get_settings()
    r = httpx.post(
        f"http://{s.api_host}:{s.api_port}{path}",
        content=body.encode(),
        headers={"content-type": "application/json"},
        auth=OmsAuth("", s),
    )
    typer.echo(f"{r.status_code} {r.text}")


if __name__ == "__main__":
    cli()
