"""A recorder's storage, opened in one place and closed in one place.

The telemetry recorder stores two streams: samples through the TelemetryWriter (durable spool
first, then COPY) and everything else through the EventStore (row journal first, then one
idempotent write per record). Flights close in the FlightDetector and are measured in SQL once
their last samples are in the database. :class:`Recording` owns all of it: the engine, the
writer's and the store's threads and files. Its constructor opens them (closing whatever it
opened if a later step fails), :meth:`close` closes them; nothing here knows ROS.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from fleet_db.db import DatabaseUnavailableError, InvalidArgumentError, make_engine, redact_url
from fleet_db.event_store import EventStore, StoreLogger
from fleet_db.flights import FlightDetector, FlightWindow
from fleet_db.ingest import TelemetryWriter, WriterSettings
from fleet_db.samples import TelemetrySample
from fleet_db.spool import SpoolCursor
from fleet_db.writes import Record

CLOSE_TIMEOUT_S = 5.0
"""How long closing waits for each of the writer and the store to write what they hold."""


@dataclass(frozen=True, slots=True)
class RecordingSettings:
    """Where and how a recorder stores."""

    database_url: str | None  # None: $FLEET_DATABASE_URL or the local fleet database
    spool_dir: Path  # the telemetry spool; the row journal is its sibling "<name>-rows"
    batch_size: int = 2000
    batch_age_s: float = 0.2
    flight_idle_gap_s: float = 30.0
    retain_days: int = 30
    maintenance_period_s: float = 60.0
    connect_timeout_s: int = 5  # opening a database connection
    reply_timeout_s: float = 15.0  # the writer abandons a connection silent this long
    # Diagnostics warn once the oldest sample not yet in the database is this old, whatever
    # the connection seems to be doing: a stalled writer shows even when nothing failed.
    unwritten_warn_s: float = 10.0

    def __post_init__(self) -> None:
        for name, value, low, high in (
                ("connect_timeout_s", self.connect_timeout_s, 2, 600),  # libpq's minimum
                ("reply_timeout_s", self.reply_timeout_s, 0.1, 3600.0),
                ("unwritten_warn_s", self.unwritten_warn_s, 0.1, 86400.0)):
            if not low <= value <= high:
                raise InvalidArgumentError(f"{name} {value} is outside {low}..{high}")

    @property
    def journal_dir(self) -> Path:
        """The row journal's directory, beside the spool (one recorder owns both)."""
        return self.spool_dir.with_name(f"{self.spool_dir.name}-rows")


class Health(Enum):
    """How a recorder is doing, worst last."""

    RECORDING = "recording"
    SPOOLING = "spooling"  # the database is away: rows wait in the spool and the journal
    STALLED = "stalled"  # no error, yet the oldest unwritten sample is older than the limit
    JOURNAL_FAILING = "journal_failing"  # rows may be lost: an operator must see


@dataclass(frozen=True, slots=True)
class RecordingStatus:
    """A snapshot for diagnostics: health, a one-line message and every counter."""

    health: Health
    message: str
    values: dict[str, Any]


class Recording:
    """Engine, telemetry writer, event store and flight detector of one recorder."""

    def __init__(self, settings: RecordingSettings, logger: StoreLogger) -> None:
        with contextlib.ExitStack() as opened:
            connect = settings.connect_timeout_s
            try:
                engine = make_engine(settings.database_url, connect_timeout_s=connect)
            except DatabaseUnavailableError as exc:
                # Zero loss starts at start-up: record into the spool and the journal, and let
                # the writer and the store catch up once the database is back.
                logger.warning(f"{exc}; recording into the spool until it is back")
                engine = make_engine(settings.database_url, connect_timeout_s=connect,
                                     check=False)
            opened.callback(engine.dispose)
            writer = TelemetryWriter(engine, settings.spool_dir, WriterSettings(
                batch_size=settings.batch_size, batch_age_s=settings.batch_age_s,
                connect_timeout_s=connect, reply_timeout_s=settings.reply_timeout_s))
            opened.callback(writer.close, timeout=CLOSE_TIMEOUT_S)
            store = EventStore(engine, retain_days=settings.retain_days,
                               maintenance_period_s=settings.maintenance_period_s,
                               logger=logger, journal_dir=settings.journal_dir)
            opened.pop_all()
        self.engine = engine
        self.writer = writer
        self.store = store
        self.flights = FlightDetector(idle_gap_s=settings.flight_idle_gap_s)
        self._unwritten_warn_s = settings.unwritten_warn_s
        self._log = logger
        self._health = Health.RECORDING  # as last logged
        # A closed flight is measured once its last samples are in the database.
        self._closed_flights: list[tuple[FlightWindow, SpoolCursor]] = []
        self._closed = False
        logger.info(f"recording into {redact_url(engine.url)}; spool {settings.spool_dir}")

    def submit(self, sample: TelemetrySample) -> None:
        """Store a sample (durable once this returns) and follow its vehicle's flight."""
        self.writer.submit(sample)
        for flight in self.flights.feed(sample):
            self._closed_flights.append((flight, self.writer.mark()))

    def put(self, record: Record) -> None:
        """Store a record (journaled once this returns)."""
        self.store.put(record)

    def tick(self, now: datetime) -> None:
        """Close idle flights; queue the flights whose samples are all written for measuring;
        log a change of health (the diagnostics say it every second, the log once)."""
        status = self.status()
        if status.health is not self._health:
            self._health = status.health
            if status.health is Health.RECORDING:
                self._log.info("recording: the database takes rows again")
            else:
                self._log.warning(f"recorder {status.health.value}: {status.message}")
        for flight in self.flights.check_idle(now):
            self._closed_flights.append((flight, self.writer.mark()))
        waiting = []
        for flight, mark in self._closed_flights:
            if self.writer.written(mark):
                self.store.compute_flight(flight)
            else:
                waiting.append((flight, mark))
        self._closed_flights = waiting

    def status(self) -> RecordingStatus:
        """Return health, message and the writer's and store's counters."""
        m = self.writer.metrics()
        s = self.store.metrics()
        values = {**{f"writer.{k}": v for k, v in m.as_dict().items()},
                  **{f"store.{k}": v for k, v in s.items()}}
        if s.get("journal_error") or s.get("unjournaled"):
            # Rows that could not be journaled (disk failure) or were dropped from a full
            # queue of a journal-less store are the only ways an event can be lost.
            return RecordingStatus(
                Health.JOURNAL_FAILING,
                f"event journal failing ({s.get('journal_error') or 'append failed'}); "
                f"{s.get('unjournaled', 0)} rows not journaled", values)
        age = m.oldest_unwritten_age_s
        late = (f"; the oldest unwritten sample is {age:.1f} s old"
                if age is not None and age > self._unwritten_warn_s else "")
        if m.last_error:
            return RecordingStatus(Health.SPOOLING,
                                   f"database: {m.last_error}{late} (spooling)", values)
        if late:
            # Nothing failed, yet the samples wait: a hung connection, a database that accepts
            # and never answers (the writer abandons it after reply_timeout_s), or a backlog
            # (a previous run's spool) still being written. An operator sees it from here on.
            what = "catching up a backlog" if m.backlog else "writer stalled"
            return RecordingStatus(
                Health.STALLED, f"{what}{late} (limit {self._unwritten_warn_s:g} s)", values)
        return RecordingStatus(Health.RECORDING, "recording", values)

    def close(self) -> None:
        """Flush what can be written; the rest stays in the spool and the journal (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.writer.close(timeout=CLOSE_TIMEOUT_S)
        self.store.close(timeout_s=CLOSE_TIMEOUT_S)
        self.engine.dispose()
