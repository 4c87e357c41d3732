"""Report figures and event-log pages on a small known data set, with exact answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pyproj import Geod
from sqlalchemy import Connection, text

from fleet_db import eventlog
from fleet_db.db import InvalidArgumentError, NotFoundError
from fleet_db.partitions import ensure_partitions
from fleet_db.reports import mission_report, summary

WGS84 = Geod(ellps="WGS84")
LAT, LON = -45.0, 169.0
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.fixture
def conn(db_conn: Connection) -> Connection:
    """Store one site with two vehicles, missions, flights, charging, samples and events."""
    run = db_conn.execute
    run(text("insert into sites (id, name, location) values "
             "('rep_s', 'reports', st_setsrid(st_makepoint(169, -45), 4326))"))
    run(text("insert into vehicles (id, serial, model, site_id) values "
             "('rep_a', 'rep_a', 'x', 'rep_s'), ('rep_b', 'rep_b', 'x', 'rep_s')"))
    missions = [("rep_m1", "completed", T0 + MIN, T0 + 10 * MIN, T0 + 40 * MIN, "rep_a"),
                ("rep_m2", "failed", T0 + 2 * MIN, None, T0 + 5 * MIN, None),
                ("rep_m3", "queued", T0 + 3 * MIN, None, None, None)]
    for mid, status, created, started, ended, vehicle in missions:
        run(text("insert into missions (id, type, status, site_id, created_at, started_at, "
                 "ended_at, vehicle_id, planned_path) values (:id, 'survey', :s, 'rep_s', :c, "
                 ":st, :e, :v, st_geomfromtext('LINESTRING(169 -45, 169.01 -45)', 4326))"),
            {"id": mid, "s": status, "c": created, "st": started, "e": ended, "v": vehicle})
    # One hour of flight of rep_a in the period, half an hour of rep_b clipped by t1.
    run(text("insert into flights (vehicle_id, started_at, ended_at, duration_s, distance_m, "
             "energy_wh) values ('rep_a', :a0, :a1, 3600, 2000, 50), "
             "('rep_b', :b0, :b1, 3600, 1000, null)"),
        {"a0": T0, "a1": T0 + 60 * MIN, "b0": T0 + 90 * MIN, "b1": T0 + 150 * MIN})
    run(text("insert into charging_stations (id, site_id, location, pads, charge_rate_w) "
             "values ('rep_st', 'rep_s', st_setsrid(st_makepoint(169, -45), 4326), 1, 100)"))
    for i, wait in enumerate((10.0, 20.0, 30.0, None)):
        run(text("insert into charging_sessions (station_id, vehicle_id, requested_at, "
                 "queue_wait_s) values ('rep_st', 'rep_a', :r, :w)"),
            {"r": T0 + i * MIN, "w": wait})
    ensure_partitions(db_conn, T0, T0 + 2 * MIN * 60)
    for i in range(5):  # 5 samples 100 m apart along a meridian, 1 per minute
        lat = LAT + i * 0.0009
        run(text("insert into telemetry (vehicle_id, time, position, battery_pct, voltage_v, "
                 "current_a) values ('rep_a', :t, st_setsrid(st_makepoint(:lon, :lat), 4326), "
                 ":b, 10, 6)"),
            {"t": T0 + (10 + 5 * i) * MIN, "lat": lat, "lon": LON, "b": 90.0 - i})
    for i in range(3):
        run(text("insert into coordination_events (key, time, type, severity, vehicle_id, "
                 "opened_at) values (:k, :t, 'low_battery', 'warning', 'rep_a', :t)"),
            {"k": f"rep_e{i}", "t": T0 + (20 + i) * MIN})
    return db_conn


def test_a_site_summary_has_the_defined_figures(conn: Connection) -> None:
    s = summary(conn, T0, T0 + 120 * MIN, ["rep_s"])
    assert s.site_id == "rep_s"
    assert s.vehicles == 2
    assert s.missions_by_state == {"planned": 0, "queued": 1, "assigned": 0, "active": 0,
                                   "paused": 0, "completed": 1, "aborted": 0, "failed": 1}
    assert (s.finished, s.completed, s.success_rate) == (2, 1, 0.5)
    assert s.flight_hours == pytest.approx(1.5)  # 60 min + 30 of rep_b's clipped flight
    assert s.utilisation == pytest.approx(1.5 / (2 * 2))
    assert (s.flights, s.distance_km) == (2, 3.0)
    assert s.energy_wh == 50.0
    assert s.energy_per_km_wh == pytest.approx(25.0)  # rep_b's flight has no energy
    assert s.charging_sessions == 4
    assert s.charging_wait_mean_s == pytest.approx(20.0)
    assert s.charging_wait_p95_s == pytest.approx(29.0)
    assert s.charging_wait_max_s == 30.0


def test_a_summary_of_an_empty_period_has_no_rates(conn: Connection) -> None:
    s = summary(conn, T0 - 600 * MIN, T0 - 500 * MIN, ["rep_s"])
    assert (s.finished, s.success_rate, s.energy_per_km_wh) == (0, None, None)
    assert s.utilisation == 0.0
    assert summary(conn, T0, T0 + MIN, ["nowhere"]).utilisation is None


@pytest.mark.parametrize(("t0", "t1", "match"), [
    (T0.replace(tzinfo=None), T0 + MIN, "t0 .* has no time zone"),
    (T0, T0, "t1 .* is not after t0"),
    (T0, T0 + timedelta(days=4000), "longer than"),
], ids=["naive", "empty", "too-long"])
def test_a_bad_period_is_refused_naming_it(conn: Connection, t0: datetime, t1: datetime,
                                           match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        summary(conn, t0, t1, ["rep_s"])


def test_a_mission_report_measures_the_flown_path(conn: Connection) -> None:
    r = mission_report(conn, "rep_m1")
    f = r.figures
    expected = sum(WGS84.inv(LON, LAT + i * 0.0009, LON, LAT + (i + 1) * 0.0009)[2]
                   for i in range(4))
    assert f.samples == 5
    assert f.flown_distance_m == pytest.approx(expected, rel=1e-6)
    assert f.energy_wh == pytest.approx(10 * 6 * 20 / 60)  # 60 W for 20 minutes
    assert (f.battery_start_pct, f.battery_end_pct, f.battery_used_pct) == (90.0, 86.0, 4.0)
    assert f.duration_s == 1800.0
    assert len(r.planned_path) == 2
    assert [e.name for e in r.events] == ["low_battery"] * 3


def test_a_downsampled_path_keeps_its_last_point(conn: Connection) -> None:
    r = mission_report(conn, "rep_m1", max_path_points=2)
    assert len(r.flown_path) <= 3
    assert r.flown_path[0].latitude == pytest.approx(LAT)
    assert r.flown_path[-1].latitude == pytest.approx(LAT + 4 * 0.0009)


def test_an_unknown_mission_is_not_found(conn: Connection) -> None:
    with pytest.raises(NotFoundError, match="rep_nope"):
        mission_report(conn, "rep_nope")


def test_event_pages_continue_after_their_cursor(conn: Connection) -> None:
    first = eventlog.coordination_events(conn, vehicle_ids=["rep_a"], limit=2)
    rest = eventlog.coordination_events(conn, vehicle_ids=["rep_a"], limit=2,
                                        after=(first[-1].time, first[-1].id))
    assert [e.key for e in first + rest] == ["rep_e2", "rep_e1", "rep_e0"]
    assert eventlog.coordination_events(conn, vehicle_ids=[]) == []


def test_an_audit_action_filter_matches_wildcards_literally(conn: Connection) -> None:
    for action in ("GET /x_y", "GET /xzy"):
        conn.execute(text("insert into audit_log (action, username) values (:a, 'rep_u')"),
                     {"a": action})
    found = eventlog.audit_entries(conn, username="rep_u", action="x_y")
    assert [e.action for e in found] == ["GET /x_y"]
