"""Calendars and tariffs on real PostgreSQL: the demo's rows give each location its state's
holidays; writers racing to store the same tariff store it once (the row lock), and a changed
tariff is in force for the next read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session, select

from activities.masterdata import audit, tariffs
from activities.masterdata.calendar import closed_days, shipping_calendar
from core.db.engine import get_engine
from core.db.migrate import upgrade
from core.db.schema import Location
from devstack.postgres import PostgresCluster
from routing import Carrier, WeightBand
from routing.carriers import default_carriers

EPIPHANY = date(2027, 1, 6)  # a holiday in Bavaria, not in Berlin


@pytest.fixture
def own_url(postgres: PostgresCluster) -> Iterator[str]:
    """A fresh database of its own: tariffs stored here never reach the other tests' orders."""
    name = f"tariffs_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = postgres.url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url


def regional(cost: int) -> list[Carrier]:
    return [
        Carrier(
            name="rhoenpaket",
            weight_bands=[WeightBand(max_kg=5, cost_cents=cost), WeightBand(cost_cents=2500)],
        )
    ]


def test_the_demo_tariff_is_a_version_in_force(database_url: str) -> None:
    with Session(get_engine(database_url)) as s:
        version, carriers = tariffs.current_carriers(s)
        assert version is not None
        assert carriers == default_carriers()
        assert tariffs.versions(s)[0].version == version


def test_demo_locations_close_on_their_states_holidays(database_url: str) -> None:
    with Session(get_engine(database_url)) as s:
        munich = s.exec(select(Location).where(Location.id == "WH-MUENCHEN")).one()
        berlin = s.exec(select(Location).where(Location.id == "WH-BERLIN")).one()
    start = date(2027, 1, 1)
    assert (munich.state, berlin.state) == ("BY", "BE")
    assert EPIPHANY in shipping_calendar(munich, start).closed
    assert EPIPHANY not in shipping_calendar(berlin, start).closed
    assert closed_days(munich, start, 7)[EPIPHANY] == "Epiphany"
    assert closed_days(berlin, start, 7)[date(2027, 1, 3)] == "not open on sun"


def test_writers_racing_with_the_same_tariff_store_it_once(own_url: str) -> None:
    first, _ = tariffs.put_carriers(own_url, regional(611), source="a", actor="a")

    def put(i: int) -> tuple[int, bool]:
        return tariffs.put_carriers(own_url, regional(733), source=f"w{i}", actor=f"w{i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(put, range(16)))
    assert sum(created for _, created in results) == 1
    assert len({version for version, _ in results}) == 1
    with Session(get_engine(own_url)) as s:
        version, carriers = tariffs.current_carriers(s)
        assert version == results[0][0] and version > first
        assert carriers == regional(733)
        assert len(tariffs.versions(s)) == 2
        assert len(audit.entries(s, entity="carriers")) == 2
