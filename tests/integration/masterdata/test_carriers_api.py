"""The carriers API on a database of its own: put a tariff file (TOML or JSON), read it back
with its version, put it again (unchanged), a bad file answers 422 naming carrier and field
and changes nothing; every new version is in the audit log with the calling key."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, text
from sqlmodel import Session, select

from activities.masterdata import audit
from api.app import create_app
from core.db.engine import get_engine
from core.db.migrate import upgrade
from core.db.schema import AuditEntry, CarrierTariff
from core.settings import Settings
from devstack.postgres import PostgresCluster
from routing.carriers import DEMO_CARRIERS, default_carriers
from tests.support.auth import client_for

OWN_WORLD = Path(__file__).resolve().parent / "own_world" / "carriers.toml"
TOML = {"Content-Type": "application/toml"}


@pytest.fixture
def own_url(postgres: PostgresCluster) -> Iterator[str]:
    """A fresh database: the tariffs put here never reach the other tests' orders."""
    name = f"carriers_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = postgres.url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url


@pytest.fixture
async def api(own_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=own_url)
    async with client_for(create_app(settings), settings) as client:  # no Temporal needed
        yield client


def counts(url: str) -> tuple[int, int]:
    with Session(get_engine(url)) as s:
        return (
            s.exec(select(func.count()).select_from(CarrierTariff)).one(),
            s.exec(select(func.count()).select_from(AuditEntry)).one(),
        )


def detail(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 422, r.text
    return r.json()["detail"]


async def test_put_get_and_put_again(api: httpx.AsyncClient, own_url: str) -> None:
    r = await api.get("/carriers")
    assert r.status_code == 200, r.text
    demo = r.json()
    assert demo["version"] is None  # nothing loaded: the demo's set applies
    assert [c["name"] for c in demo["carriers"]] == [c.name for c in default_carriers()]

    r = await api.put("/carriers", content=OWN_WORLD.read_bytes(), headers=TOML)
    assert r.status_code == 200, r.text
    stored = r.json()
    assert stored["created"] is True and stored["names"] == ["rhoenpaket"]
    version = stored["version"]

    in_force = (await api.get("/carriers")).json()
    assert in_force["version"] == version
    (carrier,) = in_force["carriers"]
    assert carrier["weight_bands"][0] == {"max_kg": 5.0, "cost_cents": 611}
    assert carrier["bulky_allowed"] is False

    again = await api.put("/carriers", content=OWN_WORLD.read_bytes(), headers=TOML)
    assert again.json() == {"version": version, "created": False, "names": ["rhoenpaket"]}
    as_json = await api.put("/carriers", json={"carriers": in_force["carriers"]})
    assert as_json.json()["created"] is False  # the same content, however it is written
    assert counts(own_url) == (1, 1)

    carrier["weight_bands"][0]["cost_cents"] = 733
    changed = await api.put("/carriers", json={"carriers": [carrier]}, params={"source": "erp"})
    assert changed.status_code == 200 and changed.json()["created"] is True, changed.text
    assert changed.json()["version"] > version
    history = (await api.get("/carriers/versions")).json()
    assert [(v["version"], v["source"]) for v in history] == [
        (changed.json()["version"], "erp"),
        (version, "PUT /carriers"),
    ]
    assert all(v["actor"].endswith(": tests") for v in history)  # the tests' key label


async def test_every_new_version_is_audited(api: httpx.AsyncClient, own_url: str) -> None:
    r = await api.put("/carriers", content=DEMO_CARRIERS.read_bytes(), headers=TOML)
    first = r.json()["version"]
    r = await api.put("/carriers", content=OWN_WORLD.read_bytes(), headers=TOML)
    second = r.json()["version"]
    with Session(get_engine(own_url)) as s:
        entries = audit.entries(s, entity="carriers")
    assert [(e.entity_id, e.action, e.source) for e in entries] == [
        (str(second), "update", "PUT /carriers"),
        (str(first), "create", "PUT /carriers"),
    ]
    newest = entries[0]
    assert newest.actor.startswith("key ") and newest.actor.endswith(": tests")
    assert newest.before is not None and newest.after is not None
    assert [c["name"] for c in newest.before["carriers"]] == [c.name for c in default_carriers()]
    assert [c["name"] for c in newest.after["carriers"]] == ["rhoenpaket"]


async def test_a_bad_file_names_carrier_and_field_and_changes_nothing(
    api: httpx.AsyncClient, own_url: str
) -> None:
    await api.put("/carriers", content=OWN_WORLD.read_bytes(), headers=TOML)
    before = counts(own_url)
    in_force = (await api.get("/carriers")).json()

    bad = OWN_WORLD.read_text().replace("cost_cents = 899", "cost_cents = -1")
    errors = detail(await api.put("/carriers", content=bad.encode(), headers=TOML))
    assert errors == [
        {
            "loc": ["body", "carriers", 0, "weight_bands", 1, "cost_cents"],
            "msg": "carrier 'rhoenpaket': Input should be greater than or equal to 0",
            "type": "greater_than_equal",
        }
    ]
    twice = {"carriers": [in_force["carriers"][0], in_force["carriers"][0]]}
    errors = detail(await api.put("/carriers", json=twice))
    assert [e["loc"] for e in errors] == [["body", "carriers", 0, "name"]] + [
        ["body", "carriers", 1, "name"]
    ]
    nameless = {"carriers": [{"weight_bands": [{"cost_cents": 1}]}]}
    (error,) = detail(await api.put("/carriers", json=nameless))
    assert (error["loc"], error["msg"]) == (
        ["body", "carriers", 0, "name"],
        "carrier 1: Field required",
    )
    infinite = OWN_WORLD.read_text() + "same_day_max_km = inf\n"
    (error,) = detail(await api.put("/carriers", content=infinite.encode(), headers=TOML))
    assert error["loc"] == ["body", "carriers", 0, "same_day_max_km"]
    (error,) = detail(await api.put("/carriers", content=b"[[carrier]\n", headers=TOML))
    assert error["loc"] == ["body"] and error["msg"].startswith("not valid TOML")
    detail(await api.put("/carriers", json={"carriers": []}))
    detail(await api.put("/carriers", content=b"\xff", headers=TOML))
    r = await api.put("/carriers", content=b"x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415, r.text

    assert counts(own_url) == before
    assert (await api.get("/carriers")).json() == in_force
