"""Per-minute rollups: exact distance, battery, time in air; incremental with late samples."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from pyproj import Geod
from sqlalchemy import Connection, text

from fleet_db.db import InvalidArgumentError
from fleet_db.partitions import ensure_partitions
from fleet_db.repository import FleetRepository
from fleet_db.rollups import get_watermark, rebuild_rollups, update_rollups

WGS84 = Geod(ellps="WGS84")
# Inside the partitions the migration creates, far from anything other tests store.
T = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(hours=3)
LAT0, LON0, DLAT = -43.5, 172.6, 0.0001


def _insert(conn: Connection, vehicle: str, seconds: float, lat: float, lon: float, *,
            battery: float | None = None, alt: float | None = None, armed: bool | None = None,
            landed: int | None = None) -> None:
    conn.execute(text(
        "insert into telemetry (vehicle_id, time, position, battery_pct, altitude_rel, armed, "
        "landed_state) values (:v, :t, st_setsrid(st_makepoint(:lon, :lat), 4326), :b, :a, "
        ":armed, :landed)"),
        {"v": vehicle, "t": T + timedelta(seconds=seconds), "lat": lat, "lon": lon,
         "b": battery, "a": alt, "armed": armed, "landed": landed})


def _flight(conn: Connection) -> list[tuple[float, float]]:
    """Store rollup-1: 11 samples 2 s apart from T+51 s, airborne from T+55 to T+65 s.

    Then one more sample 15 s later, far away: a data gap that must count for nothing.
    Returns the (time, latitude) of the 11 regular samples.
    """
    ensure_partitions(conn, T, T + timedelta(minutes=5))
    track = []
    for k in range(11):
        t, lat = 51 + 2 * k, LAT0 + k * DLAT
        _insert(conn, "rollup-1", t, lat, LON0, battery=90 - k, alt=10.0 * k,
                armed=True, landed=2 if 2 <= k <= 7 else 1)
        track.append((t, lat))
    _insert(conn, "rollup-1", 86, LAT0 + 0.05, LON0, battery=70, alt=5.0, armed=False, landed=1)
    return track


def _segment_m(lat_a: float, lat_b: float) -> float:
    return float(WGS84.inv(LON0, lat_a, LON0, lat_b)[2])


def _rows(conn: Connection, vehicle: str) -> dict[int, dict[str, float]]:
    rollups = FleetRepository(conn).minute_rollups(vehicle, T, T + timedelta(hours=1))
    return {int((r.minute - T).total_seconds() // 60): {
        "samples": r.samples, "distance_m": r.distance_m, "air_s": r.time_in_air_s,
        "battery_min": r.battery_min_pct, "battery_max": r.battery_max_pct,
        "max_alt": r.max_alt_rel_m, "lat": r.latitude, "lon": r.longitude}
        for r in rollups}


def test_rollup_splits_segments_at_minute_boundaries(db_conn: Connection) -> None:
    track = _flight(db_conn)
    assert rebuild_rollups(db_conn, T, T + timedelta(minutes=2)) == 2
    rows = _rows(db_conn, "rollup-1")
    assert set(rows) == {0, 1}
    first, second = rows[0], rows[1]
    # Minute 0 holds the samples at 51..59 s, minute 1 those at 61..71 s and 86 s.
    assert first["samples"] == 5
    assert second["samples"] == 7
    # Airborne samples at 55..65 s hold the segments 55-57 .. 65-67: 12 s, of which 4 s and
    # half of 59-61 fall in minute 0.
    assert first["air_s"] == pytest.approx(5.0, abs=1e-9)
    assert second["air_s"] == pytest.approx(7.0, abs=1e-9)
    segments = [_segment_m(a[1], b[1]) for a, b in itertools.pairwise(track)]
    # Segments 51-53 .. 57-59 and half of 59-61 in minute 0; the 71-86 s gap counts nothing.
    assert first["distance_m"] == pytest.approx(sum(segments[:4]) + segments[4] / 2, abs=1e-3)
    assert second["distance_m"] == pytest.approx(segments[4] / 2 + sum(segments[5:]), abs=1e-3)
    assert (first["battery_min"], first["battery_max"]) == (86, 90)
    assert (second["battery_min"], second["battery_max"]) == (70, 85)
    assert (first["max_alt"], second["max_alt"]) == (40.0, 100.0)
    assert first["lat"] == pytest.approx(LAT0 + 2 * DLAT, abs=1e-9)
    assert first["lon"] == pytest.approx(LON0, abs=1e-9)


def test_armed_decides_when_the_landed_state_is_unknown(db_conn: Connection) -> None:
    ensure_partitions(db_conn, T, T)
    # Unknown landed state (NULL or MAV_LANDED_STATE_UNDEFINED = 0): armed means flying.
    for t, armed, landed in [(10, True, None), (13, True, 0), (16, False, None),
                             (19, False, 0), (21, True, None)]:
        _insert(db_conn, "rollup-2", t, LAT0, LON0, armed=armed, landed=landed)
    rebuild_rollups(db_conn, T, T + timedelta(minutes=1))
    row = _rows(db_conn, "rollup-2")[0]
    assert row["air_s"] == pytest.approx(6.0, abs=1e-9)  # segments 10-13 and 13-16
    assert row["distance_m"] == pytest.approx(0.0, abs=1e-9)
    assert row["battery_min"] is None


def test_update_rollups_writes_complete_minutes_and_picks_up_late_samples(
        db_conn: Connection) -> None:
    _flight(db_conn)
    db_conn.execute(text(
        "insert into rollup_watermarks (name, watermark) values ('telemetry_1min', :w) "
        "on conflict (name) do update set watermark = excluded.watermark"),
        {"w": T - timedelta(minutes=1)})
    # At T+1:30 only minute 0 is complete.
    assert update_rollups(db_conn, T + timedelta(minutes=1, seconds=30)) == 1
    assert get_watermark(db_conn) == T + timedelta(minutes=1)
    assert set(_rows(db_conn, "rollup-1")) == {0}
    # Next call: minute 1 is complete now, minute 0 is recomputed (trailing window).
    assert update_rollups(db_conn, T + timedelta(minutes=2, seconds=5)) == 2
    assert get_watermark(db_conn) == T + timedelta(minutes=2)
    assert _rows(db_conn, "rollup-1")[0]["battery_min"] == 86
    # A late sample for minute 0 arrives: the next call rolls it in.
    _insert(db_conn, "rollup-1", 52, LAT0, LON0, battery=42.0, alt=0.0, armed=True, landed=1)
    update_rollups(db_conn, T + timedelta(minutes=2, seconds=10))
    row = _rows(db_conn, "rollup-1")[0]
    assert row["samples"] == 6
    assert row["battery_min"] == 42.0
    assert get_watermark(db_conn) == T + timedelta(minutes=2)


def test_update_rollups_advances_at_most_max_span_per_call(db_conn: Connection) -> None:
    _flight(db_conn)
    db_conn.execute(text(
        "insert into rollup_watermarks (name, watermark) values ('telemetry_1min', :w) "
        "on conflict (name) do update set watermark = excluded.watermark"), {"w": T})
    update_rollups(db_conn, T + timedelta(hours=1), trailing=timedelta(0),
                   max_span=timedelta(minutes=1))
    assert get_watermark(db_conn) == T + timedelta(minutes=1)
    assert set(_rows(db_conn, "rollup-1")) == {0}


def test_rollups_reject_times_without_a_zone(db_conn: Connection) -> None:
    with pytest.raises(InvalidArgumentError, match="has no time zone"):
        update_rollups(db_conn, datetime(2030, 1, 1))
    with pytest.raises(InvalidArgumentError, match="is before start"):
        rebuild_rollups(db_conn, T, T - timedelta(minutes=5))


def test_rollups_outlive_the_raw_partition_retention_drops(db_conn: Connection) -> None:
    from fleet_db.partitions import drop_expired_partitions

    day = datetime(2020, 4, 1, 12, tzinfo=UTC)
    ensure_partitions(db_conn, day, day)
    for k in range(30):  # one minute of samples, 2 s apart, heading north
        db_conn.execute(text(
            "insert into telemetry (vehicle_id, time, position, battery_pct) values "
            "('retained', :t, st_setsrid(st_makepoint(:lon, :lat), 4326), :b)"),
            {"t": day + timedelta(seconds=2 * k), "lat": LAT0 + k * DLAT, "lon": LON0,
             "b": 80.0 - k * 0.1})
    assert rebuild_rollups(db_conn, day, day + timedelta(minutes=1), ["retained"]) == 1
    before = FleetRepository(db_conn).minute_rollups("retained", day, day + timedelta(hours=1))
    dropped = drop_expired_partitions(db_conn, datetime(2020, 6, 1, tzinfo=UTC), 30)
    assert "telemetry_p20200401" in dropped
    assert db_conn.execute(text(
        "select count(*) from telemetry where vehicle_id = 'retained'")).scalar_one() == 0
    after = FleetRepository(db_conn).minute_rollups("retained", day, day + timedelta(hours=1))
    assert after == before  # kept indefinitely: the minute and its figures
    [minute] = after
    assert minute.samples == 30
    assert minute.distance_m == pytest.approx(_segment_m(LAT0, LAT0 + 29 * DLAT), rel=1e-6)
    assert (minute.battery_min_pct, minute.battery_max_pct) == pytest.approx((77.1, 80.0))
