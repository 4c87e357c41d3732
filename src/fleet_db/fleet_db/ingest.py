"""The zero-loss telemetry ingest path: durable spool first, then batched COPY into PostGIS.

``TelemetryWriter.submit`` validates a sample, encodes it once as a binary COPY tuple of
``telemetry`` and appends it to the memory-mapped :class:`~fleet_db.spool.Spool` before it
returns True: from then on the sample survives a crash of the process (``kill -9``); a power
cut can lose at most the last ``fsync_interval_s`` (default 50 ms) of acknowledged samples.

A flusher thread reads batches back from the spool (due at ``batch_size`` samples or
``batch_age_s`` age, at once while ``flush`` waits; at most ``max_batch_size`` per
transaction) and sends the spooled bytes as they are:

- first straight into ``telemetry`` with binary COPY, under a savepoint (fresh rows: the
  common case, and the fastest way PostgreSQL takes rows);
- if that COPY hits a row already stored (a replay after a crash, a second recorder, a
  re-delivered batch), the savepoint is rolled back and the same bytes go into a per-session
  TEMP staging table and on with ``INSERT ... ON CONFLICT (vehicle_id, time) DO NOTHING``; the
  next batches take that path directly for a while.

Either way every sample is stored exactly once. Only after the commit does the spool mark the
batch committed, so a crash in between re-delivers the batch, which the above absorbs.

A batch with samples stamped more than ``rollup_late_after_s`` ago (a replay after an outage,
a previous run's spool) also marks, in its transaction, the minutes it changes for
:func:`fleet_db.rollups.rollup_dirty`, since the periodic rollup no longer re-reads them. A
batch late as a whole over at most an hour takes one mark of every vehicle's minutes in its
span, one more statement and nothing decoded; one that mixes late and live samples (a vehicle
whose clock lags) or spans more goes through the staging table, which gives each vehicle the
marks of its own late samples.

There is no queue in memory besides the spool: its active segment is a mapping of the page
cache, so the flusher reads what was just appended without touching the disk, and when the
database is slow or away the samples simply accumulate in the spool (up to
``spool_max_bytes``; beyond that ``submit`` returns False and ``refused`` counts) and are
written in order once it is back. A database that hangs rather than fails (a path that
accepts and never answers) counts as away: every round trip of the flusher's connection has
a deadline on the client side (``reply_timeout_s``, :class:`fleet_db.db.BoundedConnection`);
one that passes closes the connection and counts a retry, and the batch is re-sent on a new
one. ``submit`` never waits for the database, and takes no lock but the spool's, held for
one copy into the mapping (microseconds; creating a file when a 64 MiB segment rotates).

``submit`` checks the common sample (every value present, UTC stamp) with a few arithmetic
comparisons and encodes it with a precompiled struct; anything that fails the quick checks
takes the full :func:`reject_reason`, which decides and names the reason. The quick checks
accept only what the full ones accept (their time bounds keep a margin of 1 ms).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import re
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import URL, Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from fleet_db.copy_codec import PG_EPOCH, TUPLE_COLUMNS, RecordEncoder, SpoolRecordError
from fleet_db.db import (
    BoundedConnection,
    InvalidArgumentError,
    bound_round_trips,
    database_url,
    keepalive_args,
    safe_url,
)
from fleet_db.partitions import ensure_partitions
from fleet_db.rollups import LATE_AFTER, mark_dirty, mark_rows_sql
from fleet_db.samples import MAX_FUTURE_SKEW, TelemetrySample
from fleet_db.spool import CopyBatch, Spool, SpoolCursor, SpoolError, SpoolFullError

_LOG = logging.getLogger(__name__)

COLUMNS = ("vehicle_id", "time", "position", "altitude_amsl", "altitude_rel", "heading_deg",
           "ground_speed_mps", "climb_rate_mps", "battery_pct", "voltage_v", "current_a", "mode",
           "armed", "landed_state", "mission_id")
_STAGING = "fleet_ingest_staging"
_TUPLE_COLS = ", ".join(TUPLE_COLUMNS)
_CREATE_STAGING = (f"create temp table if not exists {_STAGING} (like telemetry) "
                   "on commit delete rows")
# The spool records' payloads are COPY tuples of these columns (fleet_db.copy_codec.TUPLE_COLUMNS).
_COPY_DIRECT = f"copy telemetry ({_TUPLE_COLS}) from stdin (format binary)"
_COPY_STAGING = f"copy {_STAGING} ({_TUPLE_COLS}) from stdin (format binary)"
_MOVE = (f"insert into telemetry ({_TUPLE_COLS}) select {_TUPLE_COLS} from {_STAGING} "
         "on conflict (vehicle_id, time) do nothing")
# The same, marking the rollup minutes of the late rows it inserted; returns the rows inserted.
_MOVE_AND_MARK = (f"with moved as ({_MOVE} returning vehicle_id, time), "
                  f"marked as ({mark_rows_sql('moved', late_only=True)}) "
                  "select count(*) from moved")
# A batch late as a whole over a longer span than this is marked per vehicle (see above).
_COARSE_MARK_SPAN = timedelta(hours=1)
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\0" + bytes(8)  # header: signature, flags, no extension
_COPY_TRAILER = b"\xff\xff"
# After a batch met rows already stored, this many batches go through staging directly.
_STAGED_AFTER_CONFLICT = 20
# EWKB of a 2-D point with SRID: what geometry's binary input (geometry_recv) accepts.
_EWKB_POINT = struct.Struct("<BIIdd")
_EWKB_POINT_SRID = 0x20000001
_SMALLINT = (-32768, 32767)
# "name <value> what" → "name what": reject reasons carry the bad value, the counters must not.
_REASON_VALUE = re.compile(r"^(\w+) (?:\(.*?\)|\S+) (.*?)(?: \(now .*\))?$")
_US = timedelta(microseconds=1)
_UNIX_TO_PG_US = int((PG_EPOCH - datetime(1970, 1, 1, tzinfo=UTC)) // _US)
# The quick checks of submit() stay this far inside the time bounds, so that float rounding
# of the wall clock never makes them accept what reject_reason would refuse.
_MARGIN_US = 1000
_NEVER = 1 << 62


def ewkb_point(longitude: float, latitude: float) -> bytes:
    """Return the EWKB of a WGS-84 point (SRID 4326)."""
    return _EWKB_POINT.pack(1, _EWKB_POINT_SRID, 4326, longitude, latitude)


def reason_kind(reason: str) -> str:
    """Return the reject reason without the offending value, to count rejects by kind."""
    match = _REASON_VALUE.match(reason)
    return f"{match.group(1)} {match.group(2)}" if match else reason


def reject_reason(sample: object, now: datetime | None = None,
                  max_age: timedelta | None = None) -> str | None:
    """Return why ``sample`` cannot be stored (TelemetrySample checks plus column limits).

    ``max_age``: samples older than this (a broken clock, a GPS week rollover) are refused,
    because one of them in a batch would make the batch span an absurd number of partitions.
    """
    if not isinstance(sample, TelemetrySample):
        return f"sample {type(sample).__name__} is not a TelemetrySample"
    reason = sample.reject_reason(now)
    if reason is not None:
        return reason
    if max_age is not None:
        reference = now if now is not None else datetime.now(UTC)
        if reference - sample.time > max_age:
            return (f"time {sample.time.isoformat()} is older than {max_age} "
                    f"(now {reference.isoformat()})")
    for name in ("vehicle_id", "mode", "mission_id"):
        value = getattr(sample, name)
        if value is not None and "\0" in value:
            # PostgreSQL text cannot hold NUL: such a row would block its batch forever.
            return f"{name} {value!r} contains a NUL character"
    if sample.landed_state is not None and not (
            _SMALLINT[0] <= sample.landed_state <= _SMALLINT[1]):
        return f"landed_state {sample.landed_state} is outside the smallint range"
    return None


@dataclass(frozen=True, slots=True)
class WriterSettings:
    """Tuning of a TelemetryWriter; the defaults suit one recorder of a few hundred vehicles."""

    batch_size: int = 2000  # a batch is due once this many samples wait...
    batch_age_s: float = 0.2  # ...or the oldest waiting one is this old
    # One transaction takes at most this many: when the database fell behind, fewer, larger
    # transactions catch up faster (one commit's fsync per batch).
    max_batch_size: int = 10_000
    # More samples than this waiting for the flusher is a backlog (see WriterMetrics).
    queue_capacity: int = 20_000
    segment_bytes: int = 64 * 1024 * 1024
    spool_max_bytes: int = 4 * 1024 ** 3
    fsync_interval_s: float = 0.05
    retry_initial_s: float = 0.1
    retry_max_s: float = 5.0
    max_sample_age_s: float = 7 * 86400.0  # older samples are rejected at submit
    # Samples older than this when written mark their rollup minutes dirty (fleet_db.rollups).
    rollup_late_after_s: float = LATE_AFTER.total_seconds()
    connect_timeout_s: int = 5
    statement_timeout_s: int = 60
    # The client's own bound on every round trip (query, COPY, commit): a connection that
    # gets no reply within this is abandoned, the batch retried on a new one (duplicates are
    # absorbed) and the attempt counted in ``retries``. The server's statement_timeout does
    # nothing when the server never sees the statement (fleet_db.db.BoundedConnection).
    reply_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        checks = (("batch_size", self.batch_size, 1, 1_000_000),
                  ("max_batch_size", self.max_batch_size, self.batch_size, 1_000_000),
                  ("batch_age_s", self.batch_age_s, 0.001, 60.0),
                  ("queue_capacity", self.queue_capacity, 1, 10_000_000),
                  ("retry_initial_s", self.retry_initial_s, 0.001, 60.0),
                  ("retry_max_s", self.retry_max_s, self.retry_initial_s, 600.0),
                  ("connect_timeout_s", self.connect_timeout_s, 1, 600),
                  ("max_sample_age_s", self.max_sample_age_s, 1.0, 300 * 86400.0),
                  ("rollup_late_after_s", self.rollup_late_after_s, 1.0, 86400.0),
                  ("statement_timeout_s", self.statement_timeout_s, 1, 3600),
                  ("reply_timeout_s", self.reply_timeout_s, 0.1, 3600.0))
        for name, value, low, high in checks:
            if not low <= value <= high:
                raise InvalidArgumentError(f"{name} {value} is outside {low}..{high}")


@dataclass(frozen=True, slots=True)
class WriterMetrics:
    """A snapshot of a TelemetryWriter's counters, for diagnostics."""

    received: int  # submit() calls
    accepted: int  # samples in the spool (submit returned True)
    rejected: dict[str, int]  # invalid samples by kind of reason; never stored
    refused: int  # valid samples the spool could not take (full, disk error): submit False
    written: int  # rows inserted into telemetry
    duplicates_skipped: int  # rows of written batches that were already stored
    batches: int
    # batches through staging and ON CONFLICT: they met stored rows, or mixed late and live
    staged_batches: int
    late_batches: int  # batches with samples older than rollup_late_after_s: rollups marked
    retries: int  # failed database attempts
    queue_depth: int  # accepted samples the flusher has not taken into a batch yet
    # True while a previous run's samples are replayed, or more than queue_capacity wait
    backlog: bool
    spool_bytes: int
    spool_segments: int
    spool_pending_bytes: int  # bytes of samples not yet committed to the database
    oldest_unwritten_age_s: float | None  # since the oldest unwritten sample was spooled
    last_error: str | None  # the current problem: a write error clears once writes succeed
    connected: bool
    rejected_total: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rejected_total", sum(self.rejected.values()))

    def as_dict(self) -> dict[str, object]:
        """Return the counters as a flat dict (rejects as ``rejected.<reason>``)."""
        out: dict[str, object] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "rejected"}
        out.update({f"rejected.{k}": v for k, v in self.rejected.items()})
        return out


