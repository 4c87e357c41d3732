"""The recorder's database worker: events, missions, vehicles, flights and housekeeping.

Telemetry has its own path (fleet_db.ingest.TelemetryWriter, spooled to disk). Everything
else the recorder stores is low-rate: it goes through one bounded queue to one worker thread,
which writes each record idempotently (:mod:`fleet_db.writes`: a re-delivered event, or a
second recorder, changes nothing) and retries with a capped backoff while the database is
away. With a journal directory, each record is first appended to the row journal
(:mod:`fleet_db.journal`; in the kernel's page cache once ``put`` returns, so a crash of the
process loses nothing; on disk after the journal's next group ``fdatasync``, within about
10 ms, so a power cut loses none of the rows counted ``journaled``) and replayed in order at
the next start until the database has it. Closed flights are not journaled: they can be found
again from the stored telemetry (``fleet_db.flights.detect_flights``).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from fleet_db.flights import FlightWindow, compute_flight_metrics
from fleet_db.journal import Journal, Row
from fleet_db.partitions import drop_expired_partitions, ensure_partitions_ahead
from fleet_db.rollups import rollup_dirty, update_rollups
from fleet_db.writes import Record, from_row, to_row, write_record


class StoreLogger(Protocol):
    """What the store logs with: an rclpy logger, or anything with these methods."""

    def warning(self, message: str, *, throttle_duration_sec: float = ...) -> Any: ...
    def info(self, message: str) -> Any: ...



# Rows replayed from the journal are read into records when their turn comes: one the
# journal cannot give back is refused then, like a row the database refuses.
_Job = Record | Row | FlightWindow


class EventStore:
    """One worker thread writing rows, closed flights and housekeeping to the database."""

    def __init__(self, engine: Engine, *, retain_days: int, maintenance_period_s: float,
                 logger: StoreLogger, max_queued: int = 100_000,
                 journal_dir: Path | None = None) -> None:
        self._engine = engine
        self._retain_days = retain_days
        self._period = maintenance_period_s
        self._log = logger
        # Each job carries the journal offset just after it (None: not journaled).
        self._jobs: deque[tuple[_Job, int | None]] = deque()
        self._journal = Journal(journal_dir) if journal_dir is not None else None
        if self._journal is not None:
            self._jobs.extend(self._journal.pending())
            if self._jobs:
                logger.info(f"replaying {len(self._jobs)} journaled rows")
        self._max = max_queued
        self._cv = threading.Condition()
        self._stop = False
        self._counts = {"written": 0, "dropped": 0, "failed": 0, "retries": 0, "flights": 0,
                        "maintenance_runs": 0, "late_rollup_rows": 0, "unjournaled": 0}
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name="recorder-store", daemon=True)
        self._thread.start()

    def put(self, job: Record | FlightWindow) -> None:
        """Queue a record (never blocks; the oldest is dropped and counted when full)."""
        with self._cv:
            offset = None
            if self._journal is not None and not isinstance(job, FlightWindow):
                try:
                    offset = self._journal.append(to_row(job))
                except OSError as exc:  # closed (shutting down) or the disk failed
                    self._counts["unjournaled"] += 1
                    self._log.warning(f"row not journaled: {exc}", throttle_duration_sec=5.0)
            if len(self._jobs) >= self._max:
                self._jobs.popleft()  # still in the journal: replayed at the next start
                self._counts["dropped"] += 1
            self._jobs.append((job, offset))
            self._cv.notify()

    def compute_flight(self, flight: FlightWindow) -> None:
        """Queue a closed flight for its metrics."""
        self.put(flight)

    def metrics(self) -> dict[str, Any]:
        """Return counters for diagnostics (``journaled``: rows synced to the journal)."""
        with self._cv:
            journal = self._journal.stats() if self._journal is not None else {}
            return {**self._counts, **journal, "queued": len(self._jobs),
                    "last_error": self.last_error}

    def wait_journaled(self, timeout_s: float) -> bool:
        """Wait until every row put so far is synced to the journal; False on timeout."""
        if self._journal is None:
            return False
        return self._journal.wait_durable(self._journal.end, timeout_s)

    def close(self, timeout_s: float) -> None:
        """Write what is queued within ``timeout_s``, then stop the worker."""
        deadline = time.monotonic() + timeout_s
        with self._cv:
            while self._jobs and time.monotonic() < deadline and not self.last_error:
                self._cv.wait(0.05)
            self._stop = True
            self._cv.notify()
        self._thread.join(max(0.1, deadline - time.monotonic()))
        if self._journal is not None:
            # Rows still queued stay in the journal for the next run: make them durable.
            self._journal.wait_durable(self._journal.end, max(0.5, deadline - time.monotonic()))
            if not self._thread.is_alive():
                self._journal.close()

    # ------------------------------------------------------------------ worker
    def _run(self) -> None:
        backoff = 0.2
        next_maintenance = time.monotonic()
        while True:
            with self._cv:
                while not self._jobs and not self._stop and time.monotonic() < next_maintenance:
                    self._cv.wait(max(0.0, min(1.0, next_maintenance - time.monotonic())))
                if self._stop:
                    return
                # Housekeeping is due even while rows keep coming.
                entry = None if time.monotonic() >= next_maintenance or not self._jobs \
                    else self._jobs[0]
            try:
                if entry is None:
                    self._with_connection(self._maintenance)
                    next_maintenance = time.monotonic() + self._period
                else:
                    self._with_connection(functools.partial(self._apply, job=entry[0]))
                    self._done(entry)
                self.last_error = ""
                backoff = 0.2
            except DBAPIError as exc:
                if exc.connection_invalidated or _is_transient(exc):
                    self._counts["retries"] += 1
                    self.last_error = _first_line(exc)
                    self._log.warning(f"database unavailable, retrying in {backoff:.1f} s: "
                                      f"{self.last_error}", throttle_duration_sec=10.0)
                    with self._cv:
                        self._cv.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                self._refused(entry, _first_line(exc))
                if entry is None:
                    next_maintenance = time.monotonic() + self._period
            except (ValueError, KeyError, TypeError) as exc:  # a malformed row, not the DB
                self._refused(entry, f"{type(exc).__name__}: {exc}")

    def _done(self, entry: tuple[_Job, int | None]) -> None:
        with self._cv:
            if self._jobs and self._jobs[0] is entry:
                self._jobs.popleft()
            self._cv.notify_all()
        if entry[1] is not None and self._journal is not None:
            self._journal.commit(entry[1])

    def _refused(self, entry: tuple[_Job, int | None] | None, why: str) -> None:
        # A row the database refuses will be refused again: log it and move on.
        self._counts["failed"] += 1
        self._log.warning(f"row refused: {why}", throttle_duration_sec=5.0)
        if entry is not None:
            self._done(entry)

    def _with_connection(self, work: Callable[[Connection], None]) -> None:
        with self._engine.begin() as conn:
            work(conn)

    def _apply(self, conn: Connection, job: _Job) -> None:
        if isinstance(job, FlightWindow):
            compute_flight_metrics(conn, job.vehicle_id, job.started_at, job.ended_at)
            self._counts["flights"] += 1
            return
        write_record(conn, from_row(job) if isinstance(job, Row) else job)
        self._counts["written"] += 1

    def _maintenance(self, conn: Connection) -> None:
        now = datetime.now(UTC)
        ensure_partitions_ahead(conn, now)
        dropped = drop_expired_partitions(conn, now, retain_days=self._retain_days)
        if dropped:
            self._log.info(f"retention: dropped {', '.join(dropped)}")
        update_rollups(conn, now)
        # Minutes that received rows after the line above had passed them (replays, imports).
        self._counts["late_rollup_rows"] += rollup_dirty(conn)
        self._counts["maintenance_runs"] += 1


def _is_transient(exc: DBAPIError) -> bool:
    # psycopg OperationalError: connection refused, server closed, admin shutdown...
    return type(exc.orig).__name__ in ("OperationalError", "InterfaceError") or \
        getattr(exc.orig, "sqlstate", "") in ("57P01", "57P02", "57P03", "08000", "08003",
                                              "08006", "08001", "08004", "40001", "40P01")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
