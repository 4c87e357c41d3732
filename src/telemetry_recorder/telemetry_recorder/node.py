"""telemetry_recorder: every vehicle sample and fleet event into PostgreSQL + PostGIS.

A thin adapter. MAVROS messages are decoded as fleet_manager decodes them
(``fleet_ros.mavros_convert``) and merged by fleet_db's SampleMerger into rows; fleet messages
become fleet_db's typed records (``convert``). Storing them is fleet_db's
:class:`~fleet_db.recording.Recording`: it opens the engine, the telemetry writer (durable spool
first, then COPY) and the event store (row journal first) when the node starts, and closes
them when the node is destroyed. Every database call runs on a worker thread, never on the
executor.

Start-up: the subscriptions come first. Importing the database stack (SQLAlchemy, psycopg,
GeoAlchemy2: most of a recorder's start-up time) and opening the storage (the database check,
the spool and the journal replayed) run on a thread of their own while the node already
spins; what arrives meanwhile is kept in memory, in order, and handled once the storage is
open (docs/operations.md, "The telemetry recorder: start-up, ...").
"""

from __future__ import annotations

import collections
import functools
import os
import re
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.context import Context
from rclpy.node import Node
from rclpy.subscription import Subscription

from fleet_core.errors import ConfigError
from fleet_core.fleet.config import load_fleet_settings_file
from fleet_core.fleet.telemetry import (
    AutopilotState,
    BatteryReading,
    Heading,
    Landed,
    PositionFix,
    Rejected,
    RelativeAltitude,
    Telemetry,
    Velocity,
)
from fleet_core.mavros_topics import MavrosTopic
from fleet_db.merge import RejectedValueError, SampleMerger
from fleet_ros import fleet_topics as topics
from fleet_ros.entry import installed_config, read_only, run_node
from fleet_ros.mavros_convert import TELEMETRY_DECODERS, fix_position_from_msg, stamp_from_msg
from fleet_ros.mavros_io import subscribe
from fleet_ros.telemetry_batch import batch_samples

if TYPE_CHECKING:  # imported when the storage opens, off the start-up path (module docstring)
    from fleet_core.fleet.config import FleetSettings
    from fleet_db.ingest import TelemetryWriter
    from fleet_db.recording import Recording
    from fleet_db.writes import Record

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What a telemetry row is merged from: a row per fix, the newest of the others in it.
RECORDED_TOPICS = (MavrosTopic.FIX, MavrosTopic.REL_ALT, MavrosTopic.HEADING,
                   MavrosTopic.VELOCITY, MavrosTopic.BATTERY, MavrosTopic.STATE,
                   MavrosTopic.EXTENDED_STATE)
_LEVELS = {"recording": DiagnosticStatus.OK, "spooling": DiagnosticStatus.WARN,
           "stalled": DiagnosticStatus.WARN, "journal_failing": DiagnosticStatus.ERROR}
"""fleet_db.recording.Health values -> diagnostic levels."""
_SOURCES = ("mavros", "fleet")
_BATCH_TOPICS: dict[type, MavrosTopic] = {
    PositionFix: MavrosTopic.FIX, RelativeAltitude: MavrosTopic.REL_ALT,
    Heading: MavrosTopic.HEADING, Velocity: MavrosTopic.VELOCITY,
    BatteryReading: MavrosTopic.BATTERY, AutopilotState: MavrosTopic.STATE,
    Landed: MavrosTopic.EXTENDED_STATE}
"""The MAVROS topic each value of a /fleet/telemetry batch came from (for the drop counts)."""
MAX_STARTUP_MESSAGES = 200_000
"""Messages kept while the storage opens; beyond, they are dropped and counted."""
OPEN_WAIT_S = 120.0
"""How long ``recording`` waits for the storage to open (it is bounded by the database's
connect timeout and the spool's replay scan)."""


