"""Carrier tariff versions on SQLite (no server): the demo set until one is loaded, a new
version per changed content, the same content stored once, each change audited.
(On PostgreSQL, with writers racing: tests/integration/masterdata/test_calendar_and_tariffs.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from activities.masterdata import audit, tariffs
from core.db.engine import get_engine
from core.db.migrate import upgrade
from routing import Carrier, WeightBand
from routing.carriers import default_carriers


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/oms.db"
    upgrade(url)
    return url


def session(url: str) -> Session:
    return Session(get_engine(url))


def regional(cost: int = 611) -> list[Carrier]:
    return [
        Carrier(
            name="rhoenpaket",
            weight_bands=[WeightBand(max_kg=5, cost_cents=cost), WeightBand(cost_cents=2500)],
            bulky_allowed=False,
        )
    ]


def test_the_demo_set_until_a_tariff_is_loaded(url: str) -> None:
    with session(url) as s:
        assert tariffs.current_carriers(s) == (None, default_carriers())
        assert tariffs.versions(s) == []


def test_a_new_version_per_change_and_the_same_content_once(url: str) -> None:
    first = tariffs.put_carriers(url, default_carriers(), source="demo", actor="demo")
    again = tariffs.put_carriers(url, default_carriers(), source="again", actor="someone")
    assert first == (first[0], True) and again == (first[0], False)
    second, created = tariffs.put_carriers(url, regional(), source="PUT /carriers", actor="key 1")
    assert created and second > first[0]
    with session(url) as s:
        assert tariffs.current_carriers(s) == (second, regional())
        rows = tariffs.versions(s)
        assert [r.version for r in rows] == [second, first[0]]
        assert (rows[0].source, rows[0].actor) == ("PUT /carriers", "key 1")
        assert rows[0].content_sha256 == tariffs.content_sha256(regional())
    # back to an earlier content is a change too: a new version equal to the old one
    third, created = tariffs.put_carriers(url, default_carriers(), source="x", actor="y")
    assert created and third > second
    with session(url) as s:
        assert tariffs.current_carriers(s) == (third, default_carriers())


def test_each_version_is_audited_with_before_and_after(url: str) -> None:
    v1, _ = tariffs.put_carriers(url, regional(611), source="cli:a.toml", actor="cli")
    v2, _ = tariffs.put_carriers(url, regional(733), source="PUT /carriers", actor="key 7: ops")
    tariffs.put_carriers(url, regional(733), source="PUT /carriers", actor="key 7: ops")
    with session(url) as s:
        entries = audit.entries(s, entity="carriers")
    assert [(e.entity_id, e.action, e.actor) for e in entries] == [
        (str(v2), "update", "key 7: ops"),
        (str(v1), "create", "cli"),
    ]
    newest = entries[0]
    assert newest.before is not None and newest.after is not None
    assert newest.before["version"] == v1
    assert newest.before["carriers"][0]["weight_bands"][0]["cost_cents"] == 611
    assert newest.after == {
        "version": v2,
        "carriers": [c.model_dump(mode="json") for c in regional(733)],
    }
    assert newest.source == "PUT /carriers"


def test_the_hash_ignores_how_the_carriers_were_written() -> None:
    spelled_out = Carrier.model_validate(regional()[0].model_dump())
    assert tariffs.content_sha256([spelled_out]) == tariffs.content_sha256(regional())
    assert tariffs.content_sha256(regional(612)) != tariffs.content_sha256(regional())
