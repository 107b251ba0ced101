"""The production-like deployment: docker-compose.yml agrees with the code, search attributes
can be registered on a fresh namespace. (Docker cannot run here, so the file is read.)"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client

from core.settings import Settings
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES
from workflows.setup import register_search_attributes

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
OMS_SERVICES = ["prepare", "api", "worker"]


def test_oms_services_set_every_variable_the_code_needs() -> None:
    needed = {"OMS_DATABASE_URL", "OMS_TEMPORAL_ADDRESS", "OMS_SMTP_HOST", "OMS_SMTP_PORT"}
    known = {f"OMS_{name.upper()}" for name in Settings.model_fields}
    for name in OMS_SERVICES:
        env = SERVICES[name]["environment"]
        assert needed <= set(env), name
        assert set(env) <= known, f"{name} sets unknown variables {set(env) - known}"
        Settings(**{k.removeprefix("OMS_").lower(): v for k, v in env.items()})


def test_secrets_have_no_defaults_in_the_compose_file() -> None:
    env = SERVICES["api"]["environment"]
    assert env["OMS_ENVIRONMENT"] == "production"
    for name in ("OMS_SESSION_SECRET", "OMS_SELF_SERVICE_SECRET", "OMS_WEBHOOK_SECRET_PAYMENT",
                 "OMS_WEBHOOK_SECRET_CARRIER", "OMS_WEBHOOK_SECRET_WAREHOUSE"):
        assert env[name].startswith("${" + name + ":?") and env[name].endswith("}"), name
        assert env[name] == SERVICES["worker"]["environment"][name]


def test_hosts_and_ports_agree_between_services() -> None:
    env = SERVICES["api"]["environment"]
    db_host = re.search(r"@([\w-]+):(\d+)/", env["OMS_DATABASE_URL"])
    assert db_host and db_host.group(1) in SERVICES
    oms_db = SERVICES[db_host.group(1)]["environment"]
    assert f"{oms_db['POSTGRES_USER']}:{oms_db['POSTGRES_PASSWORD']}@" in env["OMS_DATABASE_URL"]
    assert env["OMS_DATABASE_URL"].endswith(f"/{oms_db['POSTGRES_DB']}")
    temporal_host, temporal_port = env["OMS_TEMPORAL_ADDRESS"].split(":")
    assert temporal_host in SERVICES and temporal_port == "7233"
    assert env["OMS_SMTP_HOST"] in SERVICES
    assert "8000:8000" in SERVICES["api"]["ports"]
    assert "--port" in SERVICES["api"]["command"]
    assert SERVICES["api"]["command"][SERVICES["api"]["command"].index("--port") + 1] == "8000"


def test_images_are_pinned_volumes_named_and_workers_scale() -> None:
    for name, svc in SERVICES.items():
        image = svc.get("image", "")
        if name in OMS_SERVICES:
            continue
        assert re.search(r":\d[\w.-]*$|:v\d", image), f"{name} image not pinned: {image}"
    for svc in SERVICES.values():
        for vol in svc.get("volumes", []):
            assert vol.split(":")[0] in COMPOSE["volumes"]
    assert SERVICES["worker"]["deploy"]["replicas"] >= 2
    assert "ports" not in SERVICES["worker"], "workers must scale: no fixed host ports"
    for db in ("temporal-db", "oms-db"):
        assert "healthcheck" in SERVICES[db]
    assert (SERVICES["api"]["depends_on"]["prepare"]["condition"]
            == "service_completed_successfully")
    assert SERVICES["prepare"]["command"][-1] == "prepare"


async def test_search_attributes_register_once_on_a_fresh_namespace(
        temporal_client: Client) -> None:
    namespace = f"oms-{uuid.uuid4().hex[:8]}"
    await temporal_client.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=namespace, workflow_execution_retention_period=timedelta(days=1)))
    assert await register_search_attributes(temporal_client, namespace) == sorted(
        key.name for key in SEARCH_ATTRIBUTES)
    assert await register_search_attributes(temporal_client, namespace) == []


def test_production_refuses_the_public_development_secrets() -> None:
    with pytest.raises(ValueError, match="OMS_WEBHOOK_SECRET_PAYMENT"):
        Settings(environment="production")
    own = {name: f"{name}-0123456789abcdef" for name in (
        "session_secret", "self_service_secret", "webhook_secret_payment",
        "webhook_secret_carrier", "webhook_secret_warehouse")}
    assert Settings(environment="production", **own).environment == "production"
