"""A database that accepts and never answers: the client's deadlines, the recorder's warning.

The proxy (tests/tcp_proxy.py) is worse than a cut link here: in black-hole mode it keeps
accepting connections and reading what the client sends, and forwards nothing either way.
TCP is healthy (the proxy acknowledges everything, answers keepalives), the server never
sees a statement, so neither keepalives, ``tcp_user_timeout`` nor ``statement_timeout`` can
end a wait: only the client's own reply deadline (fleet_db.db.BoundedConnection) does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from fleet_db.db import BoundedConnection, InvalidArgumentError, ReplyTimeoutError, make_engine
from fleet_db.ingest import WriterSettings
from fleet_db.recording import Health, Recording, RecordingSettings
from tests.fleet_db.test_ingest import URL, expected, libpq, sample, stored, wait_for
from tests.tcp_proxy import TcpProxy


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    p = TcpProxy()
    yield p
    p.stop()


class Log:
    """What a Recording logs (it takes any logger with these methods)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, message: str, **_: Any) -> None:
        self.lines.append(f"WARN {message}")

    def info(self, message: str) -> None:
        self.lines.append(f"INFO {message}")


def test_a_silent_server_fails_a_round_trip_within_the_reply_deadline(
        proxy: TcpProxy, db_engine: Engine) -> None:
    conn = BoundedConnection.connect(libpq(proxy.url(URL)), connect_timeout=2)
    conn.reply_timeout_s = 0.5
    assert conn.execute("select 1").fetchone() == (1,)
    proxy.black_hole()
    t = time.monotonic()
    with pytest.raises(ReplyTimeoutError, match=r"no reply from the database within 0\.5 s"):
        conn.execute("select 1")
    assert time.monotonic() - t < 2.0
    # Its protocol state is unknown: the connection is closed, never reused.
    assert conn.closed
    assert proxy.swallowed > 0  # the query really went into the hole


def test_a_pooled_engine_gives_up_on_a_silent_server_instead_of_hanging(
        proxy: TcpProxy, db_engine: Engine) -> None:
    engine = make_engine(proxy.url(URL), connect_timeout_s=2, reply_timeout_s=1.0)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select 1")).scalar() == 1
        proxy.black_hole()
        t = time.monotonic()
        # The pre-ping of the pooled connection meets the deadline, the fresh connection
        # that replaces it meets connect_timeout: an error within seconds, not a hang.
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("select 1"))
        assert time.monotonic() - t < 8.0
    finally:
        engine.dispose()


def test_a_hung_database_is_warned_about_abandoned_and_caught_up_exactly_once(
        proxy: TcpProxy, db_engine: Engine, tmp_path: Path) -> None:
    prefix = f"hung-{time.monotonic_ns() % 10**9}"
    reply_timeout = 1.5
    log = Log()
    recording = Recording(RecordingSettings(
        database_url=proxy.url(URL), spool_dir=tmp_path / "spool", batch_size=50,
        batch_age_s=0.05, maintenance_period_s=3600.0, connect_timeout_s=2,
        reply_timeout_s=reply_timeout, unwritten_warn_s=0.5), log)
    n = 1500
    try:
        for i in range(500):
            recording.submit(sample(prefix, i))
        wait_for(lambda: recording.writer.metrics().written == 500, 20.0, "first rows written")
        recording.tick(datetime.now(UTC))
        assert recording.status().health is Health.RECORDING

        seen: list[str] = []  # the diagnostic messages while the database hangs

        def abandoned() -> bool:
            status = recording.status()
            if status.health is not Health.RECORDING:
                seen.append(status.message)
            return recording.writer.metrics().retries >= 1

        proxy.black_hole()
        lost_at = time.monotonic()
        for i in range(500, 1000):
            recording.submit(sample(prefix, i))
            if i % 50 == 0:
                abandoned()
                time.sleep(0.05)
        # The writer abandons the connection that never answers, and says why.
        wait_for(abandoned, reply_timeout + 4.0, "the silent connection abandoned")
        noticed = time.monotonic() - lost_at
        # Before that, nothing had failed yet the oldest sample waited: the diagnostics warned
        # on its age alone.
        assert any(m.startswith("writer stalled; the oldest unwritten sample is") for m in seen)
        m = recording.writer.metrics()
        status = recording.status()
        assert noticed < reply_timeout + 4.0
        assert status.health is Health.SPOOLING
        assert f"no reply from the database within {reply_timeout:g} s" in status.message
        assert "oldest unwritten sample" in status.message
        assert m.written < n
        recording.tick(datetime.now(UTC))
        assert any(line.startswith("WARN recorder spooling") for line in log.lines)

        for i in range(1000, n):  # still recording while the database is away
            recording.submit(sample(prefix, i))
        proxy.restore()
        assert recording.writer.flush(30.0)
        m = recording.writer.metrics()
        # Every sample exactly once: a batch whose commit the server got but whose reply
        # was swallowed is re-sent, and its rows count as duplicates, not twice.
        assert m.written + m.duplicates_skipped == n
        assert recording.status().health is Health.RECORDING
        recording.tick(datetime.now(UTC))
        # (The event store logs with the same logger: look for the line, not at the end.)
        warned = next(i for i, line in enumerate(log.lines)
                      if line.startswith("WARN recorder spooling"))
        assert "INFO recording: the database takes rows again" in log.lines[warned:]
    finally:
        recording.close()
        with psycopg.connect(libpq(URL), autocommit=True) as conn:
            rows = stored(prefix)
            conn.execute("delete from telemetry where vehicle_id like %s", (prefix + "-%",))
    assert rows == expected(prefix, range(n))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"connect_timeout_s": 1}, "connect_timeout_s 1 is outside 2..600"),
    ({"reply_timeout_s": 0.0}, "reply_timeout_s 0.0 is outside"),
    ({"unwritten_warn_s": -1.0}, "unwritten_warn_s -1.0 is outside"),
])
def test_bad_recording_timeouts_are_refused_by_name(kwargs: dict[str, Any], match: str,
                                                    tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        RecordingSettings(database_url=None, spool_dir=tmp_path, **kwargs)


def test_bad_reply_timeouts_are_refused_by_name() -> None:
    with pytest.raises(InvalidArgumentError, match=r"reply_timeout_s 0 must be > 0"):
        make_engine(URL, reply_timeout_s=0, check=False)
    with pytest.raises(InvalidArgumentError, match=r"reply_timeout_s 0\.0 is outside 0\.1\.\.3600"):
        WriterSettings(reply_timeout_s=0.0)
