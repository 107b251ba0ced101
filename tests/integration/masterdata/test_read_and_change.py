"""Reading and changing the retailer's master data over HTTP (the real app, PostgreSQL and
Temporal): SKUs and locations listed, filtered and paged; a location's cut-offs and closing days
changed and read back; bad changes refused naming the field with nothing changed; a location
still in use refused deletion naming a real order's reservation and shipment; an unused one
removed; every change in the audit log with who, when, before and after.

Everything created here carries a fresh id (``XMD-<hex>``, sorting after the demo's ``WH-`` and
``ST-``), so the shared session database and other tests are undisturbed."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import select

from activities.masterdata.calendar import public_holidays
from core.db.engine import session_scope
from core.db.schema import Location, Sku, Stock
from core.settings import Settings
from tests.support.orders import order_request, wait_for_status

BERLIN = ZoneInfo("Europe/Berlin")


def tag() -> str:
    return uuid.uuid4().hex[:8].upper()


def add_location(url: str, **fields: Any) -> str:
    """A location row as an import would leave it (Frankfurt, HE, unless told otherwise)."""
    row = {
        "id": f"XMD-{tag()}",
        "name": "Testlager",
        "kind": "warehouse",
        "street": "Hanauer Landstraße 1",
        "postcode": "60311",
        "city": "Frankfurt am Main",
        "state": "HE",
        "latitude": 50.11,
        "longitude": 8.68,
        **fields,
    }
    with session_scope(url) as s:
        s.add(Location(**row))
    return str(row["id"])


def add_skus(url: str, *rows: dict[str, Any]) -> list[str]:
    with session_scope(url) as s:
        for row in rows:
            s.add(Sku(**{"price_cents": 1999, "weight_kg": 0.5, **row}))
    return [r["sku"] for r in rows]


async def audit_of(api: httpx.AsyncClient, entity: str, entity_id: str) -> list[dict[str, Any]]:
    r = await api.get("/ops/audit", params={"entity": entity, "entity_id": entity_id})
    assert r.status_code == 200, r.text
    return list(r.json()["entries"])


def loc_of(r: httpx.Response) -> list[list[str | int]]:
    return [e["loc"] for e in r.json()["detail"]]


# ---- catalogue ------------------------------------------------------------------------------


async def test_skus_are_listed_filtered_and_paged(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    t, gtin = tag(), f"{uuid.uuid4().int % 10**13:013d}"
    a, b, c = add_skus(
        settings.database_url,
        {"sku": f"XMD-{t}-1", "name": f"Wanderrucksack {t}", "name_en": "Hiking backpack"},
        {"sku": f"XMD-{t}-2", "name": f"Zelt {t}", "bulky": True, "gtin": gtin},
        {"sku": f"XMD-{t}-3", "name": f"Gaskartusche {t}", "hazardous": True, "active": False},
    )
    r = await api.get("/catalogue/skus", params={"q": t.lower()})
    assert r.status_code == 200, r.text
    assert [x["sku"] for x in r.json()["skus"]] == [a, b, c] and r.json()["next_after"] is None
    by_name = (await api.get("/catalogue/skus", params={"q": f"WANDERRUCKSACK {t}"})).json()
    assert [x["sku"] for x in by_name["skus"]] == [a]  # any case
    by_gtin = (await api.get("/catalogue/skus", params={"q": gtin})).json()
    assert [x["sku"] for x in by_gtin["skus"]] == [b]
    for params, want in (
        ({"bulky": "true"}, [b]),
        ({"hazardous": "true"}, [c]),
        ({"active": "false"}, [c]),
        ({"active": "true", "vat_class": "standard"}, [a, b]),
        ({"vat_class": "reduced"}, []),
    ):
        got = (await api.get("/catalogue/skus", params={"q": t, **params})).json()
        assert [x["sku"] for x in got["skus"]] == want, params
    first = (await api.get("/catalogue/skus", params={"q": t, "limit": 2})).json()
    assert [x["sku"] for x in first["skus"]] == [a, b] and first["next_after"] == b
    rest = (await api.get("/catalogue/skus", params={"q": t, "after": b})).json()
    assert [x["sku"] for x in rest["skus"]] == [c] and rest["next_after"] is None
    percent = (await api.get("/catalogue/skus", params={"q": f"{t}%"})).json()
    assert percent["skus"] == []  # a LIKE wildcard is a literal character
    r = await api.get("/catalogue/skus", params={"limit": 501})
    assert r.status_code == 422 and loc_of(r) == [["query", "limit"]]

    one = (await api.get(f"/catalogue/skus/{b}")).json()
    assert one["name"] == f"Zelt {t}" and one["bulky"] is True and one["active"] is True
    r = await api.get(f"/catalogue/skus/XMD-{t}-none")
    assert r.status_code == 404 and f"XMD-{t}-none" in r.json()["detail"]


async def test_sku_deactivation_is_recorded(api: httpx.AsyncClient, settings: Settings) -> None:
    (sku,) = add_skus(settings.database_url, {"sku": f"XMD-{tag()}", "name": "Laterne"})
    before = datetime.now(UTC)
    r = await api.patch(f"/catalogue/skus/{sku}", json={"active": False})
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    assert (await api.get(f"/catalogue/skus/{sku}")).json()["active"] is False
    again = await api.patch(f"/catalogue/skus/{sku}", json={"active": False})
    assert again.status_code == 200  # no change: no second entry
    (entry,) = await audit_of(api, "sku", sku)
    assert entry["action"] == "update" and "tests" in entry["actor"]
    assert entry["before"]["active"] is True and entry["after"]["active"] is False
    assert entry["before"]["name"] == "Laterne" and entry["source"].startswith("api: PATCH")
    assert datetime.fromisoformat(entry["at"]) >= before - timedelta(seconds=5)

    r = await api.patch(f"/catalogue/skus/{sku}", json={"active": "no"})
    assert r.status_code == 422 and loc_of(r) == [["body", "active"]]
    r = await api.patch(f"/catalogue/skus/{sku}-none", json={"active": True})
    assert r.status_code == 404
    assert len(await audit_of(api, "sku", sku)) == 1


def _open_day_soon() -> str:
    """A Monday, Tuesday, Thursday or Saturday in the next days that is no public holiday in
    Hesse: its closing reason can only be the location's own calendar."""
    today = datetime.now(BERLIN).date()
    holidays = public_holidays("HE", today, 14)
    day = next(
        today + timedelta(days=i)
        for i in range(1, 14)
        if (today + timedelta(days=i)).weekday() in (0, 1, 3, 5)
        and today + timedelta(days=i) not in holidays
    )
    return day.isoformat()