class TelemetryRecorderNode(Node):
    """Subscribes to the fleet and its vehicles; writes everything with zero loss."""

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: Sequence[Any] | None = None) -> None:
        # Opened on a thread once the parameters are known; a node whose constructor failed
        # before (a bad parameter) is destroyed with nothing to close.
        self._recording: Recording | None = None
        self._opener: threading.Thread | None = None
        super().__init__("telemetry_recorder", context=context,
                         parameter_overrides=list(parameter_overrides or []))
        declare = self.declare_parameter
        declare("database_url", "", read_only(
            "SQLAlchemy URL; empty uses $FLEET_DATABASE_URL or the local fleet database"))
        declare("spool_dir", "", read_only(
            "durable spool directory (one per recorder instance); empty: "
            "$XDG_STATE_HOME/fleet/<node name>-spool"))
        declare("prefix_template", "/{id}/mavros", read_only(
            "MAVROS namespace of a vehicle; {id} is its fleet id"))
        declare("vehicles", [""], read_only(
            "vehicle ids to record from the start, before /fleet/status names them; "
            "[\"\"]: none"))
        declare("flush_rows", 2000, read_only("samples per COPY batch into the database"))
        declare("flush_age_ms", 200, read_only("longest a sample waits before its batch goes"))
        declare("merge_max_age_s", 5.0, read_only(
            "a topic's value older than this is not carried into a position row"))
        declare("flight_idle_gap_s", 30.0, read_only("silence that ends a flight"))
        declare("maintenance_period_s", 60.0, read_only(
            "rollups, partitions ahead and retention run this often"))
        declare("retain_days", 30, read_only("raw telemetry is kept this many days"))
        declare("fleet_config_file", "", read_only(
            "fleet.yaml, for its sites and vehicles; empty uses fleet_manager's installed one"))
        declare("db_connect_timeout_s", 5, read_only(
            "opening a database connection gives up after this (2 at least)"))
        declare("db_reply_timeout_s", 15.0, read_only(
            "a database round trip (query, COPY, commit) with no reply within this is "
            "abandoned: the connection is closed, the batch retried on a new one"))
        declare("unwritten_warn_s", 10.0, read_only(
            "diagnostics warn once the oldest sample not yet in the database is this old"))
        declare("source", "mavros", read_only(
            "where vehicle samples come from: 'mavros' subscribes to each vehicle's MAVROS "
            "topics; 'fleet' takes fleet_manager's /fleet/telemetry batches (one "
            "subscription whatever the fleet's size: for large fleets)"))
        p = {name: self.get_parameter(name).value for name in (
            "database_url", "spool_dir", "prefix_template", "vehicles", "flush_rows",
            "flush_age_ms", "merge_max_age_s", "flight_idle_gap_s", "maintenance_period_s",
            "retain_days", "fleet_config_file", "db_connect_timeout_s", "db_reply_timeout_s",
            "unwritten_warn_s", "source")}
        if p["source"] not in _SOURCES:
            raise ConfigError(f"parameter source must be one of {list(_SOURCES)}, got "
                              f"{p['source']!r}")
        self.source: str = p["source"]
        self._batch_sequences: dict[str, int] = {}  # /fleet/telemetry source -> last seen
        if "{id}" not in p["prefix_template"] or not p["prefix_template"].startswith("/"):
            raise ConfigError(f"parameter prefix_template {p['prefix_template']!r} must start "
                              "with '/' and contain '{id}'")
        for name in ("flush_rows", "flush_age_ms", "merge_max_age_s", "flight_idle_gap_s",
                     "maintenance_period_s", "retain_days", "db_reply_timeout_s",
                     "unwritten_warn_s"):
            if not p[name] > 0:
                raise ConfigError(f"parameter {name} must be positive, got {p[name]!r}")
        if not 2 <= p["db_connect_timeout_s"] <= 600:
            raise ConfigError("parameter db_connect_timeout_s must be within 2..600 (libpq "
                              f"waits at least 2 s), got {p['db_connect_timeout_s']!r}")
        spool = Path(p["spool_dir"] or Path(os.environ.get(
            "XDG_STATE_HOME", Path.home() / ".local" / "state")) / "fleet"
            / f"{self.get_name()}-spool")
        self._prefix_template: str = p["prefix_template"]
        self._id_pattern = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
        self.merger = SampleMerger(timedelta(seconds=float(p["merge_max_age_s"])))
        self.rejected: dict[str, int] = {}
        # Vehicle samples dropped before the writer, by "<topic>.<reason>" (the writer counts
        # its own rejects); every message that does not end in a row or a merged value.
        self.dropped: collections.Counter[str] = collections.Counter()
        self.vehicles: dict[str, dict[MavrosTopic, Subscription[Any]]] = {}
        self._registry_sent: dict[str, datetime] = {}
        self._tagged: dict[str, str] = {}  # vehicle -> the mission its rows carry
        self._missions_stored: dict[str, tuple[Any, ...]] = {}
        # Until the storage is open, callbacks keep (handler, message, arrival time) here;
        # the lock orders them against the drain that replays them (see _buffered).
        self._startup: collections.deque[tuple[Callable[[Any], None], Any, datetime]] = \
            collections.deque()
        self._startup_lock = threading.Lock()
        self._live = False  # the start-up messages are handled: callbacks go straight on
        self._replaying = threading.local()  # its ``at``: the arrival time of a replayed one
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self._started = self.get_clock().now()
        # Subscriptions first: from here on nothing is missed while the storage opens.
        for vid in p["vehicles"]:
            if vid:
                self.add_vehicle(vid)

        def on_status(msg: Any) -> None:
            self.subscribe_listed(msg)  # at once, not after the storage opened
            store_status(msg)

        store_status = self._buffered(self.on_fleet_status)
        topics.subscribe_fleet(self, {
            topics.FLEET_STATUS: on_status,
            topics.COORDINATION_EVENTS: self._buffered(self.guarded_fleet(
                self.on_coordination_event)),
            topics.MISSION_EVENTS: self._buffered(self.guarded_fleet(self.on_mission_event)),
            topics.MISSIONS: self._buffered(self.guarded_fleet(self.on_missions)),
            topics.NO_FLY_ZONES: self._buffered(self.guarded_fleet(self.on_no_fly_zones)),
            topics.CHARGING_SESSIONS: self._buffered(self.guarded_fleet(
                self.on_charging_session)),
            **({topics.TELEMETRY: self._buffered(self.on_telemetry_batch)}
               if self.source == "fleet" else {})})
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self.on_second)
        # fleet.yaml is read here, so that a broken one stops the start with its message.
        fleet_path = p["fleet_config_file"] or installed_config("fleet_manager", "fleet.yaml")
        fleet = load_fleet_settings_file(fleet_path) if fleet_path else None
        settings = {
            "database_url": p["database_url"] or os.environ.get("FLEET_DATABASE_URL") or None,
            "spool_dir": spool, "batch_size": int(p["flush_rows"]),
            "batch_age_s": float(p["flush_age_ms"]) / 1000.0,
            "flight_idle_gap_s": float(p["flight_idle_gap_s"]),
            "retain_days": int(p["retain_days"]),
            "maintenance_period_s": float(p["maintenance_period_s"]),
            "connect_timeout_s": int(p["db_connect_timeout_s"]),
            "reply_timeout_s": float(p["db_reply_timeout_s"]),
            "unwritten_warn_s": float(p["unwritten_warn_s"])}
        self._drain_timer = self.create_timer(0.02, self._drain)
        self._opener = threading.Thread(target=self._open, args=(settings, fleet),
                                        name="recorder-open", daemon=True)
        self._opener.start()

    # ------------------------------------------------------------------ start-up
    def _open(self, settings: dict[str, Any], fleet: FleetSettings | None) -> None:
        """Import the database stack and open the storage (on the opener thread)."""
        try:
            from fleet_db.recording import Recording, RecordingSettings  # noqa: PLC0415
            from telemetry_recorder.convert import (  # noqa: PLC0415
                registry_record,
                site_record,
            )

            recording = Recording(RecordingSettings(**settings), self.get_logger())
            # Sites first: the registry rows that follow point at them.
            for site in fleet.sites if fleet else ():
                recording.put(site_record(site))
            for spec in fleet.vehicles if fleet else ():
                recording.put(registry_record(spec))
            self._recording = recording
        except BaseException as exc:
            self._open_error = exc
        finally:
            self._opened.set()

    def _buffered(self, handle: Callable[[Any], None]) -> Callable[[Any], None]:
        """Wrap a callback that needs the storage: until it is open, keep the message."""
        def callback(msg: Any) -> None:
            if not self._live:
                with self._startup_lock:
                    if not self._live:  # the drain flips it under this lock, after the last
                        if len(self._startup) < MAX_STARTUP_MESSAGES:
                            self._startup.append((handle, msg, self._now()))
                        else:
                            self._drop("startup.buffer_full", "the storage is still opening")
                        return
            handle(msg)
        return callback

    def _drain(self) -> None:
        """Once the storage is open, handle the messages kept meanwhile, in order (a timer)."""
        if not self._opened.is_set():
            return
        self.destroy_timer(self._drain_timer)
        if self._open_error is not None:
            # Nothing can be stored: stop the process rather than pretend to record.
            self.get_logger().fatal(f"cannot open the recorder's storage: {self._open_error}")
            raise self._open_error
        self._replay_startup()

    def _replay_startup(self) -> None:
        with self._startup_lock:
            kept = len(self._startup)
            while self._startup:
                handle, msg, arrived = self._startup.popleft()
                self._replaying.at = arrived
                try:
                    handle(msg)
                finally:
                    self._replaying.at = None
            self._live = True
        elapsed = (self.get_clock().now() - self._started).nanoseconds * 1e-9
        self.get_logger().info(f"storage open {elapsed:.2f} s after the subscriptions; "
                               f"{kept} messages kept meanwhile handled")

    @property
    def recording(self) -> Recording:
        """The storage this node opened (the engine, the writer, the store); waits for it
        while it opens."""
        if self._recording is None:
            self._opened.wait(OPEN_WAIT_S)
            if self._recording is None:
                raise RuntimeError(
                    f"the recorder's storage is not open: {self._open_error or 'still opening'}"
                ) from self._open_error
        return self._recording

    @property
    def startup_kept(self) -> int:
        """Messages kept while the storage opens, not handled yet (0 once it is open)."""
        return len(self._startup)

    @property
    def writer(self) -> TelemetryWriter:
        """The telemetry writer (its metrics say what was spooled and written)."""
        return self.recording.writer

    # ------------------------------------------------------------------ vehicles
    def add_vehicle(self, vehicle_id: str) -> None:
        """Subscribe to a vehicle's MAVROS topics (idempotent)."""
        if vehicle_id in self.vehicles:
            return
        if not self._id_pattern.match(vehicle_id):
            self._reject(f"vehicle id {vehicle_id!r} is not a valid id")
            return
        if self.source == "fleet":  # its samples come in fleet_manager's batches
            self.vehicles[vehicle_id] = {}
            self.get_logger().info(f"recording {vehicle_id} from {topics.TELEMETRY.name}")
            return
        prefix = self._prefix_template.format(id=vehicle_id)
        self.vehicles[vehicle_id] = subscribe(self, prefix, {
            topic: self._buffered(self.guarded(
                vehicle_id, functools.partial(self.on_vehicle_message, topic), topic))
            for topic in RECORDED_TOPICS})
        self.get_logger().info(f"recording {vehicle_id} from {prefix}")

    def subscribe_listed(self, msg: Any) -> None:
        """Subscribe to every vehicle /fleet/status names."""
        for v in msg.vehicles:
            self.add_vehicle(str(v.vehicle_id))

    def on_fleet_status(self, msg: Any) -> None:
        """Store the registry rows of the vehicles /fleet/status names."""
        from fleet_db.models import VEHICLE_STATUSES  # noqa: PLC0415 - loaded by the storage
        from telemetry_recorder.convert import vehicle_record  # noqa: PLC0415 - idem

        now = self._now()
        for v in msg.vehicles:
            vid = str(v.vehicle_id)
            self.add_vehicle(vid)
            # fleet_interfaces/VehicleStatus STATUS_IDLE..STATUS_OFFLINE (1..6) are the
            # schema's vehicle statuses in the same order; STATUS_UNKNOWN (0) has no row.
            code = int(v.status)
            status = VEHICLE_STATUSES[code - 1] if 1 <= code <= len(VEHICLE_STATUSES) else None
            # The registry row (status, last seen) follows the fleet picture, at most every
            # few seconds per vehicle: it feeds the availability and nearest-vehicle queries.
            if vid in self.vehicles and status is not None and (
                    now - self._registry_sent.get(vid, _EPOCH)).total_seconds() >= 5.0:
                self._registry_sent[vid] = now
                self.recording.put(vehicle_record(v, status))

    def guarded(self, vehicle_id: str, callback: Callable[[str, Any], None],
                topic: MavrosTopic | None = None) -> Callable[[Any], None]:
        """Wrap a per-vehicle callback: garbage is counted (as a drop of ``topic``) and
        logged, never a crash."""
        def handle(msg: Any) -> None:
            try:
                callback(vehicle_id, msg)
            except (RejectedValueError, ValueError, OverflowError) as exc:
                if topic is None:
                    self._reject(str(exc))
                else:  # the merger refused the value (its message names it)
                    self._drop(drop_key(topic, "invalid"), str(exc))
        return handle

    def guarded_fleet(self, to_records: Callable[[Any], Sequence[Record]]
                      ) -> Callable[[Any], None]:
        """Wrap a fleet-topic conversion: its records are stored, a malformed message is
        counted and logged."""
        def handle(msg: Any) -> None:
            try:
                records = to_records(msg)
            except (ValueError, OverflowError) as exc:
                self._reject(str(exc))
                return
            for record in records:
                self.recording.put(record)
        return handle

    def _drop(self, key: str, detail: str, *, garbage: bool = True) -> None:
        self.dropped[key] += 1
        if garbage:
            self.get_logger().warning(f"dropped {key}: {detail}", throttle_duration_sec=5.0)
        else:  # normal operation (no fix on the ground, a repeated stamp): counted only
            self.get_logger().debug(f"dropped {key}: {detail}", throttle_duration_sec=5.0)

    def _reject(self, reason: str) -> None:
        key = reason.split(":", 1)[0][:80]
        self.rejected[key] = self.rejected.get(key, 0) + 1
        self.get_logger().warning(f"ignored: {reason}", throttle_duration_sec=5.0)

    def _now(self) -> datetime:
        """The node clock's now; while a start-up message is replayed, when it arrived."""
        at: datetime | None = getattr(self._replaying, "at", None)
        if at is not None:
            return at
        return datetime.fromtimestamp(self.get_clock().now().nanoseconds * 1e-9, tz=UTC)

    def on_vehicle_message(self, topic: MavrosTopic, vid: str, msg: Any) -> None:
        """Decode one MAVROS message and hand its value to the merger; a fix makes a row."""
        stamp = stamp_from_msg(msg)
        # Headerless std_msgs/Float64 topics are stamped when they arrive.
        at = self._now() if stamp is None else datetime.fromtimestamp(stamp, tz=UTC)
        if topic is MavrosTopic.FIX:
            # The position as MAVROS sent it: whether a row can hold it is the merger's call
            # (fleet_manager's stricter checks would drop samples the table can store).
            point = fix_position_from_msg(msg)
            if point is None:  # no fix: the position means nothing, but it is counted
                self._drop(drop_key(topic, "no_fix"), f"{vid}: status {msg.status.status}",
                           garbage=False)
                return
            self.record(topic, vid, at, PositionFix(point))
            return
        self.record(topic, vid, at, TELEMETRY_DECODERS[topic](msg))

    def on_telemetry_batch(self, msg: Any) -> None:
        """Record the samples of one /fleet/telemetry batch (source: fleet)."""
        source, seq = str(msg.source), int(msg.sequence)
        last = self._batch_sequences.get(source)
        if last is not None and seq > last + 1:
            # Reliable and kept for late joiners, so a gap means the recorder fell so far
            # behind that the publisher's history overflowed: the samples in between are lost.
            self._drop("fleet_telemetry.lost_batches", f"{seq - last - 1} batches from "
                       f"{source} between {last} and {seq}")
        if last is not None and seq <= last:
            return  # a batch this recorder had (a publisher's history seen twice)
        self._batch_sequences[source] = seq
        try:
            for sample in batch_samples(msg):
                topic = _BATCH_TOPICS.get(type(sample.value))
                if topic is None:
                    continue  # home, health, texts: the picture's, not the recorder's
                self.record(topic, sample.vehicle_id,
                            datetime.fromtimestamp(sample.stamp, tz=UTC), sample.value)
        except (RejectedValueError, ValueError, OverflowError) as exc:
            self._reject(str(exc))

    def record(self, topic: MavrosTopic, vid: str, at: datetime,
               value: Telemetry | Rejected) -> None:
        """Hand one decoded sample to the merger; a fix makes a row."""
        m = self.merger
        match value:
            case PositionFix(position=None):
                self._drop(drop_key(topic, "no_fix"), f"{vid}: no fix", garbage=False)
            case PositionFix(position=point) if point is not None:
                sample = m.on_fix(vid, at, point.latitude, point.longitude, point.altitude)
                if sample is None:  # (vehicle, time) is the row's key: the first fix holds it
                    self._drop(drop_key(topic, "repeated_stamp"), f"{vid} at "
                               f"{at.isoformat()}", garbage=False)
                    return
                self.recording.submit(sample)
            case Rejected(reason=reason, detail=detail):
                self._drop(drop_key(topic, reason.name.lower()), f"{vid}: {detail}")
            case RelativeAltitude(metres=metres):
                m.on_rel_alt(vid, at, metres)
            case Heading(degrees=degrees):
                m.on_heading(vid, at, degrees)
            case Velocity(east=east, north=north, up=up):
                m.on_velocity(vid, at, east, north, up)
            case BatteryReading(percent=percent, voltage_v=volts, current_a=amps):
                m.on_battery(vid, at, percent, volts, amps)
            case AutopilotState(connected=connected, armed=armed, mode=mode):
                m.on_state(vid, at, mode, armed, connected)
            case Landed(state=landed):
                m.on_extended_state(vid, at, int(landed))
            case _:
                raise ValueError(f"{topic} is not among the recorded topics {RECORDED_TOPICS}")


    # ------------------------------------------------------------------ fleet events
    # The conversions import fleet_db's record types: loaded with the storage, which is open
    # before any of these runs (_buffered), so these imports only look the modules up.
    def on_coordination_event(self, msg: Any) -> list[Record]:
        from telemetry_recorder.convert import coordination_event_record  # noqa: PLC0415
        return [coordination_event_record(msg)]

    def on_mission_event(self, msg: Any) -> list[Record]:
        from telemetry_recorder.convert import mission_event_record  # noqa: PLC0415
        return [mission_event_record(msg)]

    def on_no_fly_zones(self, msg: Any) -> list[Record]:
        from telemetry_recorder.convert import no_fly_zone_records  # noqa: PLC0415
        return list(no_fly_zone_records(msg, self._now()))

    def on_charging_session(self, msg: Any) -> list[Record]:
        from telemetry_recorder.convert import charging_session_record  # noqa: PLC0415
        return [charging_session_record(msg)]

    def on_missions(self, msg: Any) -> list[Record]:
        """Records of the missions that changed; the rows of a vehicle carry its mission."""
        from telemetry_recorder.convert import mission_status_records  # noqa: PLC0415

        changed: list[Record] = []
        for record in mission_status_records(msg):
            # /fleet/missions repeats every mission at the planner's rate: store changes only.
            key = (record.status, record.priority, record.vehicle_id,
                   record.estimated_distance_m)
            if self._missions_stored.get(record.id) != key:
                self._missions_stored[record.id] = key
                changed.append(record)
        holding = {str(m.vehicle_id): str(m.mission_id) for m in msg.missions
                   if m.vehicle_id and m.state in ("assigned", "active", "paused")}
        for vid, mid in list(self._tagged.items()):
            if holding.get(vid) != mid:  # finished, handed back or gone: rows are untagged
                del self._tagged[vid]
                self.merger.set_mission(vid, None)
        for vid, mid in holding.items():
            if self._tagged.get(vid) != mid:
                self._tagged[vid] = mid
                self.merger.set_mission(vid, mid)
        return changed

    # ------------------------------------------------------------------ housekeeping
    def on_second(self) -> None:
        if self._live:
            self.recording.tick(self._now())
        self.publish_diagnostics()

    def publish_diagnostics(self) -> None:
        ours = {**{f"rejected.{k}": v for k, v in self.rejected.items()},
                "dropped": sum(self.dropped.values()),
                **{f"dropped.{k}": v for k, v in sorted(self.dropped.items())},
                "vehicles": len(self.vehicles)}
        if self._live:
            status = self.recording.status()
            level, message = _LEVELS[status.health.value], status.message
            values = {**status.values, **ours}
        else:  # a start-up second: subscribed, the storage still opening
            level, message = DiagnosticStatus.OK, "starting: opening the storage"
            values = {**ours, "startup_kept": self.startup_kept}
        out = DiagnosticArray()
        out.header.stamp = self.get_clock().now().to_msg()
        out.status = [DiagnosticStatus(
            level=level, name=f"{self.get_name()}: recorder",
            hardware_id=self.get_name(), message=message,
            values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])]
        self.diagnostics_pub.publish(out)

    def destroy_node(self) -> None:
        """Flush what can be written; the rest stays in the spool for the next start.

        Messages kept while the storage was opening are stored first, if it opened.
        """
        if self._opener is not None:
            self._opener.join(OPEN_WAIT_S)
        if self._recording is not None:
            if not self._live:
                self._replay_startup()
            self._recording.close()
        super().destroy_node()


def drop_key(topic: MavrosTopic, reason: str) -> str:
    """Return the counter of a dropped ``topic`` message: ``<topic name>.<reason>``."""
    return f"{topic.name.lower()}.{reason}"


def main(args: Sequence[str] | None = None) -> int:
    """Run the recorder until shutdown."""
    return run_node(TelemetryRecorderNode, args)
