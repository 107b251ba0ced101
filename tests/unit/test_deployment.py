"""The production-like deployment: docker-compose.yml, deploy/ and the Dockerfile agree with the
code (registering search attributes on a fresh namespace is tested against the real Temporal dev
server in tests/integration/test_search_attributes.py).

Docker cannot run here, so the files are read: the compose file is interpolated the way compose
does it (with stand-in secrets), the one-shot Temporal scripts run against stub CLIs.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
RAW = yaml.safe_load(COMPOSE_TEXT)
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()

OMS_SERVICES = ["prepare", "api", "worker"]
OWN_SETTINGS = {"OMS_WORKER_METRICS_PORT", "OMS_MASTERDATA_DIR"}
"""Settings only one service has: the worker's metrics port, prepare's master-data folder."""
SECRETS = [
    "OMS_SESSION_SECRET",
    "OMS_SELF_SERVICE_SECRET",
    "OMS_WEBHOOK_SECRET_PAYMENT",
    "OMS_WEBHOOK_SECRET_CARRIER",
    "OMS_WEBHOOK_SECRET_WAREHOUSE",
]
# What the OMS needs set in production (everything else has a sound default).
NEEDED = {
    "OMS_DATABASE_URL",
    "OMS_TEMPORAL_ADDRESS",
    "OMS_TEMPORAL_NAMESPACE",
    "OMS_TASK_QUEUE",
    "OMS_SMTP_HOST",
    "OMS_SMTP_PORT",
    "OMS_PUBLIC_BASE_URL",
    "OMS_ENVIRONMENT",
    "OMS_LOG_FORMAT",
    *SECRETS,
}
HEALTH_CHECKED = ["temporal-db", "temporal", "oms-db", "mailpit", "api", "worker"]
TEMPORAL_IMAGES = ("temporalio/server", "temporalio/admin-tools")

# ---- reading the compose file the way compose does ----------------------------------------

_VAR = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)")


def required_variables(text: str) -> set[str]:
    """``${NAME:?message}``: variables compose refuses to start without."""
    return {m["name"] for m in _VAR.finditer(text) if m["op"] in (":?", "?")}


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """Compose's ${...} substitution over the loaded YAML (values only, as compose does)."""
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env) for value in node]
    if not isinstance(node, str):
        return node

    def substitute(m: re.Match[str]) -> str:
        if m[0] == "$$":
            return "$"
        name, op, arg = m["name"] or m["bare"], m["op"], m["arg"]
        value = env.get(name)
        if op in (":?", "?"):
            if value is None or (op == ":?" and not value):
                raise KeyError(f"{name}: {arg}")
            return value
        if op == ":-":
            return value or arg
        if op == "-":
            return arg if value is None else value
        return value or ""

    return _VAR.sub(substitute, node)


STAND_INS = {
    name: f"{name.lower().replace('_', '')}0123456789abcdef"
    for name in required_variables(COMPOSE_TEXT)
}
COMPOSE = interpolate(RAW, STAND_INS)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def env(service: str, raw: bool = False) -> dict[str, str]:
    value = (RAW if raw else COMPOSE)["services"][service].get("environment") or {}
    if isinstance(value, list):
        value = dict(item.split("=", 1) for item in value)
    return {key: str(val) for key, val in value.items()}


def published(service: str) -> dict[int, int]:
    """Container port -> host port of the service's published ports."""
    ports = {}
    for entry in SERVICES[service].get("ports", []):
        if isinstance(entry, dict):
            ports[int(entry["target"])] = int(entry["published"])
        else:
            parts = str(entry).split(":")
            ports[int(parts[-1])] = int(parts[-2])
    return ports


def image_tag(service: str) -> tuple[str, str]:
    name, _, tag = SERVICES[service]["image"].rpartition(":")
    return name, tag


def healthcheck(service: str) -> str:
    check = SERVICES[service].get("healthcheck") or {}
    test = check.get("test")
    assert test and not check.get("disable") and test != ["NONE"], f"{service}: no health check"
    return " ".join(test) if isinstance(test, list) else str(test)


