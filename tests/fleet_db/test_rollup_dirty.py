"""Late telemetry reaches telemetry_1min: writers mark the minutes, rollup_dirty redoes them.

The writer tests need rows committed by the TelemetryWriter's own connection: each uses its own
vehicle ids and deletes its rows and marks afterwards. The rollup steps run in ``db_conn``,
rolled back after each test.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from pyproj import Geod
from sqlalchemy import Connection, Engine, text

from fleet_db.bags import import_bag, write_bag
from fleet_db.db import InvalidArgumentError
from fleet_db.ingest import TelemetryWriter
from fleet_db.partitions import ensure_partitions
from fleet_db.repository import FleetRepository
from fleet_db.rollups import (
    dirty_window,
    floor_minute,
    mark_dirty,
    rollup_dirty,
    update_rollups,
)
from fleet_db.samples import TelemetrySample

from .test_ingest import FAST, URL, libpq

WGS84 = Geod(ellps="WGS84")
LAT0, LON0, DLAT = -41.29, 174.78, 0.0001


def _track(vehicle: str, minute: datetime) -> list[TelemetrySample]:
    """11 airborne samples 2 s apart from minute + 51 s, flying north; battery 90 % down to 80."""
    return [TelemetrySample(
        vehicle, minute + timedelta(seconds=51 + 2 * k), LAT0 + k * DLAT, LON0,
        altitude_amsl=500.0, altitude_rel=10.0 * k, heading_deg=0.0, ground_speed_mps=5.5,
        climb_rate_mps=0.0, battery_pct=90.0 - k, voltage_v=22.0, current_a=10.0,
        mode="AUTO.MISSION", armed=True, landed_state=2, mission_id=None) for k in range(11)]


def _rollups(conn: Connection, vehicle: str, minute: datetime) -> dict[int, dict[str, float]]:
    rows = FleetRepository(conn).minute_rollups(vehicle, minute - timedelta(minutes=5),
                                                minute + timedelta(minutes=5))
    return {int((r.minute - minute).total_seconds() // 60): {
        "samples": r.samples, "distance_m": r.distance_m, "air_s": r.time_in_air_s,
        "battery_min": r.battery_min_pct, "battery_max": r.battery_max_pct,
        "max_alt": r.max_alt_rel_m, "lat": r.latitude, "lon": r.longitude} for r in rows}


def _assert_track_rolled_up(conn: Connection, vehicle: str, minute: datetime) -> None:
    """The exact rollups of ``_track``: samples 51..59 s in minute 0, 61..71 s in minute 1."""
    rows = _rollups(conn, vehicle, minute)
    assert set(rows) == {0, 1}
    first, second = rows[0], rows[1]
    segments = [float(WGS84.inv(LON0, LAT0 + k * DLAT, LON0, LAT0 + (k + 1) * DLAT)[2])
                for k in range(10)]
    assert (first["samples"], second["samples"]) == (5, 6)
    # Segments 51-53 .. 57-59 and half of 59-61 in minute 0, the rest in minute 1.
    assert first["distance_m"] == pytest.approx(sum(segments[:4]) + segments[4] / 2, abs=1e-3)
    assert second["distance_m"] == pytest.approx(segments[4] / 2 + sum(segments[5:]), abs=1e-3)
    assert first["air_s"] == pytest.approx(9.0, abs=1e-9)
    assert second["air_s"] == pytest.approx(11.0, abs=1e-9)
    # (approx: a bag carries the battery as a float32 fraction)
    assert (first["battery_min"], first["battery_max"]) == pytest.approx((86.0, 90.0), rel=1e-6)
    assert (second["battery_min"], second["battery_max"]) == pytest.approx((80.0, 85.0),
                                                                           rel=1e-6)
    assert (first["max_alt"], second["max_alt"]) == (40.0, 100.0)
    assert first["lat"] == pytest.approx(LAT0 + 2 * DLAT, abs=1e-9)
    assert second["lat"] == pytest.approx(LAT0 + 7.5 * DLAT, abs=1e-9)
    assert first["lon"] == pytest.approx(LON0, abs=1e-9)


def _marks(conn: Connection, vehicles: list[str], start: datetime,
           end: datetime) -> list[tuple[str | None, datetime, datetime]]:
    """Return the marks of ``vehicles`` or of every vehicle overlapping [start, end)."""
    rows = conn.execute(text(
        "select vehicle_id, from_minute, to_minute from telemetry_rollup_dirty "
        "where (vehicle_id is null or vehicle_id = any(:v)) and from_minute < :b "
        "and to_minute > :a order by id"), {"v": vehicles, "a": start, "b": end}).all()
    return [(v, a.astimezone(UTC), b.astimezone(UTC)) for v, a, b in rows]


def _set_watermark(conn: Connection, value: datetime) -> None:
    conn.execute(text(
        "insert into rollup_watermarks (name, watermark) values ('telemetry_1min', :w) "
        "on conflict (name) do update set watermark = excluded.watermark"), {"w": value})


@pytest.fixture
def vehicles(db_conn: Connection) -> Iterator[list[str]]:
    """Yield two vehicle ids of this test alone; their rows and marks go afterwards.

    Marks of every vehicle that the test's writers left are deleted too (those overlapping
    the last hour and a half, where these tests put their samples).
    """
    tag = uuid.uuid4().hex[:10]
    ids = [f"dirty-{tag}-a", f"dirty-{tag}-b"]
    started = datetime.now(UTC)
    yield ids
    # Roll the test's transaction back first: its locks on the marks would block the cleanup.
    db_conn.rollback()
    with psycopg.connect(libpq(URL), autocommit=True) as conn:
        conn.execute("delete from telemetry where vehicle_id = any(%s)", (ids,))
        conn.execute("delete from telemetry_1min where vehicle_id = any(%s)", (ids,))
        conn.execute("delete from telemetry_rollup_dirty where vehicle_id = any(%s) or "
                     "(vehicle_id is null and marked_at >= %s and to_minute > %s)",
                     (ids, started, started - timedelta(minutes=90)))


def _write(samples: list[TelemetrySample], spool: Path) -> tuple[int, int, int]:
    """Store ``samples`` with a TelemetryWriter; return its written, late and staged batches."""
    with TelemetryWriter(URL, spool, FAST) as writer:
        assert writer.submit_many(samples) == len(samples)
        assert writer.flush(30.0)
        m = writer.metrics()
    return m.written, m.late_batches, m.staged_batches


def test_samples_written_ten_minutes_late_are_rolled_up_exactly_by_one_step(
        db_conn: Connection, vehicles: list[str], tmp_path: Path) -> None:
    now = datetime.now(UTC)
    minute = floor_minute(now) - timedelta(minutes=12)  # the track ends 10+ minutes ago
    # The periodic rollups ran all along: the trailing window is long past the track.
    _set_watermark(db_conn, floor_minute(now))
    written, late, staged = _write(_track(vehicles[0], minute), tmp_path)
    assert (written, late, staged) == (11, 1, 0)  # straight in by COPY, plus one mark
    start, end = dirty_window(minute + timedelta(seconds=51), minute + timedelta(seconds=71))
    assert (start, end) == (minute, minute + timedelta(minutes=2))
    assert (None, start, end) in _marks(db_conn, vehicles, start, end)
    # What the recorder's housekeeping runs: the trailing window alone misses the rows...
    update_rollups(db_conn, now)
    assert _rollups(db_conn, vehicles[0], minute) == {}
    # ...the marked minutes do not.
    assert rollup_dirty(db_conn) >= 2
    _assert_track_rolled_up(db_conn, vehicles[0], minute)
    assert _marks(db_conn, vehicles, start, end) == []
    # Once more changes nothing: the marks are gone, and redoing a minute gives its row.
    rollup_dirty(db_conn)
    _assert_track_rolled_up(db_conn, vehicles[0], minute)


def test_live_samples_leave_no_mark(db_conn: Connection, vehicles: list[str],
                                    tmp_path: Path) -> None:
    now = datetime.now(UTC)
    live = [TelemetrySample(vehicles[0], now - timedelta(seconds=10 - k), LAT0, LON0)
            for k in range(10)]
    assert _write(live, tmp_path) == (10, 0, 0)
    assert [m for m in _marks(db_conn, vehicles, now - timedelta(minutes=5),
                              now + timedelta(minutes=5)) if m[0] is not None] == []


def test_a_batch_of_live_and_late_samples_marks_the_late_vehicle_alone(
        db_conn: Connection, vehicles: list[str], tmp_path: Path) -> None:
    now = datetime.now(UTC)
    late_minute = floor_minute(now) - timedelta(minutes=20)
    live = [TelemetrySample(vehicles[0], now - timedelta(seconds=5 - k), LAT0, LON0)
            for k in range(5)]
    # A vehicle whose clock lags 20 minutes, interleaved with a live one in every batch.
    lagging = _track(vehicles[1], late_minute)
    samples = [s for pair in itertools.zip_longest(live, lagging) for s in pair if s]
    written, late, staged = _write(samples, tmp_path)
    # Through the staging table, which marks each vehicle's late rows (never every vehicle).
    assert (written, late, staged) == (16, 1, 1)
    marks = _marks(db_conn, vehicles, late_minute - timedelta(hours=1), now + timedelta(hours=1))
    assert [m for m in marks if m[0] is not None] == [
        (vehicles[1], late_minute, late_minute + timedelta(minutes=2))]
    rollup_dirty(db_conn)
    _assert_track_rolled_up(db_conn, vehicles[1], late_minute)


def _insert_track(conn: Connection, vehicle: str, minute: datetime) -> None:
    ensure_partitions(conn, minute, minute + timedelta(minutes=2))
    for s in _track(vehicle, minute):
        conn.execute(text(
            "insert into telemetry (vehicle_id, time, position, altitude_rel, battery_pct, "
            "armed, landed_state) values (:v, :t, st_setsrid(st_makepoint(:lon, :lat), 4326), "
            ":alt, :b, :armed, :landed)"),
            {"v": s.vehicle_id, "t": s.time, "lon": s.longitude, "lat": s.latitude,
             "alt": s.altitude_rel, "b": s.battery_pct, "armed": s.armed,
             "landed": s.landed_state})


def test_a_vehicles_mark_recomputes_that_vehicle_only(
        db_conn: Connection, vehicles: list[str]) -> None:
    minute = floor_minute(datetime.now(UTC)) - timedelta(hours=2)
    for vehicle in vehicles:
        _insert_track(db_conn, vehicle, minute)
    mark_dirty(db_conn, minute + timedelta(seconds=51), minute + timedelta(seconds=71),
               vehicles[0])
    assert rollup_dirty(db_conn) >= 2
    _assert_track_rolled_up(db_conn, vehicles[0], minute)
    assert _rollups(db_conn, vehicles[1], minute) == {}
    assert _marks(db_conn, vehicles, minute, minute + timedelta(minutes=2)) == []


def test_overlapping_marks_are_merged_and_all_cleared_by_one_step(
        db_conn: Connection, vehicles: list[str]) -> None:
    minute = floor_minute(datetime.now(UTC)) - timedelta(hours=2)
    _insert_track(db_conn, vehicles[0], minute)
    for first, last in ((51, 61), (57, 71), (51, 71)):  # three batches of one replay
        mark_dirty(db_conn, minute + timedelta(seconds=first), minute + timedelta(seconds=last),
                   vehicles[0])
    mark_dirty(db_conn, minute + timedelta(seconds=51), minute + timedelta(seconds=71))
    assert len(_marks(db_conn, vehicles, minute, minute + timedelta(minutes=2))) == 4
    rollup_dirty(db_conn)
    _assert_track_rolled_up(db_conn, vehicles[0], minute)
    assert _marks(db_conn, vehicles, minute, minute + timedelta(minutes=2)) == []


def test_a_mark_longer_than_max_span_is_done_a_span_per_call(
        db_conn: Connection, vehicles: list[str]) -> None:
    minute = floor_minute(datetime.now(UTC)) - timedelta(hours=2)
    _insert_track(db_conn, vehicles[0], minute)
    mark_dirty(db_conn, minute + timedelta(seconds=51), minute + timedelta(seconds=71),
               vehicles[0])
    rollup_dirty(db_conn, max_span=timedelta(minutes=1))
    assert set(_rollups(db_conn, vehicles[0], minute)) == {0}
    assert _marks(db_conn, vehicles, minute, minute + timedelta(minutes=2)) == [
        (vehicles[0], minute + timedelta(minutes=1), minute + timedelta(minutes=2))]
    rollup_dirty(db_conn, max_span=timedelta(minutes=1))
    _assert_track_rolled_up(db_conn, vehicles[0], minute)
    assert _marks(db_conn, vehicles, minute, minute + timedelta(minutes=2)) == []


def test_a_mark_another_transaction_holds_is_skipped_not_waited_for(
        db_engine: Engine, db_conn: Connection, vehicles: list[str]) -> None:
    minute = floor_minute(datetime.now(UTC)) - timedelta(hours=2)
    with db_engine.begin() as conn:
        _insert_track(conn, vehicles[0], minute)
        mark_dirty(conn, minute + timedelta(seconds=51), minute + timedelta(seconds=71),
                   vehicles[0])
    holder = db_engine.connect()
    try:
        # A second recorder's rollup_dirty has claimed the mark and not committed yet.
        holder.begin()
        holder.execute(text("select 1 from telemetry_rollup_dirty where vehicle_id = :v "
                            "for update"), {"v": vehicles[0]})
        done = threading.Event()

        def step() -> None:
            rollup_dirty(db_conn)
            done.set()

        worker = threading.Thread(target=step)
        worker.start()
        worker.join(30.0)
        assert done.is_set(), "rollup_dirty waited for a mark another transaction held"
        assert _rollups(db_conn, vehicles[0], minute) == {}
        holder.rollback()
    finally:
        holder.close()
    rollup_dirty(db_conn)
    _assert_track_rolled_up(db_conn, vehicles[0], minute)


def test_a_bag_import_marks_the_minutes_of_the_rows_it_inserted(
        db_conn: Connection, vehicles: list[str], tmp_path: Path) -> None:
    minute = floor_minute(datetime.now(UTC)) - timedelta(days=2)
    ensure_partitions(db_conn, minute, minute + timedelta(minutes=2))
    write_bag(tmp_path / "bag", _track(vehicles[0], minute))
    assert import_bag(db_conn, tmp_path / "bag").rows_imported == 11
    window = (minute, minute + timedelta(minutes=2))
    assert _marks(db_conn, vehicles, *window) == [(vehicles[0], *window)]
    rollup_dirty(db_conn)
    _assert_track_rolled_up(db_conn, vehicles[0], minute)
    # Importing again inserts nothing, so it marks nothing.
    assert import_bag(db_conn, tmp_path / "bag").rows_imported == 0
    assert _marks(db_conn, vehicles, *window) == []


def test_rollup_dirty_and_mark_dirty_refuse_bad_arguments(db_conn: Connection) -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidArgumentError, match="max_span 0:00:30 must be >= 1 minute"):
        rollup_dirty(db_conn, max_span=timedelta(seconds=30))
    with pytest.raises(InvalidArgumentError, match="is before first"):
        mark_dirty(db_conn, t, t - timedelta(seconds=1))
    with pytest.raises(InvalidArgumentError, match="has no time zone"):
        mark_dirty(db_conn, datetime(2026, 1, 1), datetime(2026, 1, 1))