class TelemetryWriter:
    """Stores TelemetrySamples in ``telemetry`` without losing any (see the module docstring).

    ``submit`` may be called from any number of threads. Use as a context manager or call
    ``close``.
    """

    def __init__(self, url: str | URL | Engine | None, spool_dir: str | Path,
                 settings: WriterSettings | None = None, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings if settings is not None else WriterSettings()
        # An engine given by the caller only lends its URL: the flusher needs a connection of
        # its own with TCP keepalives, never one shared with a pool.
        self._url = url.url if isinstance(url, Engine) else database_url(
            None if url is None else str(url) if isinstance(url, str) else
            url.render_as_string(hide_password=False))
        self._clock = clock
        s = self.settings
        self._spool = Spool(spool_dir, segment_bytes=s.segment_bytes,
                            max_bytes=s.spool_max_bytes, fsync_interval_s=s.fsync_interval_s)
        self._encoder = RecordEncoder()
        self._max_age = timedelta(seconds=s.max_sample_age_s)
        self._late_after = timedelta(seconds=s.rollup_late_after_s)
        # Bounds of (sample time - wall clock) that submit's quick checks accept.
        self._quick_ahead = (-(self._max_age // _US) + _MARGIN_US,
                             MAX_FUTURE_SKEW // _US - _MARGIN_US)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._done = threading.Condition(threading.Lock())
        # The flusher reads from here; records before the spool's first own segment are a
        # previous run's, replayed first.
        self._read_cursor = self._spool.start()
        self._taken = 0  # records of this run the flusher has read
        self._since: float | None = None  # monotonic time unread records were first seen
        # submit() wakes the flusher once the spool holds this many records of this run.
        self._wake_at = 0
        self._urgent = 0  # flush() calls waiting: batches are due at once
        self._refused = 0
        self._rejected: collections.Counter[str] = collections.Counter()
        self._written = 0
        self._duplicates = 0
        self._batches = 0
        self._retries = 0
        self._inflight_received: float | None = None
        self._last_error: str | None = None
        self._closing = False
        self._deadline = float("inf")  # monotonic; set by close()
        self._stop = threading.Event()  # interrupts backoff sleeps once the deadline passed
        self._staged_left = 0  # batches still to send through staging after a conflict
        self._staged_batches = 0
        self._late_batches = 0
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        # The psycopg connection under _conn: after a failure it tells whether the reply
        # deadline expired (BoundedConnection.timed_out).
        self._raw: BoundedConnection | None = None
        self._flusher = threading.Thread(target=self._run, name="telemetry-flusher",
                                         daemon=True)
        self._flusher.start()

    # -- producer side ---------------------------------------------------------------------

    def submit(self, sample: TelemetrySample) -> bool:
        """Spool ``sample`` durably for the database; False if not stored.

        False means rejected (invalid; counted per reason) or refused (spool full or disk
        error; see ``last_error``). True means the sample is in the spool: a crash of the
        process after this loses nothing.
        """
        received = time.time()
        record = self._quick_record(sample, received)
        if record is None:
            record = self._checked_record(sample, received)
            if record is None:
                return False
        if self._closing:
            return self._refuse("submit after close()")
        try:
            appended = self._spool.write(record)
        except SpoolError as exc:
            if not isinstance(exc, SpoolFullError):
                _LOG.error("telemetry spool write failed: %s", exc)
            return self._refuse(str(exc))
        if appended >= self._wake_at:
            with self._lock:
                self._wake.notify()
        return True

    def submit_many(self, samples: Iterable[TelemetrySample]) -> int:
        """Submit several samples, as ``submit`` would each; return how many were stored.

        Cheaper per sample than ``submit``: one spool lock for all of them. When it returns,
        every sample it counts is in the spool; the others were rejected or refused (see
        ``metrics``).
        """
        received = time.time()
        records: list[bytes] = []
        for sample in samples:
            record = self._quick_record(sample, received)
            if record is None:
                record = self._checked_record(sample, received)
            if record is not None:
                records.append(record)
        if not records:
            return 0
        if self._closing:
            for _ in records:
                self._refuse("submit after close()")
            return 0
        written, appended, error = self._spool.write_many(records)
        if error is not None:
            if not isinstance(error, SpoolFullError):
                _LOG.error("telemetry spool write failed: %s", error)
            for _ in records[written:]:
                self._refuse(str(error))
        if written and appended >= self._wake_at:
            with self._lock:
                self._wake.notify()
        return written

    def _quick_record(self, sample: TelemetrySample, received: float) -> bytes | None:
        """Return the record of a common, sound sample; None: let the full checks decide.

        The quick checks (see the module docstring). Any exception, e.g. the TypeError of a
        None among the numbers, sends the sample to the full checks.
        """
        if type(sample) is not TelemetrySample or self._clock is not None:
            return None
        try:
            stamp = sample.time
            latitude = sample.latitude
            longitude = sample.longitude
            battery = sample.battery_pct
            total = (latitude + longitude + sample.altitude_amsl  # type: ignore[operator]
                     + sample.altitude_rel + sample.heading_deg + sample.ground_speed_mps
                     + sample.climb_rate_mps + battery + sample.voltage_v + sample.current_a)
            time_us = (stamp - PG_EPOCH) // _US
            low, high = self._quick_ahead
            # A NaN or an infinity anywhere makes the sum NaN or infinite, and then
            # total - total is NaN, which equals nothing.
            if (total - total == 0.0 and stamp.tzinfo is UTC
                    and -90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0
                    and 0.0 <= battery <= 100.0  # type: ignore[operator]
                    and low < time_us - int(received * 1e6) + _UNIX_TO_PG_US < high):
                # Raises SpoolRecordError on a string it cannot take (NUL, too long).
                return self._encoder.encode(sample, received, time_us)
        except (TypeError, ValueError, ArithmeticError):
            pass
        return None

    def _checked_record(self, sample: object, received: float) -> bytes | None:
        """Return the record of a sample that passed the full checks; count it if rejected."""
        try:
            reason = reject_reason(sample, self._clock() if self._clock else None,
                                   self._max_age)
            if reason is None:
                assert isinstance(sample, TelemetrySample)  # reject_reason checked it
                return self._encoder.encode(sample, received)
        except SpoolRecordError as exc:
            reason = str(exc)
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            reason = f"sample ({exc}) has a field of the wrong type"
        with self._lock:
            self._rejected[reason_kind(reason)] += 1
        return None

    def _refuse(self, error: str) -> bool:
        with self._lock:
            self._refused += 1
            self._last_error = error
        return False

    # -- flusher ---------------------------------------------------------------------------

    def _next_batch(self) -> CopyBatch | None:
        """Wait for the next batch and read it from the spool; None once closing and done."""
        s = self.settings
        spool = self._spool
        with self._lock:
            while True:
                cursor = self._read_cursor
                if cursor.segment < spool.first_own_segment and not spool.at_end(cursor):
                    break  # a previous run's records: replay them at once
                unread = spool.appended - self._taken
                now = time.monotonic()
                if unread > 0:
                    if self._since is None:
                        self._since = now
                    age = now - self._since
                    if (unread >= s.batch_size or age >= s.batch_age_s or self._closing
                            or self._urgent):
                        break
                    self._wake_at = self._taken + s.batch_size
                    if spool.appended < self._wake_at:
                        self._wake.wait(s.batch_age_s - age)
                    continue
                if self._closing:
                    return None
                self._wake_at = self._taken + 1
                # submit() reads _wake_at after its append: re-check after setting it, and
                # either this sees the append or the append's notify finds us waiting.
                if spool.appended < self._wake_at:
                    self._wake.wait(1.0)
            self._wake_at = _NEVER  # busy: no wake-ups needed until the next wait
        batch = spool.read_copy(cursor, s.max_batch_size)
        with self._lock:
            self._read_cursor = batch.end
            self._taken += batch.fresh
            self._inflight_received = batch.first_received
            self._since = time.monotonic() if spool.appended > self._taken else None
        return batch

    def _run(self) -> None:
        try:
            while True:
                batch = self._next_batch()
                if batch is None or time.monotonic() > self._deadline:
                    break
                if batch.count and not self._write_with_retry(batch):
                    break  # close() deadline: the rest stays in the spool
                with self._lock:
                    # In the database: no longer unwritten, before flush() can see the commit.
                    self._inflight_received = None
                self._spool.commit(batch.end)
                with self._done:
                    self._done.notify_all()
        except Exception:
            _LOG.exception("telemetry flusher stopped; unwritten samples stay in the spool")
            with self._lock:
                self._last_error = "flusher crashed (see log)"
        finally:
            self._disconnect()
            with self._done:
                self._done.notify_all()

    def _write_with_retry(self, batch: CopyBatch) -> bool:
        delay = self.settings.retry_initial_s
        while True:
            try:
                inserted = self._write(batch)
            except Exception as exc:
                # Never let the flusher die: the batch is retried (and stays in the spool), and
                # last_error says why. Database errors are expected; anything else is logged
                # with its traceback.
                if not isinstance(exc, SQLAlchemyError | psycopg.Error | OSError):
                    _LOG.exception("unexpected error writing a telemetry batch")
                message = str(getattr(exc, "orig", None) or exc).strip().splitlines()
                raw = self._raw
                if raw is not None and raw.timed_out:
                    # What failed after the abandon (a rollback on the closed connection)
                    # would only say "the connection is closed".
                    message = [raw.timed_out]
                with self._lock:
                    self._retries += 1
                    self._last_error = (f"writing {batch.count} samples to "
                                        f"{safe_url(self._url)}: {message[0] if message else exc}")
                _LOG.warning("%s; retrying in %.1f s", self._last_error, delay)
                self._disconnect()
                if not self._sleep(delay):
                    return False
                delay = min(delay * 2, self.settings.retry_max_s)
                continue
            with self._lock:
                self._written += inserted
                self._duplicates += batch.count - inserted
                self._batches += 1
                # The database is back: a write error is history now (``retries`` keeps
                # count), and diagnostics must stop warning. A refusal stays until the next.
                if self._last_error is not None and self._last_error.startswith("writing "):
                    self._last_error = None
            return True

    def _sleep(self, seconds: float) -> bool:
        """Back off for ``seconds``; False when close()'s deadline comes first."""
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now >= self._deadline or self._stop.is_set():
                return False
            if now >= end:
                return True
            # Short steps, so that a close() during a long backoff is noticed at once.
            self._stop.wait(min(end - now, 0.1))

    def _connect(self) -> Connection:
        if self._conn is not None:
            return self._conn
        if self._engine is None:
            s = self.settings
            timeout_ms = s.statement_timeout_s * 1000
            self._engine = create_engine(
                self._url, poolclass=NullPool,
                connect_args={
                    "connect_timeout": s.connect_timeout_s,
                    # A transaction the client abandoned (reply deadline) ends on the server
                    # too, with its locks, even when the server never hears of the abandon.
                    "options": f"-c statement_timeout={timeout_ms} "
                               f"-c idle_in_transaction_session_timeout={timeout_ms} "
                               "-c timezone=UTC",
                    "application_name": "fleet-telemetry-writer",
                    # A silently dead peer must fail the batch, not hang it for TCP's minutes.
                    **keepalive_args(s.connect_timeout_s),
                })
            bound_round_trips(self._engine, s.reply_timeout_s)
        conn = self._engine.connect()
        raw = conn.connection.driver_connection
        self._raw = raw if isinstance(raw, BoundedConnection) else None
        try:
            conn.execute(text(_CREATE_STAGING))
            conn.commit()
        except BaseException:
            conn.invalidate()
            conn.close()
            raise
        self._conn = conn
        return conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        self._raw = None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except (SQLAlchemyError, psycopg.Error, OSError):
                _LOG.debug("closing a broken connection failed", exc_info=True)

    def _write(self, batch: CopyBatch) -> int:
        """Store one batch in one transaction; return the rows actually inserted.

        Optimistic: the batch is COPYed straight into ``telemetry`` (the fastest path); if a
        row is already there (a replay, a second recorder) that transaction is rolled back and
        the batch goes through the staging table and ON CONFLICT DO NOTHING in another one.
        (No savepoint: its round trip per batch costs more than the rare second transaction.)

        Late samples mark their rollup minutes in the same transaction (module docstring).
        """
        conn = self._connect()
        data = b"".join((_COPY_SIGNATURE, batch.data, _COPY_TRAILER))
        first = PG_EPOCH + timedelta(microseconds=batch.min_time_us)
        last = PG_EPOCH + timedelta(microseconds=batch.max_time_us)
        late_before = (self._clock() if self._clock else datetime.now(UTC)) - self._late_after
        late = first < late_before
        coarse = late and last < late_before and last - first <= _COARSE_MARK_SPAN
        raw: Any = conn.connection.driver_connection
        if self._staged_left <= 0 and (coarse or not late):
            try:
                # An explicit begin: the raw COPY runs on the same DBAPI connection, and
                # without it SQLAlchemy would see no transaction to commit when
                # ensure_partitions ran no query.
                with conn.begin():
                    ensure_partitions(conn, first, last)
                    with raw.cursor() as cur, cur.copy(_COPY_DIRECT) as copy:
                        copy.write(data)
                    if late:
                        mark_dirty(conn, first, last)
            except psycopg.errors.UniqueViolation:
                self._staged_left = _STAGED_AFTER_CONFLICT
            else:
                if late:
                    with self._lock:
                        self._late_batches += 1
                return batch.count
        self._staged_left = max(0, self._staged_left - 1)
        with conn.begin():
            ensure_partitions(conn, first, last)
            with raw.cursor() as cur, cur.copy(_COPY_STAGING) as copy:
                copy.write(data)
            if late:
                inserted = int(conn.execute(text(_MOVE_AND_MARK),
                                            {"late_before": late_before}).scalar_one())
            else:
                with raw.cursor() as cur:
                    cur.execute(_MOVE)
                    inserted = int(cur.rowcount)
        with self._lock:
            self._staged_batches += 1
            self._late_batches += int(late)
        return inserted

    # -- control and diagnostics -----------------------------------------------------------

    def mark(self) -> SpoolCursor:
        """Return a mark after every sample accepted so far (see :meth:`written`)."""
        return self._spool.end()

    def written(self, mark: SpoolCursor) -> bool:
        """Tell whether every sample accepted before ``mark`` is in the database.

        For work that must see stored rows without blocking, e.g. computing a flight's
        metrics once its last sample is written.
        """
        return self._spool.start() >= mark

    def flush(self, timeout: float) -> bool:
        """Wait until every sample accepted so far is in the database; False on timeout."""
        target = self._spool.end()
        deadline = time.monotonic() + timeout
        with self._lock:
            self._urgent += 1  # while someone waits, a batch is due without its age
            self._wake.notify()
        try:
            with self._done:
                while self._spool.start() < target:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._flusher.is_alive():
                        return False
                    with self._lock:
                        self._wake.notify()
                    self._done.wait(min(remaining, 0.05))
        finally:
            with self._lock:
                self._urgent -= 1
        return True

    def metrics(self) -> WriterMetrics:
        """Return a snapshot of the counters."""
        spool = self._spool
        stats = spool.stats()
        pending = spool.pending_bytes()
        replaying = spool.start().segment < spool.first_own_segment
        with self._lock:
            accepted = spool.appended
            unread = accepted - self._taken
            rejected = dict(self._rejected)
            oldest: float | None = None
            if self._inflight_received is not None:
                oldest = max(0.0, time.time() - self._inflight_received)
            elif unread and self._since is not None:
                oldest = time.monotonic() - self._since
            return WriterMetrics(
                received=accepted + self._refused + sum(rejected.values()), accepted=accepted,
                rejected=rejected, refused=self._refused, written=self._written,
                duplicates_skipped=self._duplicates, batches=self._batches,
                staged_batches=self._staged_batches, late_batches=self._late_batches,
                retries=self._retries,
                queue_depth=unread,
                backlog=replaying or unread > self.settings.queue_capacity,
                spool_bytes=stats.bytes, spool_segments=stats.segments,
                spool_pending_bytes=pending, oldest_unwritten_age_s=oldest,
                last_error=self._last_error, connected=self._conn is not None)

    def close(self, timeout: float = 5.0) -> bool:
        """Write what can be written within ``timeout``; leave the rest in the spool.

        Returns True when everything accepted reached the database.
        """
        with self._lock:
            if self._closing and not self._flusher.is_alive():
                return self._spool_empty()
            self._closing = True
            self._deadline = time.monotonic() + timeout
            self._wake.notify_all()
        self._flusher.join(timeout + 0.5)
        if self._flusher.is_alive():
            # Stuck inside a database call: stop waiting for it, the spool keeps the batch.
            self._stop.set()
            conn = self._conn
            if conn is not None:
                with contextlib.suppress(psycopg.Error, OSError, AttributeError):
                    conn.connection.driver_connection.cancel()  # type: ignore[union-attr]
            self._flusher.join(5.0)
        self._stop.set()
        done = self._spool_empty()
        self._spool.close()
        if self._engine is not None:
            self._engine.dispose()
        return done

    def _spool_empty(self) -> bool:
        return self._spool.pending_bytes() == 0

    def __enter__(self) -> TelemetryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