def seconds(duration: str) -> float:
    """A compose duration such as ``30s`` or ``1m30s``."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(duration))
    assert parts, duration
    return sum(float(n) * units[u] for n, u in parts)


def host_file(service: str, container_path: str) -> Path:
    """The repository file a bind mount puts at ``container_path`` inside ``service``."""
    for volume in SERVICES[service].get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith(".") and (
            container_path == target or container_path.startswith(target + "/")
        ):
            return ROOT / source / container_path[len(target) :].lstrip("/")
    raise AssertionError(f"{service}: nothing mounted at {container_path}")


def entrypoint_script(service: str) -> Path:
    command = SERVICES[service]["entrypoint"]
    assert command[0].endswith("sh") and command[1].endswith(".sh"), command
    return host_file(service, command[1])


# ---- the OMS's own settings -----------------------------------------------------------------


def test_oms_services_set_every_variable_the_code_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    known = {f"OMS_{name.upper()}" for name in Settings.model_fields}
    for name in OMS_SERVICES:
        variables = env(name)
        assert set(variables) >= NEEDED, f"{name} lacks {NEEDED - set(variables)}"
        assert set(variables) <= known, f"{name} sets unknown {set(variables) - known}"
        for key in [k for k in os.environ if k.startswith("OMS_")]:
            monkeypatch.delenv(key)
        for key, value in variables.items():
            monkeypatch.setenv(key, value)
        settings = Settings(_env_file=None)  # exactly what the container's process reads
        assert settings.environment == "production"
        assert settings.log_format == "json"
        assert settings.database_url.startswith("postgresql+psycopg://")
        assert settings.public_base_url
    assert int(env("worker")["OMS_WORKER_METRICS_PORT"]) > 0


def test_oms_services_share_one_image_and_one_configuration() -> None:
    shared = {k: v for k, v in env("api").items()}
    for name in OMS_SERVICES:
        own = {k: v for k, v in env(name).items() if k not in OWN_SETTINGS}
        assert own == shared, name
        assert SERVICES[name]["image"] == SERVICES["api"]["image"]
    assert "build" in SERVICES["prepare"]
    assert SERVICES["prepare"]["command"][-2:] == ["devstack", "prepare"]


def test_prepare_loads_the_retailers_master_data_folder_read_only() -> None:
    folder = env("prepare")["OMS_MASTERDATA_DIR"]
    mounts = [v.rsplit(":", 2) for v in SERVICES["prepare"]["volumes"]]
    assert [(target, mode) for _src, target, mode in mounts] == [(folder, "ro")]
    assert Settings(masterdata_dir=folder).masterdata_dir == Path(folder)


def test_secrets_have_no_defaults_in_the_compose_file() -> None:
    for name in OMS_SERVICES:
        for secret in SECRETS:
            value = env(name, raw=True)[secret]
            assert value.startswith("${" + secret + ":?") and value.endswith("}"), secret
    assert env("temporal-db", raw=True)["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_TEMPORAL_PASSWORD:?"
    )
    assert env("oms-db", raw=True)["POSTGRES_PASSWORD"].startswith("${POSTGRES_OMS_PASSWORD:?")
    assert "${POSTGRES_OMS_PASSWORD:?" in env("api", raw=True)["OMS_DATABASE_URL"]
    with pytest.raises(KeyError):
        interpolate(RAW, {})
    example = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy" / "env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    missing = required_variables(COMPOSE_TEXT) - set(example)
    assert not missing, f"deploy/env.example lacks {missing}"
    assert all(example[name] == "" for name in required_variables(COMPOSE_TEXT)), (
        "env.example must not carry usable secrets"
    )


# ---- hosts, ports and names agree ---------------------------------------------------------


def test_the_oms_database_url_matches_the_oms_database() -> None:
    url = make_url(env("api")["OMS_DATABASE_URL"])
    assert url.host in SERVICES and url.host == "oms-db"
    db = env(url.host)
    assert (url.port or 5432) == int(db.get("PGPORT", 5432))
    assert (url.username, url.password, url.database) == (
        db["POSTGRES_USER"],
        db["POSTGRES_PASSWORD"],
        db["POSTGRES_DB"],
    )
    assert url.password == STAND_INS["POSTGRES_OMS_PASSWORD"]


def test_temporal_address_namespace_and_database_agree() -> None:
    address = env("api")["OMS_TEMPORAL_ADDRESS"]
    host, port = address.rsplit(":", 1)
    assert host in SERVICES and image_tag(host)[0] == "temporalio/server"
    assert port == env(host).get("FRONTEND_GRPC_PORT", "7233")
    assert port in healthcheck(host)
    for other in ("temporal-ui", "temporal-create-namespace"):
        assert env(other)["TEMPORAL_ADDRESS"] == address, other
    namespace = env("api")["OMS_TEMPORAL_NAMESPACE"]
    assert env("temporal-create-namespace")["NAMESPACE"] == namespace
    assert env("temporal-ui")["TEMPORAL_DEFAULT_NAMESPACE"] == namespace

    server, tools, db = env("temporal"), env("temporal-admin-tools"), env("temporal-db")
    assert server["DB"] == tools["SQL_PLUGIN"] == "postgres12"
    assert server["POSTGRES_SEEDS"] == tools["SQL_HOST"] == "temporal-db"
    assert server["DB_PORT"] == tools["SQL_PORT"] == db.get("PGPORT", "5432")
    assert server["POSTGRES_USER"] == tools["SQL_USER"] == db["POSTGRES_USER"]
    assert server["POSTGRES_PWD"] == tools["SQL_PASSWORD"] == db["POSTGRES_PASSWORD"]
    assert (
        (server["DBNAME"], server["VISIBILITY_DBNAME"])
        == (tools["DBNAME"], tools["VISIBILITY_DBNAME"])
        == ("temporal", "temporal_visibility")
    )
    config = server["DYNAMIC_CONFIG_FILE_PATH"]
    assert yaml.safe_load(host_file("temporal", config).read_text())


def test_the_ui_points_at_temporal_and_its_published_port() -> None:
    ui = env("temporal-ui")
    host_port = published("temporal-ui")[int(ui.get("TEMPORAL_UI_PORT", "8080"))]
    assert f"http://localhost:{host_port}" in ui["TEMPORAL_CORS_ORIGINS"].split(",")
    assert host_port == 8233


def test_mail_goes_to_mailpit_on_its_smtp_port() -> None:
    oms = env("api")
    assert oms["OMS_SMTP_HOST"] == "mailpit" and image_tag("mailpit")[0] == "axllent/mailpit"
    smtp_port = env("mailpit").get("MP_SMTP_BIND_ADDR", "0.0.0.0:1025").rsplit(":", 1)[1]
    assert oms["OMS_SMTP_PORT"] == smtp_port
    ui_port = int(env("mailpit").get("MP_UI_BIND_ADDR", "0.0.0.0:8025").rsplit(":", 1)[1])
    assert published("mailpit") == {ui_port: 8025}, "SMTP stays inside the compose network"


def test_the_api_serves_where_everything_expects_it() -> None:
    port = env("api")["OMS_API_PORT"]
    command = SERVICES["api"]["command"]
    assert command[command.index("--port") + 1] == port
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert published("api") == {int(port): 8000}
    assert f"localhost:{port}/health" in healthcheck("api")
    assert port in _instruction_args("EXPOSE")[0].split()


def test_depends_on_names_services_and_the_start_order_holds() -> None:
    order = [  # (service, waits for, condition)
        ("temporal-admin-tools", "temporal-db", "service_healthy"),
        ("temporal", "temporal-admin-tools", "service_completed_successfully"),
        ("temporal-create-namespace", "temporal", "service_healthy"),
        ("temporal-ui", "temporal", "service_healthy"),
        ("prepare", "oms-db", "service_healthy"),
        ("prepare", "temporal-create-namespace", "service_completed_successfully"),
        ("api", "prepare", "service_completed_successfully"),
        ("worker", "prepare", "service_completed_successfully"),
        ("worker", "mailpit", "service_healthy"),
    ]
    for service, dependency, condition in order:
        assert SERVICES[service]["depends_on"][dependency]["condition"] == condition, service
    graph = {}
    for name, svc in SERVICES.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on needs conditions"
        for dep, spec in deps.items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            if spec["condition"] == "service_healthy":
                healthcheck(dep)
            if spec["condition"] == "service_completed_successfully":
                assert SERVICES[dep].get("restart", "no").startswith(("no", "on-failure")), dep
        graph[name] = set(deps)
    started: list[str] = []
    while graph:  # every service can start: no cycle
        ready = sorted(name for name, deps in graph.items() if deps <= set(started))
        assert ready, f"dependency cycle among {sorted(graph)}"
        started += ready
        for name in ready:
            del graph[name]
    assert started.index("prepare") > started.index("temporal-create-namespace")


# ---- images, health, volumes, scaling -----------------------------------------------------


def test_images_are_pinned_and_temporal_is_one_version() -> None:
    for name in SERVICES:
        if name in OMS_SERVICES:
            continue
        image, tag = image_tag(name)
        assert image and tag and tag != "latest" and re.search(r"\d+\.\d+", tag), (
            f"{name} image not pinned: {SERVICES[name]['image']}"
        )
        assert "$" not in SERVICES[name]["image"]
    versions = {image_tag(n)[1] for n in SERVICES if image_tag(n)[0] in TEMPORAL_IMAGES}
    assert len(versions) == 1, f"server and admin tools must be one Temporal version: {versions}"
    assert {image_tag(n)[0] for n in SERVICES} >= {*TEMPORAL_IMAGES, "temporalio/ui"}
    assert "auto-setup" not in COMPOSE_TEXT


def test_health_checks_restart_policies_and_no_fixed_container_names() -> None:
    for name in HEALTH_CHECKED:
        healthcheck(name)
    assert env("worker")["OMS_WORKER_METRICS_PORT"] in healthcheck("worker")
    for name, svc in SERVICES.items():
        assert "container_name" not in svc, f"{name}: a fixed name stops scaling and re-creation"
        assert svc.get("restart"), f"{name}: no restart policy"


def test_named_volumes_keep_the_databases_and_the_mail() -> None:
    declared = set(COMPOSE["volumes"])
    mounts = {}
    for name, svc in SERVICES.items():
        for volume in svc.get("volumes", []):
            source, target = str(volume).split(":")[:2]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
                mounts[(name, target)] = source
    for db in ("temporal-db", "oms-db"):
        assert (db, "/var/lib/postgresql/data") in mounts, db
    mail_dir = str(Path(env("mailpit")["MP_DATABASE"]).parent)
    assert ("mailpit", mail_dir) in mounts
    assert len(set(mounts.values())) == len(mounts), "two services share one volume"


def test_workers_scale_and_stop_gracefully() -> None:
    worker = SERVICES["worker"]
    assert worker["deploy"]["replicas"] >= 2
    assert "ports" not in worker, "workers must scale: no fixed host ports"
    assert env("worker")["OMS_WORKER_METRICS_PORT"] in [str(p) for p in worker.get("expose", [])]
    grace = re.search(
        r"graceful_shutdown_timeout=timedelta\(seconds=(\d+)\)", (ROOT / "worker.py").read_text()
    )
    assert grace, "worker.py's graceful shutdown timeout moved: update this test"
    assert seconds(worker["stop_grace_period"]) >= int(grace[1]) + 5
    assert seconds(SERVICES["api"].get("stop_grace_period", "10s")) >= 10


# ---- the one-shot Temporal steps, run against stub CLIs -----------------------------------


def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def _run(script: Path, variables: dict[str, str], bin_dir: Path) -> subprocess.CompletedProcess:
    shell = shutil.which("sh")
    assert shell, "no POSIX shell to run the deploy scripts with"
    return subprocess.run(
        [shell, str(script)],
        env={**variables, "PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_schema_setup_creates_and_upgrades_both_temporal_databases(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    _stub(tmp_path, "temporal-sql-tool", f'echo "$*" >> {log}\n')
    variables = env("temporal-admin-tools")
    done = _run(entrypoint_script("temporal-admin-tools"), variables, tmp_path)
    assert done.returncode == 0, done.stderr
    schema = "/etc/temporal/schema/postgresql/v12"  # the postgres12 plugin's schema in the image
    expected = []
    for db, kind in (
        (variables["DBNAME"], "temporal"),
        (variables["VISIBILITY_DBNAME"], "visibility"),
    ):
        expected += [
            f"--db {db} create",
            f"--db {db} setup-schema -v 0.0",
            f"--db {db} update-schema -d {schema}/{kind}/versioned",
        ]
    assert log.read_text().splitlines() == expected
    assert {"temporal", "temporal_visibility"} <= {
        variables["DBNAME"],
        variables["VISIBILITY_DBNAME"],
    }


def test_namespace_step_creates_the_oms_namespace_once(tmp_path: Path) -> None:
    log, made = tmp_path / "calls", tmp_path / "namespace-exists"
    _stub(
        tmp_path,
        "temporal",
        f"""echo "$*" >> {log}