# ---- locations ------------------------------------------------------------------------------


async def test_locations_are_listed_filtered_and_paged(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    url, zone = settings.database_url, f"z-{tag()}"
    wh = add_location(url, zone=zone, city="Offenbach am Main", postcode="63065")
    store = add_location(
        url, zone=zone, kind="store", name="Filiale", pickup_point=True, ships_to_customers=False,
        city="Kassel", postcode="34117", state="HE",
    )  # fmt: skip
    ids = sorted([wh, store])
    try:
        page = (await api.get("/locations", params={"zone": zone})).json()
        assert [x["id"] for x in page["locations"]] == ids and page["next_after"] is None
        for params, want in (
            ({"kind": "store"}, [store]),
            ({"pickup_point": "true"}, [store]),
            ({"ships_to_customers": "true"}, [wh]),
            ({"city": "OFFENBACH"}, [wh]),
            ({"state": "he"}, ids),
            ({"state": "BY"}, []),
            ({"online": "false"}, []),
        ):
            got = (await api.get("/locations", params={"zone": zone, **params})).json()
            assert [x["id"] for x in got["locations"]] == want, params
        first = (await api.get("/locations", params={"zone": zone, "limit": 1})).json()
        assert [x["id"] for x in first["locations"]] == ids[:1]
        assert first["next_after"] == ids[0]
        rest = (await api.get("/locations", params={"zone": zone, "after": ids[0]})).json()
        assert [x["id"] for x in rest["locations"]] == ids[1:]
        r = await api.get("/locations", params={"kind": "castle"})
        assert r.status_code == 422 and loc_of(r) == [["query", "kind"]]

        one = (await api.get(f"/locations/{wh}")).json()
        assert one["cutoffs"] == {} and one["cutoff_by_weekday"]["mon"] == "16:00"
        assert one["cutoff_by_weekday"]["sun"] is None
        assert len(one["calendar"]) == 14
        for day in one["calendar"]:
            assert day["ships"] == (day["reason"] is None)
            if date.fromisoformat(day["date"]).weekday() == 6:
                assert not day["ships"] and "sun" in day["reason"]
        assert (await api.get(f"/locations/{wh}-none")).status_code == 404
    finally:
        for loc in ids:  # unused: they go (a pickup store left behind would be picked by others)
            assert (await api.delete(f"/locations/{loc}")).status_code == 204


async def test_cutoffs_and_closing_days_changed_then_read_back(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    loc = add_location(settings.database_url, kind="vendor", ships_to_customers=False)
    soon = _open_day_soon()
    try:
        cutoffs = {"mon": "17:30", "tue": "17:30", "thu": "15:00", "sat": "12:00"}
        body: dict[str, Any] = {
            "cutoffs": cutoffs,
            "closed_dates": [soon],
            "daily_capacity": 250,
            "name": "Lieferant Fulda",
        }
        r = await api.patch(f"/locations/{loc}", json=body)
        assert r.status_code == 200, r.text
        got = (await api.get(f"/locations/{loc}")).json()
        assert got["cutoffs"] == body["cutoffs"] and got["closed_dates"] == [soon]
        assert got["daily_capacity"] == 250 and got["name"] == "Lieferant Fulda"
        assert got["cutoff_by_weekday"] == {
            "mon": "17:30", "tue": "17:30", "wed": None, "thu": "15:00", "fri": None,
            "sat": "12:00", "sun": None,
        }  # fmt: skip
        days = {d["date"]: d for d in got["calendar"]}
        assert not days[soon]["ships"] and "own" in days[soon]["reason"]
        for d in got["calendar"]:
            if d["weekday"] == "wed":
                assert not d["ships"] and "wed" in d["reason"]
            if d["ships"]:
                assert d["cutoff"] == cutoffs[d["weekday"]]

        (entry,) = await audit_of(api, "location", loc)
        assert entry["action"] == "update" and "tests" in entry["actor"]
        assert entry["before"]["cutoffs"] == {} and entry["after"]["cutoffs"] == body["cutoffs"]
        assert entry["before"]["daily_capacity"] == 1000 and entry["after"]["daily_capacity"] == 250
        assert entry["before"]["closed_dates"] == [] and entry["after"]["closed_dates"] == [soon]
        assert entry["before"]["online"] is True and entry["after"]["online"] is True
    finally:
        assert (await api.delete(f"/locations/{loc}")).status_code == 204


async def test_a_bad_change_names_the_field_and_changes_nothing(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    loc = add_location(settings.database_url, cutoffs={"mon": "16:00"})
    before = (await api.get(f"/locations/{loc}")).json()
    try:
        for body, field in (
            ({"cutoffs": {"mon": "25:00"}}, "cutoffs"),
            ({"cutoffs": {"funday": "10:00"}}, "cutoffs"),
            ({"cutoffs": {"mon": "5 pm"}}, "cutoffs"),
            ({"closed_dates": ["2026-13-01"]}, "closed_dates"),
            ({"daily_capacity": -1}, "daily_capacity"),
            ({"daily_capacity": "lots"}, "daily_capacity"),
            ({"cutoff_hour": 25}, "cutoff_hour"),
            ({"name": None}, "name"),
            ({"name": ""}, "name"),
            ({"online": False}, "online"),
            ({"kind": "store"}, "kind"),
            ({"name": "Neu", "pickup_point": "yes"}, "pickup_point"),
        ):
            r = await api.patch(f"/locations/{loc}", json=body)
            assert r.status_code == 422, (body, r.text)
            assert ["body", field] in loc_of(r), (body, r.json())
        r = await api.patch(f"/locations/{loc}", json={"online": False})
        assert "/ops/locations/{id}/offline" in r.json()["detail"][0]["msg"]
        assert (await api.get(f"/locations/{loc}")).json() == before
        assert await audit_of(api, "location", loc) == []
        assert (await api.patch(f"/locations/{loc}-none", json={"zone": "x"})).status_code == 404
    finally:
        assert (await api.delete(f"/locations/{loc}")).status_code == 204


async def test_deleting_a_location_in_use_is_refused_naming_the_order(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    """A real order reserves at the location: the refusal names its order and shipment."""
    url = settings.database_url
    loc = add_location(url)
    (sku,) = add_skus(url, {"sku": f"XMD-{tag()}", "name": "Nur hier"})
    with session_scope(url) as s:
        s.add(Stock(location_id=loc, sku=sku, on_hand=5))
    body = order_request(lines=[(sku, 2)])
    r = await api.post("/orders", json=body)
    assert r.status_code == 202, r.text
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment", "failed"})
    assert order["status"] == "in_fulfilment", order
    (shipment,) = [x for x in order["shipments"] if x["location_id"] == loc]

    r = await api.delete(f"/locations/{loc}")
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert body["order_id"] in detail["message"] and shipment["shipment_id"] in detail["message"]
    assert "set it to zero" in detail["message"]
    assert [x["order_id"] for x in detail["reservations"]] == [body["order_id"]]
    assert [x["shipment_id"] for x in detail["shipments"]] == [shipment["shipment_id"]]
    assert detail["stock"] == [{"sku": sku, "on_hand": 5, "reserved": 2, "held": 0}]
    assert (await api.get(f"/locations/{loc}")).status_code == 200  # still there
    assert await audit_of(api, "location", loc) == []


async def test_stock_on_hand_alone_refuses_deletion(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    loc = add_location(url)
    (sku,) = add_skus(url, {"sku": f"XMD-{tag()}", "name": "Regal"})
    with session_scope(url) as s:
        s.add(Stock(location_id=loc, sku=sku, on_hand=3))
    r = await api.delete(f"/locations/{loc}")
    assert r.status_code == 409
    msg = r.json()["detail"]["message"]
    assert sku in msg and "set it to zero, or take the location offline" in msg
    with session_scope(url) as s:
        row = s.get(Stock, (loc, sku))
        assert row is not None
        row.on_hand = 0
    assert (await api.delete(f"/locations/{loc}")).status_code == 204


async def test_an_unused_location_is_deleted_with_its_empty_stock(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    loc = add_location(url, zone="nowhere")
    (sku,) = add_skus(url, {"sku": f"XMD-{tag()}", "name": "Leer"})
    with session_scope(url) as s:
        s.add(Stock(location_id=loc, sku=sku, on_hand=0))
    r = await api.delete(f"/locations/{loc}")
    assert r.status_code == 204, r.text
    assert (await api.get(f"/locations/{loc}")).status_code == 404
    assert (await api.delete(f"/locations/{loc}")).status_code == 404
    with session_scope(url) as s:
        assert s.exec(select(Stock).where(Stock.location_id == loc)).all() == []
    (entry,) = await audit_of(api, "location", loc)
    assert entry["action"] == "delete" and entry["after"] is None
    assert entry["before"]["id"] == loc and entry["before"]["zone"] == "nowhere"
    assert "tests" in entry["actor"] and entry["source"] == f"api: DELETE /locations/{loc}"


async def test_the_audit_log_pages_newest_first(api: httpx.AsyncClient, settings: Settings) -> None:
    loc = add_location(settings.database_url)
    try:
        for capacity in (10, 20, 30):
            r = await api.patch(f"/locations/{loc}", json={"daily_capacity": capacity})
            assert r.status_code == 200, r.text
        params: dict[str, str | int] = {"entity": "location", "entity_id": loc, "limit": 2}
        first = (await api.get("/ops/audit", params=params)).json()
        assert [e["after"]["daily_capacity"] for e in first["entries"]] == [30, 20]
        rest = (
            await api.get("/ops/audit", params={**params, "before_id": first["next_before_id"]})
        ).json()
        assert [e["after"]["daily_capacity"] for e in rest["entries"]] == [10]
        assert rest["next_before_id"] is None
        assert rest["entries"][0]["before"]["daily_capacity"] == 1000
    finally:
        assert (await api.delete(f"/locations/{loc}")).status_code == 204
