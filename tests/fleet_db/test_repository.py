"""Repository queries on a small known fleet, with exact expected answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pyproj import Geod
from shapely.geometry import box
from sqlalchemy import Connection, insert, text

from fleet_core.geo import GeoPoint
from fleet_db.db import InvalidArgumentError, NotFoundError
from fleet_db.domain import SiteSuccess, VehiclePresence, ZoneCrossing
from fleet_db.models import Mission, MissionEvent, NoFlyZone, Site, Vehicle
from fleet_db.partitions import ensure_partitions
from fleet_db.repository import FleetRepository
from fleet_db.samples import TelemetrySample

WGS84 = Geod(ellps="WGS84")
LAT, LON = -43.5, 172.6  # far from whatever else the test database holds


@dataclass(frozen=True)
class Fleet:
    """The stored data set: its reference time and the newest sample of vehicle a."""

    now: datetime
    latest_a: TelemetrySample


def _point(lat: float, lon: float) -> str:
    return f"SRID=4326;POINT({lon} {lat})"


def _square(lat: float, lon: float, half: float = 0.01) -> str:
    return (f"SRID=4326;POLYGON(({lon - half} {lat - half}, {lon + half} {lat - half}, "
            f"{lon + half} {lat + half}, {lon - half} {lat + half}, {lon - half} {lat - half}))")


def _store(conn: Connection, s: TelemetrySample) -> None:
    conn.execute(text(
        "insert into telemetry (vehicle_id, time, position, altitude_amsl, altitude_rel, "
        "heading_deg, ground_speed_mps, climb_rate_mps, battery_pct, voltage_v, current_a, "
        "mode, armed, landed_state, mission_id) values (:vehicle_id, :time, "
        "st_setsrid(st_makepoint(:longitude, :latitude), 4326), :altitude_amsl, :altitude_rel, "
        ":heading_deg, :ground_speed_mps, :climb_rate_mps, :battery_pct, :voltage_v, "
        ":current_a, :mode, :armed, :landed_state, :mission_id)"),
        {f: getattr(s, f) for f in s.__slots__})  # type: ignore[attr-defined]


@pytest.fixture
def fleet(db_conn: Connection) -> Fleet:
    """Store three sites, six vehicles, their samples, zones, missions and events."""
    for table in ("mission_events", "mission_waypoints", "charging_sessions", "missions",
                  "charging_stations", "roles", "vehicles", "sites", "no_fly_zones"):
        db_conn.execute(text(f"delete from {table}"))  # rolled back with the test
    now = datetime.now(UTC).replace(microsecond=0)
    ensure_partitions(db_conn, now - timedelta(hours=1), now + timedelta(minutes=5))
    db_conn.execute(insert(Site), [
        {"id": "s1", "name": "Christchurch", "location": _point(LAT, LON),
         "time_zone": "Pacific/Auckland"},
        {"id": "s2", "name": "Rangiora", "location": _point(LAT + 0.1, LON),
         "time_zone": "UTC"},
        {"id": "s3", "name": "Empty", "location": _point(LAT + 0.2, LON), "time_zone": "UTC"},
    ])
    vehicles = [("a", "idle", "s1"), ("b", "idle", "s1"), ("c", "in_mission", "s1"),
                ("d", "idle", "s2"), ("e", "maintenance", None), ("f", "idle", "s1")]
    db_conn.execute(insert(Vehicle), [
        {"id": f"repo-{v}", "serial": f"SN-{v}", "model": "x500", "status": status,
         "site_id": site, "home": _point(LAT, LON), "capabilities": {"camera": True}}
        for v, status, site in vehicles])
    latest_a = TelemetrySample(
        vehicle_id="repo-a", time=now - timedelta(seconds=5), latitude=LAT, longitude=LON,
        altitude_amsl=512.5, altitude_rel=0.0, heading_deg=270.0, ground_speed_mps=0.0,
        climb_rate_mps=0.0, battery_pct=80.0, voltage_v=16.4, current_a=0.5,
        mode="AUTO.LOITER", armed=False, landed_state=1, mission_id=None)
    samples = [
        TelemetrySample("repo-a", now - timedelta(seconds=60), LAT, LON, battery_pct=81.0),
        latest_a,
        TelemetrySample("repo-b", now - timedelta(seconds=2), LAT + 0.002, LON,
                        battery_pct=40.0),
        TelemetrySample("repo-c", now - timedelta(seconds=1), LAT, LON + 0.001,
                        battery_pct=90.0, mission_id="m5"),
        TelemetrySample("repo-d", now - timedelta(seconds=1), LAT + 0.1, LON, battery_pct=95.0),
        TelemetrySample("repo-f", now - timedelta(seconds=60), LAT + 0.0005, LON,
                        battery_pct=99.0),
    ]
    for s in samples:
        _store(db_conn, s)
    zone_lat = LAT + 0.05
    db_conn.execute(insert(NoFlyZone), [
        {"id": "z-active", "name": "stadium", "geom": _square(zone_lat, LON + 0.05),
         "active_from": now - timedelta(hours=1), "active_until": None},
        {"id": "z-expired", "name": "fair", "geom": _square(zone_lat, LON + 0.10),
         "active_from": None, "active_until": now - timedelta(minutes=1)},
        {"id": "z-future", "name": "airshow", "geom": _square(zone_lat, LON + 0.15),
         "active_from": now + timedelta(hours=1), "active_until": None},
        {"id": "z-always", "name": "prison", "geom": _square(zone_lat, LON + 0.20),
         "active_from": None, "active_until": None},
    ])

    def path(lon0: float, lon1: float) -> str:
        return f"SRID=4326;LINESTRING({lon0} {zone_lat}, {lon1} {zone_lat})"

    db_conn.execute(insert(Mission), [{"vehicle_id": None, **m} for m in [
        {"id": "m1", "type": "survey", "status": "planned",
         "planned_path": path(LON + 0.04, LON + 0.06)},
        {"id": "m2", "type": "patrol", "status": "queued",
         "planned_path": path(LON + 0.09, LON + 0.11)},
        {"id": "m3", "type": "inspection", "status": "assigned",
         "planned_path": path(LON + 0.14, LON + 0.16)},
        {"id": "m4", "type": "survey", "status": "completed",
         "planned_path": path(LON + 0.04, LON + 0.06)},
        {"id": "m5", "type": "delivery", "status": "active", "vehicle_id": "repo-c",
         "planned_path": path(LON + 0.04, LON + 0.21)},
        {"id": "m6", "type": "emergency", "status": "planned", "planned_path": None},
    ]])
    return Fleet(now=now, latest_a=latest_a)


def test_latest_sample_per_vehicle_returns_each_registered_vehicles_newest_sample(
        db_conn: Connection, fleet: Fleet) -> None:
    latest = FleetRepository(db_conn).latest_sample_per_vehicle()
    assert [s.vehicle_id for s in latest] == ["repo-a", "repo-b", "repo-c", "repo-d", "repo-f"]
    assert latest[0] == fleet.latest_a
    assert latest[2].mission_id == "m5"


def test_latest_sample_per_vehicle_filters_by_ids_and_age(db_conn: Connection,
                                                          fleet: Fleet) -> None:
    repo = FleetRepository(db_conn)
    recent = repo.latest_sample_per_vehicle(since=fleet.now - timedelta(seconds=30))
    assert [s.vehicle_id for s in recent] == ["repo-a", "repo-b", "repo-c", "repo-d"]
    assert [s.vehicle_id for s in repo.latest_sample_per_vehicle(["repo-a", "ghost"])] == [
        "repo-a"]
    with pytest.raises(InvalidArgumentError, match="'repo-a' must be a sequence"):
        repo.latest_sample_per_vehicle("repo-a")


def _distance(lat: float, lon: float, to: GeoPoint) -> float:
    return float(WGS84.inv(lon, lat, to.longitude, to.latitude)[2])


@pytest.mark.parametrize(("min_battery", "site", "max_age_s", "expected"), [
    pytest.param(50.0, None, 10, "repo-a", id="b-is-nearer-but-too-low"),
    pytest.param(30.0, None, 10, "repo-b", id="b-nearest-with-enough-battery"),
    pytest.param(80.0, None, 10, "repo-a", id="battery-exactly-at-the-threshold-counts"),
    pytest.param(50.0, "s2", 10, "repo-d", id="restricted-to-a-site"),
    pytest.param(99.0, None, 10, None, id="f-has-the-battery-but-is-stale"),
    pytest.param(96.0, None, 70, "repo-f", id="f-fresh-enough-with-a-longer-max-age"),
])
def test_nearest_available_vehicle(db_conn: Connection, fleet: Fleet, *, min_battery: float,
                                   site: str | None, max_age_s: float,
                                   expected: str | None) -> None:
    target = GeoPoint(LAT + 0.003, LON)
    found = FleetRepository(db_conn).nearest_available_vehicle(
        target, min_battery, site, now=fleet.now, max_age=timedelta(seconds=max_age_s))
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert found.vehicle_id == expected
    sample = found.sample
    assert found.distance_m == pytest.approx(
        _distance(sample.latitude, sample.longitude, target), abs=0.01)


def test_nearest_available_vehicle_rejects_a_bad_battery_threshold(db_conn: Connection) -> None:
    with pytest.raises(InvalidArgumentError, match="min_battery_pct 120"):
        FleetRepository(db_conn).nearest_available_vehicle(GeoPoint(LAT, LON), 120)


def test_history_returns_every_sample_when_they_fit(db_conn: Connection, fleet: Fleet) -> None:
    t0 = _store_second_samples(db_conn, fleet.now, 1000)
    points = FleetRepository(db_conn).history("repo-h", t0, t0 + timedelta(seconds=1000), 2000)
    assert [p.time for p in points] == [t0 + timedelta(seconds=i) for i in range(1000)]
    assert points[10].battery_pct == pytest.approx(100 - 10 / 20)
    assert points[10].latitude == pytest.approx(LAT - 1 + 10 * 1e-5)


@pytest.mark.parametrize("max_points", [100, 300, 999])
def test_history_downsamples_to_the_first_sample_of_each_time_bucket(
        db_conn: Connection, fleet: Fleet, max_points: int) -> None:
    t0 = _store_second_samples(db_conn, fleet.now, 1000)
    points = FleetRepository(db_conn).history("repo-h", t0, t0 + timedelta(seconds=1000),
                                              max_points)
    width_us = int((timedelta(seconds=1000) / max_points) / timedelta(microseconds=1))
    # The first whole second at or after each bucket's start (buckets are > 1 s wide).
    expected = sorted({-(-k * width_us // 1_000_000) for k in range(max_points)})
    assert len(points) <= max_points
    assert [int((p.time - t0).total_seconds()) for p in points] == expected


def test_history_of_an_empty_range_is_empty(db_conn: Connection, fleet: Fleet) -> None:
    repo = FleetRepository(db_conn)
    assert repo.history("repo-a", fleet.now + timedelta(minutes=1),
                        fleet.now + timedelta(minutes=2)) == []


@pytest.mark.parametrize(("t1_offset_s", "max_points", "message"), [
    pytest.param(-1, 10, "is not after t0", id="reversed"),
    pytest.param(10, 0, "max_points 0 is outside", id="no-points"),
])
def test_history_rejects_bad_arguments(db_conn: Connection, t1_offset_s: int, max_points: int,
                                       message: str) -> None:
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidArgumentError, match=message):
        FleetRepository(db_conn).history("v", t0, t0 + timedelta(seconds=t1_offset_s),
                                         max_points)


def _store_second_samples(conn: Connection, now: datetime, n: int) -> datetime:
    """Store ``n`` samples of repo-h one second apart ending a minute ago; return the first."""
    t0 = now - timedelta(seconds=n + 60)
    conn.execute(text(
        "insert into telemetry (vehicle_id, time, position, battery_pct) "
        "select 'repo-h', :t0 + i * interval '1 second', "
        "st_setsrid(st_makepoint(:lon, :lat + i * 1e-5), 4326), 100 - i / 20.0 "
        "from generate_series(0, :n - 1) i"), {"t0": t0, "lat": LAT - 1, "lon": LON, "n": n})
    return t0


def test_vehicles_inside_an_area_over_a_period(db_conn: Connection, fleet: Fleet) -> None:
    repo = FleetRepository(db_conn)
    area = box(LON - 0.0005, LAT - 0.0005, LON + 0.0015, LAT + 0.0003)
    now = fleet.now
    assert repo.vehicles_inside(area, now - timedelta(seconds=100), now) == [
        VehiclePresence("repo-a", now - timedelta(seconds=60), now - timedelta(seconds=5), 2),
        VehiclePresence("repo-c", now - timedelta(seconds=1), now - timedelta(seconds=1), 1),
    ]
    assert [v.vehicle_id for v in repo.vehicles_inside(
        area.wkt, now - timedelta(seconds=3), now)] == ["repo-c"]


def test_vehicles_inside_rejects_an_area_that_is_not_a_polygon(db_conn: Connection) -> None:
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidArgumentError, match=r"LINESTRING .* is not a polygon"):
        FleetRepository(db_conn).vehicles_inside("LINESTRING (0 0, 1 1)", t0,
                                                 t0 + timedelta(hours=1))


def test_missions_crossing_active_zones(db_conn: Connection, fleet: Fleet) -> None:
    crossings = FleetRepository(db_conn).missions_crossing_active_zones(fleet.now)
    assert crossings == [
        ZoneCrossing("m1", "planned", "z-active"),
        ZoneCrossing("m5", "active", "z-active"),
        ZoneCrossing("m5", "active", "z-always"),
    ]
    later = FleetRepository(db_conn).missions_crossing_active_zones(
        fleet.now + timedelta(hours=2))
    assert ZoneCrossing("m3", "assigned", "z-future") in later


def test_availability_per_site_counts_every_status(db_conn: Connection, fleet: Fleet) -> None:
    availability = FleetRepository(db_conn).availability_per_site()
    by_site = {a.site_id: {k: v for k, v in a.counts.items() if v} for a in availability}
    assert [a.site_id for a in availability] == ["s1", "s2", "s3", None]
    assert by_site == {"s1": {"idle": 3, "in_mission": 1}, "s2": {"idle": 1}, "s3": {},
                       None: {"maintenance": 1}}
    assert set(availability[2].counts) == {
        "idle", "in_mission", "returning", "charging", "maintenance", "offline"}
    assert availability[0].total == 4


def test_mission_timeline_is_in_time_order(db_conn: Connection, fleet: Fleet) -> None:
    now = fleet.now
    events = [
        {"mission_id": "m1", "time": now - timedelta(seconds=30), "from_state": "queued",
         "to_state": "planned", "reason": "vehicle lost", "actor": "planner",
         "details": {"vehicle": "repo-b"}},
        {"mission_id": "m1", "time": now - timedelta(seconds=60), "from_state": None,
         "to_state": "planned", "reason": "created", "actor": "operator:ann"},
        {"mission_id": "m1", "time": now - timedelta(seconds=45), "from_state": "planned",
         "to_state": "queued", "reason": None, "actor": "planner"},
    ]
    for event in events:  # one by one: the events without details get the column default
        db_conn.execute(insert(MissionEvent), event)
    repo = FleetRepository(db_conn)
    timeline = repo.mission_timeline("m1")
    assert [(e.from_state, e.to_state) for e in timeline] == [
        (None, "planned"), ("planned", "queued"), ("queued", "planned")]
    assert timeline[0].time == now - timedelta(seconds=60)
    assert timeline[2].details == {"vehicle": "repo-b"}
    assert timeline[0].details == {}
    assert repo.mission_timeline("m2") == []
    with pytest.raises(NotFoundError, match="mission 'nope' does not exist"):
        repo.mission_timeline("nope")


def test_success_rate_per_site(db_conn: Connection, fleet: Fleet) -> None:
    now = fleet.now
    day = timedelta(days=1)

    def finished(mid: str, site: str | None, status: str, duration_s: float | None,
                 ended: datetime) -> dict[str, object]:
        started = None if duration_s is None else ended - timedelta(seconds=duration_s)
        return {"id": mid, "type": "survey", "status": status, "site_id": site,
                "started_at": started, "ended_at": ended}

    db_conn.execute(insert(Mission), [
        finished("k1", "s1", "completed", 100, now - timedelta(hours=1)),
        finished("k2", "s1", "completed", 200, now - timedelta(hours=2)),
        finished("k3", "s1", "completed", 300, now - timedelta(hours=3)),
        finished("k4", "s1", "completed", None, now - timedelta(hours=4)),  # no start time
        finished("k5", "s1", "failed", 50, now - timedelta(hours=5)),
        finished("k6", "s1", "aborted", 10, now - timedelta(hours=6)),
        finished("k7", "s1", "completed", 999, now - 2 * day),  # before the period
        {"id": "k8", "type": "survey", "status": "active", "site_id": "s1",
         "started_at": now - timedelta(hours=1), "ended_at": None},
        finished("k9", "s2", "failed", 20, now - timedelta(hours=1)),
        finished("k10", None, "completed", 50, now - timedelta(hours=1)),
    ])
    stats = FleetRepository(db_conn).success_rate_per_site(now - day, now)
    assert stats == [SiteSuccess("s1", finished=6, completed=4, avg_duration_s=200.0),
                     SiteSuccess("s2", finished=1, completed=0, avg_duration_s=None),
                     SiteSuccess(None, finished=1, completed=1, avg_duration_s=50.0)]
    assert stats[0].success_rate == pytest.approx(4 / 6)
    assert stats[1].success_rate == 0.0


def test_views_summarise_the_fleet(db_conn: Connection, fleet: Fleet) -> None:
    availability = db_conn.execute(text(
        "select site_id, idle, in_mission, maintenance, avg_idle_battery_pct "
        "from fleet_availability order by site_id nulls last")).all()
    assert [tuple(r) for r in availability] == [
        ("s1", 3, 1, 0, pytest.approx((80 + 40 + 99) / 3)), ("s2", 1, 0, 0, 95.0),
        (None, 0, 0, 1, None)]
    active = db_conn.execute(text(
        "select mission_id, vehicle_id, battery_pct from active_missions "
        "order by mission_id")).all()
    assert [tuple(r) for r in active] == [("m3", None, None), ("m5", "repo-c", 90.0)]