case "$*" in
  *"namespace describe"*) test -e {made} ;;
  *"namespace create"*) touch {made} ;;
esac
""",
    )
    _stub(tmp_path, "getent", 'echo "172.18.0.5      STREAM temporal"\n')
    variables = env("temporal-create-namespace")
    namespace = env("api")["OMS_TEMPORAL_NAMESPACE"]
    script = entrypoint_script("temporal-create-namespace")

    done = _run(script, variables, tmp_path)
    assert done.returncode == 0, done.stderr
    creates = [c for c in log.read_text().splitlines() if "namespace create" in c]
    assert creates == [
        f"operator namespace create --namespace {namespace} --retention "
        f"{variables['NAMESPACE_RETENTION']} --address 172.18.0.5:7233"
    ]
    assert seconds(variables["NAMESPACE_RETENTION"]) >= timedelta(days=1).total_seconds()
    assert f"operator search-attribute list --namespace {namespace}" in log.read_text()

    log.unlink()
    assert _run(script, variables, tmp_path).returncode == 0
    assert "namespace create" not in log.read_text(), "a second start must not re-create"


# ---- the image ----------------------------------------------------------------------------


def _instruction_args(keyword: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [
        line.split(None, 1)[1]
        for line in joined.splitlines()
        if line.split(None, 1)[:1] == [keyword] and len(line.split(None, 1)) == 2
    ]


def _runtime_sources() -> list[Path]:
    setuptools = PYPROJECT["tool"]["setuptools"]
    packages = [p.rstrip("*") for p in setuptools["packages"]["find"]["include"]]
    files = [ROOT / f"{m}.py" for m in setuptools["py-modules"]]
    for package in dict.fromkeys(packages):
        files += sorted((ROOT / package).rglob("*.py"))
    return files


def test_the_image_holds_everything_the_code_reads() -> None:
    copied = {
        Path(src).as_posix().strip("/")
        for args in _instruction_args("COPY")
        for src in args.split()[:-1]
        if not src.startswith("--")
    }
    local_imports = set()
    for source in _runtime_sources():
        for node in ast.walk(ast.parse(source.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.module and not node.level
                else []
            )
            for name in names:
                top = name.split(".")[0]
                if (ROOT / top).is_dir() or (ROOT / f"{top}.py").is_file():
                    local_imports.add(top if (ROOT / top).is_dir() else f"{top}.py")
    assert local_imports, "found no local imports: the scan is broken"
    missing = local_imports - copied
    assert not missing, f"Dockerfile does not copy {missing}"
    packages = {
        p.rstrip("*").split(".")[0]
        for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages | {"worker.py", "alembic.ini"} <= copied
    # Files the code opens next to itself (templates, static files, migrations, data).
    for data in (
        "core/migrations",
        "core/data",
        "api/pages/templates",
        "api/pages/static",
        "activities/messaging/templates",
    ):
        assert (ROOT / data).is_dir(), data
        assert data.split("/")[0] in copied, data
    # Run from the source tree, or a wheel would have to carry those files as package data.
    workdir = _instruction_args("WORKDIR")[-1].strip()
    installs_project = re.search(r"pip install[^\n&]*\s\.(\[|\s|$)", DOCKERFILE)
    package_data = PYPROJECT["tool"]["setuptools"].get("package-data")
    assert package_data or (not installs_project and f"PYTHONPATH={workdir}" in DOCKERFILE)


def test_the_image_installs_runtime_dependencies_only_and_runs_unprivileged() -> None:
    base = _instruction_args("FROM")[-1].split()[0]
    assert re.search(r":\d+\.\d+\.\d+", base), f"base image not pinned: {base}"
    assert "[dev]" not in DOCKERFILE and "optional-dependencies" not in DOCKERFILE
    assert "['project']['dependencies']" in DOCKERFILE or "pip install ." in DOCKERFILE
    user = _instruction_args("USER")
    assert user and user[-1].split(":")[0] not in ("root", "0"), "the image must not run as root"
    uses_zoneinfo = any("zoneinfo" in f.read_text() for f in _runtime_sources())
    if uses_zoneinfo:
        installs = " ".join(_instruction_args("RUN"))
        assert re.search(r"(pip|apt-get) install[^&;]*\btzdata\b", installs), (
            "zoneinfo needs tzdata: slim images may not ship /usr/share/zoneinfo"
        )
    exposed = _instruction_args("EXPOSE")[0].split()
    assert env("worker")["OMS_WORKER_METRICS_PORT"] in exposed


# ---- settings behaviour ------------------------------------------------------------------------


def test_production_refuses_the_public_development_secrets() -> None:
    with pytest.raises(ValueError, match="OMS_WEBHOOK_SECRET_PAYMENT"):
        Settings(environment="production")
    own = {
        name: f"{name}-0123456789abcdef"
        for name in (
            "session_secret",
            "self_service_secret",
            "webhook_secret_payment",
            "webhook_secret_carrier",
            "webhook_secret_warehouse",
        )
    }
    assert Settings(environment="production", **own).environment == "production"
