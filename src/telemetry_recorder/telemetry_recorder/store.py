"""The recorder's database worker: events, missions, vehicles, flights and housekeeping.

Telemetry has its own path (fleet_db.ingest.TelemetryWriter, spooled to disk). Everything
else the recorder stores is low-rate: it goes through one bounded queue to one worker thread,
which writes each row idempotently (a re-delivered event, or a second recorder, changes
nothing) and retries with a capped backoff while the database is away. With a journal
directory, each row is first appended to a journal file (one JSON line; in the kernel's page
cache once ``put`` returns, so a crash of the process loses nothing; on disk after the
journal's next group ``fdatasync``, within about 10 ms, so a power cut loses none of the rows
counted ``journaled``) and replayed in order at the next start until the database has it.
Closed flights are not journaled: they can be found again from the stored telemetry
(``fleet_db.flights.detect_flights``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from fleet_db.flights import FlightWindow, compute_flight_metrics
from fleet_db.partitions import drop_expired_partitions, ensure_partitions_ahead
from fleet_db.rollups import rollup_dirty, update_rollups


class _Logger(Protocol):
    def warning(self, message: str, *, throttle_duration_sec: float = ...) -> Any: ...
    def info(self, message: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Row:
    """One thing to store: ``kind`` selects the statement, ``values`` its parameters."""

    kind: str
    values: dict[str, Any]


_ENSURE_VEHICLE = text(
    "insert into vehicles (id, serial, model, status) values (:vid, :vid, 'unknown', 'offline') "
    "on conflict (id) do nothing")

_STATEMENTS: dict[str, list[Any]] = {
    # The registry follows fleet_manager's: model, home, and the home site when that site is
    # registered (sites carry a location and time zone nobody in the graph knows).
    "vehicle": [text(
        "insert into vehicles (id, serial, model, status, last_seen_at, home, site_id) "
        "values (:id, :id, coalesce(cast(:model as text), 'unknown'), :status, :last_seen_at, "
        "case when cast(:home_lat as double precision) is not null then "
        "ST_SetSRID(ST_MakePoint(:home_lon, :home_lat), 4326) end, "
        "(select id from sites where id = cast(:site as text))) "
        "on conflict (id) do update set status = excluded.status, "
        "model = case when cast(:model as text) is null then vehicles.model "
        "else excluded.model end, "
        "home = coalesce(excluded.home, vehicles.home), "
        "site_id = coalesce(excluded.site_id, vehicles.site_id), "
        "last_seen_at = greatest(vehicles.last_seen_at, excluded.last_seen_at)")],
    "site": [text(
        "insert into sites (id, name, location, time_zone) values (:id, :name, "
        "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :time_zone) on conflict (id) do update "
        "set name = excluded.name, location = excluded.location, "
        "time_zone = excluded.time_zone")],
    "registry": [text(
        "insert into vehicles (id, serial, model, capabilities, site_id) values (:id, :id, "
        ":model, cast(:capabilities as jsonb), (select id from sites where id = "
        "cast(:site as text))) on conflict (id) do update set model = excluded.model, "
        "capabilities = excluded.capabilities, "
        "site_id = coalesce(excluded.site_id, vehicles.site_id)")],
    # The zones fleet_manager has in force. A zone dropped from the set ends now (its row
    # stays, so history such as "missions that crossed an active zone" keeps it).
    "no_fly_zones": [
        text("update no_fly_zones set active_until = :now where (active_until is null or "
             "active_until > :now) and (active_from is null or active_from < :now) "
             "and not (id = any(cast(:ids as text[])))"),
        text("delete from no_fly_zones where active_from >= :now "
             "and not (id = any(cast(:ids as text[])))"),
    ],
    "no_fly_zone": [text(
        "insert into no_fly_zones (id, name, geom, floor_m, ceiling_m, active_from, "
        "active_until, authority) values (:id, :name, ST_SetSRID(ST_GeomFromGeoJSON("
        ":geojson), 4326), :floor_m, :ceiling_m, :active_from, :active_until, 'fleet_manager') "
        "on conflict (id) do update set name = excluded.name, geom = excluded.geom, "
        "floor_m = excluded.floor_m, ceiling_m = excluded.ceiling_m, "
        "active_from = excluded.active_from, active_until = excluded.active_until, "
        "authority = excluded.authority")],
    "coordination_event": [text(
        "insert into coordination_events (key, time, type, severity, vehicle_id, "
        "other_vehicle_id, zone_id, opened_at, closed_at, message, details) "
        "values (:key, :time, :type, :severity, :vehicle_id, :other_vehicle_id, :zone_id, "
        ":opened_at, :closed_at, :message, cast(:details as jsonb)) "
        "on conflict (key) do update set time = greatest(coordination_events.time, "
        "excluded.time), severity = excluded.severity, "
        "closed_at = coalesce(coordination_events.closed_at, excluded.closed_at), "
        "message = coalesce(excluded.message, coordination_events.message), "
        "details = coordination_events.details || excluded.details")],
    "mission": [
        text("insert into vehicles (id, serial, model, status) select :vehicle_id, "
             ":vehicle_id, 'unknown', 'offline' where cast(:vehicle_id as text) is not null "
             "on conflict (id) do nothing"),
        # The parts of a split survey point at it; its row may not be stored yet.
        text("insert into missions (id, type, status) select :parent_id, :type, 'queued' "
             "where cast(:parent_id as text) is not null on conflict (id) do nothing"),
        # A mission belongs to the site of the vehicle that flies it.
        text("insert into missions (id, parent_id, type, status, priority, vehicle_id, "
             "site_id, created_by, estimated_distance_m, started_at, ended_at) values (:id, "
             ":parent_id, :type, :status, :priority, :vehicle_id, (select site_id from "
             "vehicles where id = cast(:vehicle_id as text)), :created_by, "
             ":estimated_distance_m, case when :status = 'active' then :updated end, "
             "case when :status in ('completed', 'aborted', 'failed') then :updated end) "
             "on conflict (id) do update set parent_id = coalesce(missions.parent_id, "
             "excluded.parent_id), site_id = coalesce(missions.site_id, excluded.site_id), "
             "created_by = coalesce(missions.created_by, excluded.created_by), "
             "status = case when missions.status in "
             "('completed', 'aborted', 'failed') then missions.status else excluded.status "
             "end, priority = excluded.priority, vehicle_id = coalesce(excluded.vehicle_id, "
             "missions.vehicle_id), estimated_distance_m = coalesce("
             "excluded.estimated_distance_m, missions.estimated_distance_m), "
             "started_at = coalesce(missions.started_at, excluded.started_at), "
             "ended_at = coalesce(missions.ended_at, excluded.ended_at)"),
    ],
    "mission_event": [
        text("insert into missions (id, type, status) values (:mission_id, "
             "coalesce(cast(:type as text), 'survey'), :to_state) on conflict (id) do nothing"),
        text("insert into mission_events (mission_id, time, from_state, to_state, reason, "
             "actor, details) values (:mission_id, :time, :from_state, :to_state, :reason, "
             ":actor, cast(:details as jsonb)) "
             "on conflict (mission_id, time, to_state) do nothing"),
        # A "planned" event carries the path and estimates the vehicle is about to fly.
        text("update missions set "
             "planned_path = coalesce(ST_SetSRID(ST_GeomFromGeoJSON(cast(:path as text)), "
             "4326), planned_path), "
             "area = coalesce(ST_SetSRID(ST_GeomFromGeoJSON(cast(:area as text)), 4326), area), "
             "estimated_distance_m = coalesce(:est_distance, estimated_distance_m), "
             "estimated_duration_s = coalesce(:est_duration, estimated_duration_s), "
             "estimated_energy_wh = coalesce(:est_energy, estimated_energy_wh) "
             "where id = :mission_id and cast(:path as text) is not null"),
        # A plan for a vehicle, or waypoints replaced by an operator: the new waypoints
        # become the current ones and the old rows stay, superseded, with who, when and why.
        # Keyed by the event's time, so a replay or a second recorder changes nothing; the
        # lock makes two recorders take turns instead of racing for the current rows.
        text("select pg_advisory_xact_lock(hashtext(cast(:mission_id as text))) "
             "where cast(:waypoints as text) is not null"),
        text("update mission_waypoints set superseded = true where mission_id = :mission_id "
             "and not superseded and cast(:waypoints as text) is not null and not exists ("
             "select 1 from mission_waypoints where mission_id = :mission_id "
             "and modified_at = :time)"),
        text("insert into mission_waypoints (mission_id, seq, position, altitude_m, kind, "
             "hold_s, modified_by, modified_at, modification_reason) "
             "select :mission_id, w.n - 1, ST_SetSRID(ST_MakePoint((w.v->>0)::float8, "
             "(w.v->>1)::float8), 4326), (w.v->>2)::float8, w.v->>3, (w.v->>4)::float8, "
             ":actor, :time, :reason "
             "from jsonb_array_elements(cast(:waypoints as jsonb)) with ordinality as w(v, n) "
             "where not exists (select 1 from mission_waypoints where mission_id = :mission_id "
             "and modified_at = :time)"),
    ],
    "charging_session": [
        _ENSURE_VEHICLE,
        text("insert into charging_stations (id, location, pads, charge_rate_w) values "
             "(:station_id, ST_SetSRID(ST_MakePoint(:station_lon, :station_lat), 4326), "
             ":station_pads, :station_rate_w) on conflict (id) do nothing"),
        text("insert into charging_sessions (station_id, pad, vehicle_id, requested_at, "
             "started_at, ended_at, queue_wait_s, start_pct, end_pct, energy_wh) values "
             "(:station_id, :pad, :vehicle_id, :requested_at, :started_at, :ended_at, "
             ":queue_wait_s, :start_pct, :end_pct, :energy_wh) "
             # Published when charging starts and again when it ends: the end completes the
             # row, and a late or replayed start never undoes it.
             "on conflict (vehicle_id, requested_at) do update set "
             "ended_at = coalesce(charging_sessions.ended_at, excluded.ended_at), "
             "end_pct = case when charging_sessions.ended_at is null then excluded.end_pct "
             "else charging_sessions.end_pct end, "
             "energy_wh = case when charging_sessions.ended_at is null then excluded.energy_wh "
             "else charging_sessions.energy_wh end"),
    ],
}


def _parameters(row: Row) -> dict[str, Any]:
    values = dict(row.values)
    details = values.get("details")
    if row.kind == "mission_event":
        d: dict[str, Any] = details if isinstance(details, dict) else {}
        values.setdefault("type", d.get("type"))
        raw_plan = d.get("plan")
        plan: dict[str, Any] = raw_plan if isinstance(raw_plan, dict) else {}
        path = plan.get("path") if len(plan.get("path") or ()) >= 2 else None
        values["path"] = json.dumps({"type": "LineString", "coordinates": path}) if path \
            else None
        values["area"] = json.dumps(d["area"]) if isinstance(d.get("area"), dict) else None
        values["est_distance"] = plan.get("distance_m")
        values["est_duration"] = plan.get("duration_s")
        values["est_energy"] = plan.get("energy_wh")
        raw_waypoints = d.get("waypoints")
        values["waypoints"] = json.dumps(raw_waypoints) if raw_waypoints else None
        if path is not None or values["waypoints"] is not None:
            values["details"] = {k: v for k, v in d.items()
                                 if k not in ("plan", "area", "waypoints")}
            details = values["details"]
    if details is not None:
        values["details"] = json.dumps(details, default=str)
    if row.kind == "registry":
        values["capabilities"] = json.dumps(values["capabilities"])
    if row.kind == "vehicle":  # rows journaled by an older recorder lack these
        for key in ("model", "site", "home_lat", "home_lon"):
            values.setdefault(key, None)
    if "vehicle_id" in values and row.kind == "charging_session":
        values["vid"] = values["vehicle_id"]
    return values


# The first line of a compacted journal: {"journal_base":<logical offset of the next line>}
_HEADER_START = b'{"journal_base":'
# Compaction copies at most this much uncommitted tail while appends wait for the lock.
_COMPACT_TAIL_MAX = 256 * 1024


def _encode(row: Row) -> bytes:
    def default(value: object) -> object:
        if isinstance(value, datetime):
            return {"$dt": value.isoformat()}
        raise TypeError(f"cannot journal a {type(value).__name__}")
    return json.dumps({"kind": row.kind, "values": row.values}, default=default,
                      separators=(",", ":")).encode() + b"\n"


def _decode(line: bytes) -> Row:
    def hook(obj: dict[str, Any]) -> Any:
        return datetime.fromisoformat(obj["$dt"]) if set(obj) == {"$dt"} else obj
    data = json.loads(line, object_hook=hook)
    return Row(str(data["kind"]), dict(data["values"]))


class Journal:
    """An append-only file of the rows not yet in the database, and how far it has them.

    ``append`` writes a row's line and returns at once (the line is in the kernel's page cache:
    a crash of the process loses nothing); one thread makes appends durable with
    ``fdatasync``, grouped: when lines wait, at most one sync per ``sync_interval_s``, and at
    once while someone waits in ``wait_durable``. A row counts as journaled only once a sync
    that began after its append has returned.

    Offsets are logical: they keep growing when the file is compacted, so the committed mark
    (``rows.committed``, how far the database has the rows) never has to change together with
    the file. A compacted file begins with a header line giving the logical offset of its
    first row. Compaction writes the uncommitted tail to a new file, syncs it, renames it over
    the journal and syncs the directory: a crash at any point leaves either the old file or the
    new one, and the mark is valid for both. The mark itself is not synced: a stale mark only
    replays rows already stored, and every write of a row is idempotent.
    """

    def __init__(self, directory: Path, *, sync: Callable[[int], None] = os.fdatasync,
                 sync_interval_s: float = 0.01, compact_bytes: int = 1 << 20) -> None:
        if not 0.0 <= sync_interval_s <= 1.0:
            raise ValueError(f"sync_interval_s {sync_interval_s} is outside 0..1")
        directory.mkdir(parents=True, exist_ok=True)
        self._dir = directory
        self._path = directory / "rows.jsonl"
        self._tmp = directory / "rows.jsonl.tmp"
        self._mark = directory / "rows.committed"
        self._sync = sync
        self._interval = sync_interval_s
        self._compact_bytes = compact_bytes
        self._cv = threading.Condition()
        # Left by a compaction that crashed before its rename: never the journal itself.
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()
        created = not self._path.exists()
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        # What a previous process appended may still be only in the page cache.
        self._sync(self._fd)
        if created:
            self._sync_dir()
        self._base, self._header = self._read_header()
        self._size = self._base + os.fstat(self._fd).st_size - self._header
        try:
            committed = int(self._mark.read_text().strip() or 0)
        except (OSError, ValueError):
            committed = 0  # replaying too much only repeats idempotent writes
        self._committed = min(max(committed, self._base), self._size)
        self._durable = self._size
        self._appended_rows = self._durable_rows = self._syncs = 0
        self._syncing = False
        self._waiters = 0
        self._closing = False
        self.error: str | None = None  # set when a sync failed: nothing is durable after it
        self._thread = threading.Thread(target=self._sync_loop, name="journal-sync",
                                        daemon=True)
        self._thread.start()

    def _read_header(self) -> tuple[int, int]:
        """Return the logical offset of the file's first row and the header's length."""
        head = os.pread(self._fd, 64, 0)
        end = head.find(b"\n")
        if head.startswith(_HEADER_START) and end > 0:
            try:
                return int(head[len(_HEADER_START):end].rstrip(b"}")), end + 1
            except ValueError:
                pass
        return 0, 0

    def _sync_dir(self) -> None:
        fd = os.open(self._dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            self._sync(fd)
        finally:
            os.close(fd)

    def pending(self) -> list[tuple[Row, int]]:
        """Return the rows after the committed mark, each with its end offset."""
        with self._cv:
            start = self._committed
            data = os.pread(self._fd, self._size - start, start - self._base + self._header)
        out: list[tuple[Row, int]] = []
        offset = start
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # torn by a crash in the middle of a write: never acknowledged
            offset += len(line)
            try:
                out.append((_decode(line), offset))
            except (ValueError, KeyError, TypeError):
                continue  # unreadable line: skipped, the rest is still replayed
        return out

    def append(self, row: Row) -> int:
        """Append a row; return the offset just after it (see ``wait_durable``).

        Raises OSError when the journal is closed, the disk refused the line, or an earlier
        sync failed.
        """
        line = _encode(row)
        with self._cv:
            if self._fd < 0 or self._closing:
                raise OSError(errno.EBADF, f"journal {self._path} is closed")
            if self.error is not None:
                raise OSError(errno.EIO, f"journal {self._path}: {self.error}")
            written = os.write(self._fd, line)
            if written != len(line):
                # Cut the torn line off, or it would swallow the next one when replayed.
                os.ftruncate(self._fd, self._size - self._base + self._header)
                raise OSError(errno.ENOSPC, f"journal {self._path}: wrote {written} of "
                                            f"{len(line)} bytes")
            self._size += len(line)
            self._appended_rows += 1
            self._cv.notify_all()
            return self._size

    def wait_durable(self, offset: int, timeout_s: float) -> bool:
        """Wait until everything before ``offset`` is synced; False on timeout or sync error."""
        deadline = time.monotonic() + timeout_s
        with self._cv:
            self._waiters += 1  # the syncer skips its interval while someone waits
            self._cv.notify_all()
            try:
                while self._durable < offset:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self.error is not None or not self._thread.is_alive():
                        return False
                    self._cv.wait(remaining)
                return True
            finally:
                self._waiters -= 1

    @property
    def end(self) -> int:
        """Return the offset after the last appended row."""
        with self._cv:
            return self._size

    def stats(self) -> dict[str, Any]:
        """Return rows appended and synced by this process, syncs, and the sync error."""
        with self._cv:
            return {"journal_appended": self._appended_rows, "journaled": self._durable_rows,
                    "journal_syncs": self._syncs, "journal_error": self.error or ""}

    def _sync_loop(self) -> None:
        last_start = -math.inf
        cv = self._cv
        with cv:
            while self.error is None:
                if self._durable >= self._size:
                    if self._closing:
                        return
                    cv.wait(1.0)
                    continue
                # Group commit: lines appended while a sync runs, or within the interval
                # after it began, go with the next one.
                delay = last_start + self._interval - time.monotonic()
                if delay > 0 and not self._waiters and not self._closing:
                    cv.wait(delay)
                    continue
                target, rows, fd = self._size, self._appended_rows, self._fd
                self._syncing = True
                last_start = time.monotonic()
                cv.release()
                try:
                    self._sync(fd)
                    failure = None
                except OSError as exc:
                    # After a failed fdatasync the kernel may have dropped the dirty pages:
                    # a retry could "succeed" without them, so no later sync is trusted.
                    failure = f"fdatasync failed: {exc}"
                finally:
                    cv.acquire()
                self._syncing = False
                self._syncs += 1
                if failure is None:
                    self._durable = max(self._durable, target)
                    self._durable_rows = max(self._durable_rows, rows)
                else:
                    self.error = failure
                cv.notify_all()

    def commit(self, offset: int) -> None:
        """Record that everything up to ``offset`` is in the database; compact the file."""
        with self._cv:
            if self._fd < 0:
                return
            self._committed = max(self._committed, min(offset, self._size))
            tmp = self._mark.with_suffix(".tmp")
            tmp.write_text(str(self._committed))
            os.replace(tmp, self._mark)
            done = self._committed - self._base
            if done >= self._compact_bytes and self._size - self._committed <= min(
                    done, _COMPACT_TAIL_MAX):
                self._compact()

    def _compact(self) -> None:
        """Replace the file by its uncommitted tail (called with the lock held)."""
        deadline = time.monotonic() + 1.0
        while self._syncing:  # the syncer uses the current descriptor outside the lock
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return  # a slow disk: try again at a later commit
            self._cv.wait(remaining)
        if self.error is not None or self._fd < 0:
            return
        start = self._committed
        tail = os.pread(self._fd, self._size - start, start - self._base + self._header)
        header = _HEADER_START + str(start).encode() + b"}\n"
        fd = os.open(self._tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        try:
            data = memoryview(header + tail)
            while data:
                data = data[os.write(fd, data):]
            self._sync(fd)
            os.replace(self._tmp, self._path)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            return  # compaction only saves space: the old file is still whole
        # Until the directory is synced a crash may bring the old file back, which the
        # logical offsets make as valid as the new one.
        with contextlib.suppress(OSError):
            self._sync_dir()
        os.close(self._fd)
        self._fd = fd
        self._base, self._header = start, len(header)
        # The whole new file was synced: every row appended so far is on disk or stored.
        self._durable = max(self._durable, self._size)
        self._durable_rows = self._appended_rows

    def close(self, timeout_s: float = 2.0) -> None:
        """Sync what was appended and close the file (idempotent); a later append raises."""
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._thread.join(timeout_s)
        with self._cv:
            # A sync stuck past the deadline still uses the descriptor: leave it open.
            if self._fd >= 0 and not self._thread.is_alive():
                os.close(self._fd)
                self._fd = -1


class EventStore:
    """One worker thread writing rows, closed flights and housekeeping to the database."""

    def __init__(self, engine: Engine, *, retain_days: int, maintenance_period_s: float,
                 logger: _Logger, max_queued: int = 100_000,
                 journal_dir: Path | None = None) -> None:
        self._engine = engine
        self._retain_days = retain_days
        self._period = maintenance_period_s
        self._log = logger
        # Each job carries the journal offset just after it (None: not journaled).
        self._jobs: deque[tuple[Row | FlightWindow, int | None]] = deque()
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

    def put(self, job: Row | FlightWindow) -> None:
        """Queue a row (never blocks; the oldest is dropped and counted when full)."""
        with self._cv:
            offset = None
            if self._journal is not None and isinstance(job, Row):
                try:
                    offset = self._journal.append(job)
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

    def _done(self, entry: tuple[Row | FlightWindow, int | None]) -> None:
        with self._cv:
            if self._jobs and self._jobs[0] is entry:
                self._jobs.popleft()
            self._cv.notify_all()
        if entry[1] is not None and self._journal is not None:
            self._journal.commit(entry[1])

    def _refused(self, entry: tuple[Row | FlightWindow, int | None] | None, why: str) -> None:
        # A row the database refuses will be refused again: log it and move on.
        self._counts["failed"] += 1
        self._log.warning(f"row refused: {why}", throttle_duration_sec=5.0)
        if entry is not None:
            self._done(entry)

    def _with_connection(self, work: Callable[[Connection], None]) -> None:
        with self._engine.begin() as conn:
            work(conn)

    def _apply(self, conn: Connection, job: Row | FlightWindow) -> None:
        if isinstance(job, FlightWindow):
            compute_flight_metrics(conn, job.vehicle_id, job.started_at, job.ended_at)
            self._counts["flights"] += 1
            return
        params = _parameters(job)
        for statement in _STATEMENTS[job.kind]:
            conn.execute(statement, params)
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
