"""Telemetry over REST: latest, downsampled history, vehicles inside an area, the nearest
available vehicle, mission timelines, MCAP export; site scoping and row-level security."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from fleet_db.bags import BagSamples
from web_bridge.db import make_async_engine, scoped
from web_bridge.security import Grant, Principal

from .conftest import TEST_URL, Accounts, token_of
from .fleet_rows import LAT, LON, FleetRows, Scenario, scenario

API = "/api/v1/telemetry"


@pytest.fixture
def world(accounts: Accounts) -> Iterator[Scenario]:
    """Yield the shared scenario, its rows deleted after the test."""
    with FleetRows(accounts) as rows:
        yield scenario(rows)


def _iso(t: datetime) -> str:
    return t.isoformat()


def test_row_level_security_hides_another_sites_rows_from_a_query_without_a_site_filter(
        world: Scenario) -> None:
    principal = Principal(user_id=1, username="site-a viewer",
                          grants=(Grant("viewer", world.site_a),))

    async def ids(query: str) -> set[str]:
        engine = make_async_engine(TEST_URL)
        try:
            async with scoped(engine, principal) as conn:
                return set((await conn.execute(text(query))).scalars())
        finally:
            await engine.dispose()

    vehicles = asyncio.run(ids("select id from vehicles"))
    missions = asyncio.run(ids("select id from missions"))
    sites = asyncio.run(ids("select id from sites"))
    assert {world.va1, world.va2} <= vehicles
    assert world.vb1 not in vehicles
    assert world.flown in missions
    assert world.other_site_mission not in missions
    assert sites == {world.site_a}


def test_latest_gives_the_newest_sample_of_each_vehicle_of_my_sites_only(
        start_bridge: Any, accounts: Accounts, world: Scenario) -> None:
    server = start_bridge(with_ros=False)
    a_viewer = accounts.user("a", ("viewer", world.site_a))
    with server.client(token_of(server, a_viewer)) as c:
        latest = c.get(f"{API}/latest").json()
        assert [s["vehicle_id"] for s in latest] == [world.va1]  # va2 has no sample
        newest = world.t0 + timedelta(minutes=10, seconds=1800)
        assert datetime.fromisoformat(latest[0]["time"]) == newest
        assert c.get(f"{API}/latest", params={"site": world.site_b}).status_code == 404
    everyone = accounts.user("all", ("viewer", None))
    with server.client(token_of(server, everyone)) as c:
        latest = c.get(f"{API}/latest", params={"site": world.site_b}).json()
        assert [s["vehicle_id"] for s in latest] == [world.vb1]


def test_history_is_the_range_downsampled_to_at_most_max_points(
        start_bridge: Any, accounts: Accounts, world: Scenario) -> None:
    server = start_bridge(with_ros=False)
    user = accounts.user("a", ("viewer", world.site_a))
    t0, t1 = world.t0 + timedelta(minutes=10), world.t0 + timedelta(minutes=40)
    with server.client(token_of(server, user)) as c:
        full = c.get(f"{API}/vehicles/{world.va1}/history",
                     params={"t0": _iso(t0), "t1": _iso(t1)}).json()
        small = c.get(f"{API}/vehicles/{world.va1}/history",
                      params={"t0": _iso(t0), "t1": _iso(t1), "max_points": 10}).json()
    assert len(full["samples"]) == 180  # the sample at t1 is outside [t0, t1)
    times = [datetime.fromisoformat(s["time"]) for s in small["samples"]]
    assert 1 < len(times) <= 10
    assert times == sorted(times)
    assert all(t0 <= t < t1 for t in times)
    assert small["samples"][0] == full["samples"][0]  # the first of the first bucket


def test_another_sites_vehicle_history_answers_404(
        start_bridge: Any, accounts: Accounts, world: Scenario) -> None:
    server = start_bridge(with_ros=False)
    user = accounts.user("a", ("viewer", world.site_a))
    with server.client(token_of(server, user)) as c:
        r = c.get(f"{API}/vehicles/{world.vb1}/history",
                  params={"t0": _iso(world.t0), "t1": _iso(world.t1)})
    assert r.status_code == 404
    assert world.vb1 in r.json()["detail"]


@pytest.mark.parametrize("case", [
    ("2026-05-01T10:00:00", "2026-05-01T11:00:00Z", "t0"),
    ("2026-05-01T10:00:00Z", "yesterday", "t1"),
    ("2026-05-01T11:00:00Z", "2026-05-01T10:00:00Z", "t1 2026-05-01T10:00:00+00:00 is not "
                                                     "after t0"),
    ("0001-01-01T00:00:00+01:00", "2026-05-01T11:00:00Z", "t0"),
], ids=["naive", "garbage", "inverted", "before-year-1-in-utc"])
def test_a_bad_time_range_is_422_naming_the_parameter(
        start_bridge: Any, accounts: Accounts, world: Scenario,
        case: tuple[str, str, str]) -> None:
    t0, t1, named = case
    server = start_bridge(with_ros=False)
    user = accounts.user("a", ("viewer", world.site_a))
    with server.client(token_of(server, user)) as c:
        r = c.get(f"{API}/vehicles/{world.va1}/history", params={"t0": t0, "t1": t1})
    assert r.status_code == 422
    assert named in r.json()["detail"]


def _square(lat: float, lon: float, half: float) -> dict[str, Any]:
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half],
            [lon - half, lat + half], [lon - half, lat - half]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_vehicles_inside_a_polygon_are_those_of_my_sites_seen_there(
        start_bridge: Any, accounts: Accounts, world: Scenario) -> None:
    server = start_bridge(with_ros=False)
    body = {"area": _square(LAT + 0.025, LON, 0.04), "t0": _iso(world.t0),
            "t1": _iso(world.t1)}
    a_viewer = accounts.user("a", ("viewer", world.site_a))
    with server.client(token_of(server, a_viewer)) as c:
        found = c.post(f"{API}/inside", json=body).json()
    assert [p["vehicle_id"] for p in found] == [world.va1]  # vb1 was there too
    assert found[0]["samples"] == 181
    both = accounts.user("ab", ("viewer", world.site_a), ("viewer", world.site_b))
    with server.client(token_of(server, both)) as c:
        found = c.post(f"{API}/inside", json=body).json()
        assert [p["vehicle_id"] for p in found] == sorted([world.va1, world.vb1])
        bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
        r = c.post(f"{API}/inside", json={**body, "area": bowtie})
        assert r.status_code == 422
        assert "not a valid polygon" in r.json()["detail"]
        r = c.post(f"{API}/inside", json={**body, "area": {"type": "Polygon",
                                                              "coordinates": [[[0, 0]]]}})
        assert r.status_code == 422
        assert "area" in r.json()["detail"]


def test_the_nearest_available_vehicle_is_one_of_my_sites(
        start_bridge: Any, accounts: Accounts, world: Scenario) -> None:
    rows = FleetRows(accounts)
    now = datetime.now(UTC)
    try:
        # vb1 (site b) is nearer, but a site-a viewer must be told about va2.
        rows.samples(world.va2, [{"time": now - timedelta(seconds=2), "lat": LAT + 0.01,
                                  "lon": LON, "battery_pct": 80.0}])
        rows.samples(world.vb1, [{"time": now - timedelta(seconds=2), "lat": LAT + 0.02,
                                  "lon": LON, "battery_pct": 80.0}])
        server = start_bridge(with_ros=False)
        user = accounts.user("a", ("viewer", world.site_a))
        point = {"latitude": LAT + 0.02, "longitude": LON, "max_age_s": 60}
        with server.client(token_of(server, user)) as c:
            found = c.get(f"{API}/nearest", params=point).json()
            assert found["vehicle"]["vehicle_id"] == world.va2
            assert found["vehicle"]["distance_m"] == pytest.approx(1113, rel=0.01)
            none = c.get(f"{API}/nearest", params={**point, "min_battery_pct": 90}).json()
            assert none["vehicle"] is None
            assert "battery >= 90 %" in none["criteria"]
            r = c.get(f"{API}/nearest", params={**point, "latitude": 91})
            assert r.status_code == 422
            assert "latitude" in r.json()["detail"]
    finally:
        rows.sql("delete from telemetry where vehicle_id = any(:v) and time > :t",
                 {"v": [world.va2, world.vb1], "t": now - timedelta(minutes=1)})


def test_a_mission_timeline_is_its_transitions_in_order_and_404_for_another_site(
        start_bridge: Any, accounts: Accounts, world: Scenario) -> None:
    server = start_bridge(with_ros=False)
    user = accounts.user("a", ("viewer", world.site_a))
    with server.client(token_of(server, user)) as c:
        entries = c.get(f"{API}/missions/{world.flown}/timeline").json()
        assert [e["to_state"] for e in entries] == [
            "planned", "queued", "assigned", "active", "completed"]
        assert entries[1]["from_state"] == "planned"
        r = c.get(f"{API}/missions/{world.other_site_mission}/timeline")
        assert r.status_code == 404
        assert world.other_site_mission in r.json()["detail"]


def _exports() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("fleet-export-*")}


def test_a_mission_exports_as_an_mcap_bag_holding_its_rows(
        start_bridge: Any, accounts: Accounts, world: Scenario, tmp_path: Path) -> None:
    server = start_bridge(with_ros=False)
    user = accounts.user("a", ("viewer", world.site_a))
    before = _exports()
    with server.client(token_of(server, user)) as c:
        r = c.get(f"{API}/export", params={"mission": world.flown})
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"\x89MCAP0\r\n")
    assert r.headers["x-fleet-rows"] == "181"
    assert ".mcap" in r.headers["content-disposition"]
    bag = tmp_path / "mission.mcap"
    bag.write_bytes(r.content)
    samples = list(BagSamples(bag))
    assert len(samples) == 181
    assert {s.vehicle_id for s in samples} == {world.va1}
    deadline = time.monotonic() + 5
    while _exports() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _exports() - before, "the export's temporary directory was not deleted"


def test_an_export_too_big_is_413_and_a_bad_slice_is_4xx(
        start_bridge: Any, accounts: Accounts, world: Scenario,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from web_bridge.routes import telemetry

    monkeypatch.setattr(telemetry, "MAX_EXPORT_ROWS", 100)
    server = start_bridge(with_ros=False)
    user = accounts.user("a", ("viewer", world.site_a))
    with server.client(token_of(server, user)) as c:
        r = c.get(f"{API}/export", params={"mission": world.flown})
        assert r.status_code == 413
        assert "more than 100 rows" in r.json()["detail"]
        r = c.get(f"{API}/export", params={"vehicle": world.va1})
        assert r.status_code == 422
        assert "t0 and t1" in r.json()["detail"]
        r = c.get(f"{API}/export", params={"mission": f"{world.flown}_nope"})
        assert r.status_code == 404
        r = c.get(f"{API}/export", params={"vehicle": world.vb1, "t0": _iso(world.t0),
                                           "t1": _iso(world.t1)})
        assert r.status_code == 404
        r = c.get(f"{API}/export", params={"mission": world.flown, "t0": _iso(world.t0),
                                           "t1": _iso(world.t1)})
        assert r.status_code == 422
        assert "do not give vehicles, t0 or t1" in r.json()["detail"]
