"""The ingest path against the real PostgreSQL + PostGIS: COPY, re-delivery, outages, crashes.

These tests need data committed and visible across connections, so they cannot roll back:
each uses its own vehicle-id prefix and deletes its rows afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, create_engine

from fleet_db.db import InvalidArgumentError
from fleet_db.ingest import TelemetryWriter, WriterSettings, reason_kind, reject_reason
from fleet_db.samples import TelemetrySample
from fleet_db.spool import SpoolLockedError
from tests.tcp_proxy import TcpProxy

# The same database as conftest's db_url (committed rows, visible to other connections).
URL = os.environ.get("FLEET_TEST_DATABASE_URL",
                     "postgresql+psycopg://fleet@127.0.0.1:5432/fleet_test")
HERE = Path(__file__).resolve().parent
SRC = [str(HERE.parents[1] / "src" / p) for p in ("fleet_db", "fleet_core")]
# Recent enough to pass the future-stamp check, in partitions the migration created.
T0 = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
FAST = WriterSettings(batch_size=500, batch_age_s=0.05, retry_initial_s=0.05, retry_max_s=0.5,
                      connect_timeout_s=2)


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def sample(prefix: str, i: int, vehicles: int = 5) -> TelemetrySample:
    """Sample ``i`` of a simulated flight: vehicle i % vehicles, 10 Hz per vehicle."""
    k, n = i % vehicles, i // vehicles
    return TelemetrySample(
        f"{prefix}-{k}", T0 + timedelta(milliseconds=100 * n), 47.0 + n * 1e-5, 8.0 + k * 1e-3,
        altitude_amsl=450.0 + n * 0.01, altitude_rel=float(n % 120), heading_deg=45.0,
        ground_speed_mps=10.0, climb_rate_mps=0.5, battery_pct=100.0 - n * 0.001,
        voltage_v=22.0, current_a=12.5, mode="AUTO.MISSION", armed=True,
        landed_state=2, mission_id=f"mission-{k}")


def stored(prefix: str) -> list[tuple[object, ...]]:
    with psycopg.connect(libpq(URL)) as conn:
        return conn.execute(
            "select vehicle_id, time, st_y(position), st_x(position), altitude_amsl, "
            "altitude_rel, heading_deg, ground_speed_mps, climb_rate_mps, battery_pct, "
            "voltage_v, current_a, mode, armed, landed_state, mission_id from telemetry "
            "where vehicle_id like %s order by vehicle_id, time", (prefix + "-%",)).fetchall()


def as_row(s: TelemetrySample) -> tuple[object, ...]:
    return (s.vehicle_id, s.time, s.latitude, s.longitude, s.altitude_amsl, s.altitude_rel,
            s.heading_deg, s.ground_speed_mps, s.climb_rate_mps, s.battery_pct, s.voltage_v,
            s.current_a, s.mode, s.armed, s.landed_state, s.mission_id)


def expected(prefix: str, indices: range) -> list[tuple[object, ...]]:
    return sorted((as_row(sample(prefix, i)) for i in indices), key=lambda r: (r[0], r[1]))


@pytest.fixture
def prefix(db_engine: Engine) -> Iterator[str]:
    """A vehicle-id prefix of this test alone; its rows are deleted afterwards.

    Depends on ``db_engine`` (conftest) so that the test database is migrated first.
    """
    p = f"ingest-{uuid.uuid4().hex[:10]}"
    yield p
    with psycopg.connect(libpq(URL), autocommit=True) as conn:
        conn.execute("delete from telemetry where vehicle_id like %s", (p + "-%",))


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    p = TcpProxy()
    yield p
    p.stop()


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def test_a_simulated_flight_is_copied_with_exact_rows(prefix: str, tmp_path: Path) -> None:
    n = 5000
    with TelemetryWriter(URL, tmp_path, FAST) as writer:
        for i in range(n):
            assert writer.submit(sample(prefix, i))
        assert writer.flush(30.0)
        m = writer.metrics()
    assert (m.accepted, m.written, m.duplicates_skipped, m.rejected_total) == (n, n, 0, 0)
    assert m.batches >= 1
    assert m.staged_batches == 0  # fresh rows: every batch went straight in by COPY
    assert m.queue_depth == 0
    assert m.spool_pending_bytes == 0
    assert stored(prefix) == expected(prefix, range(n))


def test_a_redelivered_batch_creates_no_duplicates(prefix: str, tmp_path: Path) -> None:
    with TelemetryWriter(URL, tmp_path, FAST) as writer:
        for i in range(1000):
            writer.submit(sample(prefix, i))
        assert writer.flush(30.0)
        for i in range(500, 1500):  # half already stored
            writer.submit(sample(prefix, i))
        assert writer.flush(30.0)
        m = writer.metrics()
    assert (m.written, m.duplicates_skipped) == (1500, 500)
    # The first batches went straight in by COPY; one that met stored rows was rolled back to
    # its savepoint and went through the staging table and ON CONFLICT instead.
    assert 1 <= m.staged_batches < m.batches
    assert stored(prefix) == expected(prefix, range(1500))


def test_rejects_are_counted_per_reason_and_never_stored(prefix: str, tmp_path: Path) -> None:
    good = sample(prefix, 0)
    bad = [
        TelemetrySample("", T0, 47.0, 8.0),
        TelemetrySample(f"{prefix}-x", T0.replace(tzinfo=None), 47.0, 8.0),
        TelemetrySample(f"{prefix}-x", T0, 91.0, 8.0),
        TelemetrySample(f"{prefix}-x", T0, 47.0, 8.0, battery_pct=101.0),
        TelemetrySample(f"{prefix}-x", T0, 47.0, 8.0, battery_pct=-3.0),
        TelemetrySample(f"{prefix}-x", T0, 47.0, 8.0, voltage_v=float("nan")),
        TelemetrySample(f"{prefix}-x", datetime.now(UTC) + timedelta(minutes=5), 47.0, 8.0),
        TelemetrySample(f"{prefix}-x", T0, 47.0, 8.0, mode="AUTO\0"),
        TelemetrySample(f"{prefix}-x", T0, 47.0, 8.0, landed_state=40000),
        TelemetrySample(f"{prefix}-x", T0 - timedelta(days=8), 47.0, 8.0),
    ]
    with TelemetryWriter(URL, tmp_path, FAST) as writer:
        assert [writer.submit(s) for s in bad] == [False] * len(bad)
        assert writer.submit("not a sample") is False  # type: ignore[arg-type]
        assert writer.submit(good)
        assert writer.flush(30.0)
        m = writer.metrics()
    assert m.rejected == {
        "empty vehicle_id": 1, "time has no time zone": 1, "position is out of range": 1,
        "battery_pct is outside 0..100": 2, "voltage_v is not finite": 1,
        "time is in the future": 1, "mode contains a NUL character": 1,
        "landed_state is outside the smallint range": 1,
        "sample is not a TelemetrySample": 1, "time is older than 7 days, 0:00:00": 1}
    assert (m.received, m.accepted, m.rejected_total, m.written) == (12, 1, 11, 1)
    assert stored(prefix) == [as_row(good)]


def test_a_database_outage_mid_stream_loses_and_duplicates_nothing(
        prefix: str, tmp_path: Path, proxy: TcpProxy) -> None:
    n = 6000
    settings = WriterSettings(batch_size=200, batch_age_s=0.02, queue_capacity=1000,
                              retry_initial_s=0.05, retry_max_s=0.4, connect_timeout_s=2)
    with TelemetryWriter(proxy.url(URL), tmp_path, settings) as writer:
        worst = 0.0
        for i in range(n):
            if i == 2000:
                wait_for(lambda: writer.metrics().written > 0, 10.0, "first rows written")
                proxy.cut()
            if i == 4500:
                wait_for(lambda: writer.metrics().retries >= 3, 10.0, "failed retries")
                m = writer.metrics()
                # More samples wait than queue_capacity: a backlog, held by the spool alone
                # (the writer keeps no copy of them in memory).
                assert m.backlog
                assert m.queue_depth > settings.queue_capacity
                assert m.last_error is not None
                assert m.oldest_unwritten_age_s is not None
                proxy.restore()
            t = time.perf_counter()
            assert writer.submit(sample(prefix, i))
            worst = max(worst, time.perf_counter() - t)
            if i % 100 == 0:
                time.sleep(0.005)
        assert writer.flush(60.0)
        m = writer.metrics()
    assert stored(prefix) == expected(prefix, range(n))
    # Each sample is in exactly one successful batch; a batch whose commit reached the server
    # but whose reply was cut is re-sent and counted as duplicates, not written twice.
    assert m.written + m.duplicates_skipped == n
    assert not m.backlog
    assert m.last_error is None  # the outage is over: nothing to warn about any more
    assert m.retries >= 3  # but it is counted
    # The database being away never blocked a producer (the bound is the spool append).
    assert worst < 0.5


def test_a_killed_recorder_restarted_on_its_spool_loses_nothing_it_acknowledged(
        prefix: str, tmp_path: Path) -> None:
    # The child prints each sample's index once submit() returned True, and is killed -9 after
    # the 8001st: all of those must end up in the database exactly once.
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = {SRC!r} + [{str(HERE)!r}]
        from datetime import datetime
        from fleet_db.ingest import TelemetryWriter, WriterSettings
        import test_ingest
        from test_ingest import sample
        test_ingest.T0 = datetime.fromisoformat({T0.isoformat()!r})
        w = TelemetryWriter({URL!r}, {str(tmp_path)!r},
                            WriterSettings(batch_size=5000, max_batch_size=5000,
                                           batch_age_s=10.0))
        for i in range(100000):
            if w.submit(sample({prefix!r}, i)):
                print(i, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acked = -1
    for line in proc.stdout:
        acked = int(line)
        if acked == 8000:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert acked == 8000, "the recorder died before acknowledging 8000 samples"
    before = len(stored(prefix))
    with TelemetryWriter(URL, tmp_path, FAST) as writer:
        assert writer.flush(60.0)
        m = writer.metrics()
    rows = stored(prefix)
    assert len(rows) >= acked + 1
    total = len(rows)
    assert rows == expected(prefix, range(total))
    # Batches go by size (5000) or age (10 s): at most the first batch reached the database from
    # the killed process, so the restart wrote at least the other 3001 acknowledged samples from
    # the spool. (`before` is only a bound: a COPY sent just before the kill may still commit
    # while we count, and the restart then skips it as duplicates.)
    assert before <= 5000
    assert total - m.written <= 5000
    assert m.written >= acked + 1 - 5000
    assert m.written + m.duplicates_skipped >= total - before


def test_two_recorders_of_the_same_samples_store_each_exactly_once(
        prefix: str, tmp_path: Path) -> None:
    n = 8000
    writers = [TelemetryWriter(URL, tmp_path / name, FAST) for name in ("a", "b")]
    barrier = threading.Barrier(2)

    def record(w: TelemetryWriter) -> None:
        barrier.wait()
        for i in range(n):
            w.submit(sample(prefix, i))
        w.flush(60.0)

    threads = [threading.Thread(target=record, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    metrics = [w.metrics() for w in writers]
    for w in writers:
        assert w.close()
    assert stored(prefix) == expected(prefix, range(n))
    assert sum(m.written for m in metrics) == n
    assert sum(m.duplicates_skipped for m in metrics) == n
    assert sum(m.staged_batches for m in metrics) >= 1


def test_close_leaves_unwritten_samples_for_the_next_run(
        prefix: str, tmp_path: Path, proxy: TcpProxy) -> None:
    proxy.cut()
    writer = TelemetryWriter(proxy.url(URL), tmp_path, FAST)
    for i in range(700):
        assert writer.submit(sample(prefix, i))
    t = time.monotonic()
    assert writer.close(timeout=0.5) is False
    assert time.monotonic() - t < 3.0
    assert stored(prefix) == []
    proxy.restore()
    with TelemetryWriter(proxy.url(URL), tmp_path, FAST) as again:
        assert again.metrics().backlog  # starts by replaying the spool
        assert again.flush(30.0)
        assert again.metrics().written == 700
    assert stored(prefix) == expected(prefix, range(700))


def test_a_mark_tells_when_earlier_samples_are_stored(
        prefix: str, tmp_path: Path, proxy: TcpProxy) -> None:
    proxy.cut()
    engine = create_engine(proxy.url(URL))  # an engine lends its URL to the writer
    with TelemetryWriter(engine, tmp_path, FAST) as writer:
        for i in range(100):
            writer.submit(sample(prefix, i))
        mark = writer.mark()
        writer.submit(sample(prefix, 100))
        time.sleep(0.3)
        assert not writer.written(mark)
        proxy.restore()
        wait_for(lambda: writer.written(mark), 10.0, "the marked samples stored")
        assert len(stored(prefix)) >= 100
        assert writer.metrics().as_dict()["written"] in (100, 101)
    engine.dispose()


def test_a_second_writer_on_the_same_spool_is_refused(tmp_path: Path) -> None:
    with TelemetryWriter(URL, tmp_path, FAST), pytest.raises(SpoolLockedError, match="in use"):
        TelemetryWriter(URL, tmp_path, FAST)


def test_a_full_spool_refuses_samples_and_says_so(prefix: str, tmp_path: Path,
                                                  proxy: TcpProxy) -> None:
    proxy.cut()
    settings = WriterSettings(segment_bytes=8192, spool_max_bytes=16384, retry_max_s=0.1)
    with TelemetryWriter(proxy.url(URL), tmp_path, settings) as writer:
        results = [writer.submit(sample(prefix, i)) for i in range(300)]
        m = writer.metrics()
        writer.close(timeout=0.2)
    assert results[0]
    assert not results[-1]
    assert m.refused == results.count(False) > 0
    assert m.accepted == results.count(True)
    assert "limit 16384" in str(m.last_error)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"batch_size": 0}, "batch_size 0"),
    ({"batch_age_s": 0.0}, "batch_age_s 0.0"),
    ({"queue_capacity": 0}, "queue_capacity 0"),
    ({"retry_initial_s": 2.0, "retry_max_s": 1.0}, "retry_max_s 1.0"),
], ids=["batch-size", "batch-age", "queue", "retry-cap"])
def test_bad_writer_settings_are_refused_by_name(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        WriterSettings(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("reason", "kind"), [
    ("time 2026-01-01T00:00:00+00:00 is in the future (now 2025-12-31T00:00:00+00:00)",
     "time is in the future"),
    ("position (91.0, 8.0) is out of range", "position is out of range"),
    ("altitude_rel nan is not finite", "altitude_rel is not finite"),
    ("empty vehicle_id", "empty vehicle_id"),
], ids=["future", "position", "nan", "no-value"])
def test_reject_reasons_are_counted_without_their_values(reason: str, kind: str) -> None:
    assert reason_kind(reason) == kind


# Nothing listens on port 1: a writer there never stores anything, but its submit() decides
# about every sample exactly as it would with the database up.
NOWHERE = "postgresql+psycopg://fleet@127.0.0.1:1/none"


def test_submits_quick_checks_accept_exactly_what_reject_reason_accepts(
        tmp_path: Path) -> None:
    now = datetime.now(UTC)
    full = sample("quick", 3)

    def variant(**changes: object) -> TelemetrySample:
        return dataclasses.replace(full, **changes)  # type: ignore[arg-type]

    skew, week = timedelta(seconds=5), timedelta(days=7)
    cases = {
        "full": full,
        "edges": variant(latitude=-90.0, longitude=180.0, battery_pct=100.0),
        "zero-battery": variant(battery_pct=0.0),
        "just-inside-future": variant(time=now + skew - timedelta(milliseconds=50)),
        "just-beyond-future": variant(time=now + skew + timedelta(milliseconds=50)),
        "just-inside-age": variant(time=now - week + timedelta(seconds=2)),
        "just-beyond-age": variant(time=now - week - timedelta(milliseconds=50)),
        "other-zone": variant(time=now.astimezone(timezone(timedelta(hours=2)))),
        "naive": variant(time=now.replace(tzinfo=None)),
        "nan": variant(heading_deg=float("nan")),
        "inf": variant(latitude=float("inf")),
        "inf-minus-inf": variant(altitude_amsl=float("inf"), altitude_rel=float("-inf")),
        "huge-but-finite": variant(altitude_amsl=1e308, altitude_rel=1e308),
        "lat-out": variant(latitude=90.000001),
        "lon-out": variant(longitude=-180.5),
        "battery-out": variant(battery_pct=100.01),
        "none-number": variant(voltage_v=None),
        "none-armed": variant(armed=None, landed_state=None),
        "bare": TelemetrySample("quick-0", now, 47.0, 8.0),
        "empty-id": variant(vehicle_id=""),
        "nul-mode": variant(mode="AU\0TO"),
        "nul-mission": variant(mission_id="\0"),
        "smallint": variant(landed_state=70000),
        "int-numbers": variant(latitude=47, altitude_amsl=400),
    }
    with TelemetryWriter(NOWHERE, tmp_path, FAST) as writer:
        for name, case in cases.items():
            expected_ok = reject_reason(case, None, week) is None
            assert writer.submit(case) is expected_ok, name
        m = writer.metrics()
        assert m.accepted == sum(1 for c in cases.values()
                                 if reject_reason(c, None, week) is None)
        assert 0 < m.accepted < len(cases)
        assert m.received == len(cases) == m.accepted + m.rejected_total
        writer.close(timeout=0.0)


def test_a_sample_with_a_field_of_the_wrong_type_is_rejected_not_raised(
        tmp_path: Path) -> None:
    bad = TelemetrySample("uav0", T0, 47.0, 8.0, altitude_amsl="high")  # type: ignore[arg-type]
    worse = TelemetrySample("uav0", T0, 47.0, 8.0, mode=5)  # type: ignore[arg-type]
    with TelemetryWriter(NOWHERE, tmp_path, FAST) as writer:
        assert writer.submit(bad) is False
        assert writer.submit(worse) is False
        m = writer.metrics()
        writer.close(timeout=0.0)
    assert m.rejected == {"sample has a field of the wrong type": 2}
    assert (m.received, m.accepted) == (2, 0)


def test_flush_sends_a_partial_batch_without_waiting_for_its_age(
        prefix: str, tmp_path: Path) -> None:
    slow = WriterSettings(batch_size=100_000, max_batch_size=100_000, batch_age_s=30.0)
    with TelemetryWriter(URL, tmp_path, slow) as writer:
        for i in range(50):
            assert writer.submit(sample(prefix, i))
        t = time.monotonic()
        assert writer.flush(10.0)
        assert time.monotonic() - t < 5.0
        m = writer.metrics()
    assert (m.written, m.queue_depth, m.backlog) == (50, 0, False)
    assert stored(prefix) == expected(prefix, range(50))


def test_producers_on_several_threads_store_every_sample_once(
        prefix: str, tmp_path: Path) -> None:
    n, threads = 8000, 4
    with TelemetryWriter(URL, tmp_path, FAST) as writer:
        def produce(k: int) -> None:
            for i in range(k, n, threads):
                assert writer.submit(sample(prefix, i))

        workers = [threading.Thread(target=produce, args=(k,)) for k in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(60)
        assert writer.flush(60.0)
        m = writer.metrics()
    assert (m.received, m.accepted, m.written, m.duplicates_skipped) == (n, n, n, 0)
    assert stored(prefix) == expected(prefix, range(n))


def test_submit_many_stores_the_sound_samples_and_counts_the_rest(
        prefix: str, tmp_path: Path) -> None:
    good = [sample(prefix, i) for i in range(300)]
    bad = [TelemetrySample(f"{prefix}-x", T0, 91.0, 8.0),
           TelemetrySample(f"{prefix}-x", T0, 47.0, 8.0, mode="AU\0TO")]
    with TelemetryWriter(URL, tmp_path, FAST) as writer:
        assert writer.submit_many([*good[:100], bad[0], *good[100:], bad[1]]) == 300
        assert writer.submit_many([]) == 0
        assert writer.flush(30.0)
        m = writer.metrics()
    assert (m.received, m.accepted, m.written) == (302, 300, 300)
    assert m.rejected == {"position is out of range": 1, "mode contains a NUL character": 1}
    assert stored(prefix) == expected(prefix, range(300))


def test_submit_many_on_a_full_spool_stores_a_prefix_and_refuses_the_rest(
        prefix: str, tmp_path: Path, proxy: TcpProxy) -> None:
    proxy.cut()
    settings = WriterSettings(segment_bytes=8192, spool_max_bytes=16384, retry_max_s=0.1)
    with TelemetryWriter(proxy.url(URL), tmp_path, settings) as writer:
        stored_count = writer.submit_many(sample(prefix, i) for i in range(300))
        m = writer.metrics()
        writer.close(timeout=0.2)
    assert 0 < stored_count < 300
    assert (m.accepted, m.refused) == (stored_count, 300 - stored_count)
    assert "limit 16384" in str(m.last_error)
