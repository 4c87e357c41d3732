"""telemetry_recorder: every vehicle sample and fleet event into PostgreSQL + PostGIS.

A thin adapter. MAVROS messages are decoded as fleet_manager decodes them
(``fleet_ros.mavros_convert``) and merged by fleet_db's SampleMerger into rows; fleet messages
become fleet_db's typed records (``convert``). Storing them is fleet_db's
:class:`~fleet_db.recording.Recording`: it opens the engine, the telemetry writer (durable spool
first, then COPY) and the event store (row journal first) when the node starts, and closes
them when the node is destroyed. Every database call runs on a worker thread, never on the
executor.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    Rejected,
    RelativeAltitude,
    Velocity,
)
from fleet_core.mavros_topics import MavrosTopic
from fleet_db.ingest import TelemetryWriter
from fleet_db.merge import RejectedValueError, SampleMerger
from fleet_db.models import VEHICLE_STATUSES
from fleet_db.recording import Health, Recording, RecordingSettings
from fleet_db.writes import Record
from fleet_ros import fleet_topics as topics
from fleet_ros.entry import installed_config, read_only, run_node
from fleet_ros.mavros_convert import TELEMETRY_DECODERS, fix_position_from_msg, stamp_from_msg
from fleet_ros.mavros_io import subscribe
from telemetry_recorder.convert import (
    charging_session_record,
    coordination_event_record,
    mission_event_record,
    mission_status_records,
    no_fly_zone_records,
    registry_record,
    site_record,
    vehicle_record,
)

# fleet_interfaces/VehicleStatus STATUS_IDLE..STATUS_OFFLINE (1..6) are the schema's vehicle
# statuses in the same order; STATUS_UNKNOWN (0) has no row value.
_STATUS_NAMES = dict(enumerate(VEHICLE_STATUSES, start=1))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What a telemetry row is merged from: a row per fix, the newest of the others in it.
RECORDED_TOPICS = (MavrosTopic.FIX, MavrosTopic.REL_ALT, MavrosTopic.HEADING,
                   MavrosTopic.VELOCITY, MavrosTopic.BATTERY, MavrosTopic.STATE,
                   MavrosTopic.EXTENDED_STATE)
_LEVELS = {Health.RECORDING: DiagnosticStatus.OK, Health.SPOOLING: DiagnosticStatus.WARN,
           Health.JOURNAL_FAILING: DiagnosticStatus.ERROR}


class TelemetryRecorderNode(Node):
    """Subscribes to the fleet and its vehicles; writes everything with zero loss."""

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: Sequence[Any] | None = None) -> None:
        # Opened once the parameters are known; a node whose constructor failed before (a bad
        # parameter) is destroyed with nothing to close.
        self._recording: Recording | None = None
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
        p = {name: self.get_parameter(name).value for name in (
            "database_url", "spool_dir", "prefix_template", "vehicles", "flush_rows",
            "flush_age_ms", "merge_max_age_s", "flight_idle_gap_s", "maintenance_period_s",
            "retain_days", "fleet_config_file")}
        if "{id}" not in p["prefix_template"] or not p["prefix_template"].startswith("/"):
            raise ConfigError(f"parameter prefix_template {p['prefix_template']!r} must start "
                              "with '/' and contain '{id}'")
        for name in ("flush_rows", "flush_age_ms", "merge_max_age_s", "flight_idle_gap_s",
                     "maintenance_period_s", "retain_days"):
            if not p[name] > 0:
                raise ConfigError(f"parameter {name} must be positive, got {p[name]!r}")
        spool = Path(p["spool_dir"] or Path(os.environ.get(
            "XDG_STATE_HOME", Path.home() / ".local" / "state")) / "fleet"
            / f"{self.get_name()}-spool")
        fleet_path = p["fleet_config_file"] or installed_config("fleet_manager", "fleet.yaml")
        fleet = load_fleet_settings_file(fleet_path) if fleet_path else None
        self._prefix_template: str = p["prefix_template"]
        self._id_pattern = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
        self.merger = SampleMerger()
        self.rejected: dict[str, int] = {}
        self.vehicles: dict[str, dict[MavrosTopic, Subscription[Any]]] = {}
        self._registry_sent: dict[str, datetime] = {}
        self._tagged: dict[str, str] = {}  # vehicle -> the mission its rows carry
        self._missions_stored: dict[str, tuple[Any, ...]] = {}
        self._recording = Recording(RecordingSettings(
            database_url=p["database_url"] or os.environ.get("FLEET_DATABASE_URL") or None,
            spool_dir=spool, batch_size=int(p["flush_rows"]),
            batch_age_s=float(p["flush_age_ms"]) / 1000.0,
            flight_idle_gap_s=float(p["flight_idle_gap_s"]), retain_days=int(p["retain_days"]),
            maintenance_period_s=float(p["maintenance_period_s"])), self.get_logger())
        # Sites first: the registry rows that follow point at them.
        for site in fleet.sites if fleet else ():
            self._recording.put(site_record(site))
        for spec in fleet.vehicles if fleet else ():
            self._recording.put(registry_record(spec))
        for vid in p["vehicles"]:
            if vid:
                self.add_vehicle(vid)
        topics.subscribe_fleet(self, {
            topics.FLEET_STATUS: self.on_fleet_status,
            topics.COORDINATION_EVENTS: self.guarded_fleet(
                lambda msg: [coordination_event_record(msg)]),
            topics.MISSION_EVENTS: self.guarded_fleet(lambda msg: [mission_event_record(msg)]),
            topics.MISSIONS: self.guarded_fleet(self.on_missions),
            topics.NO_FLY_ZONES: self.guarded_fleet(
                lambda msg: no_fly_zone_records(msg, self._now())),
            topics.CHARGING_SESSIONS: self.guarded_fleet(
                lambda msg: [charging_session_record(msg)])})
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self.on_second)

    @property
    def recording(self) -> Recording:
        """The storage this node opened (the engine, the writer, the store)."""
        if self._recording is None:
            raise RuntimeError("the recorder's storage is not open")
        return self._recording

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
        prefix = self._prefix_template.format(id=vehicle_id)
        self.vehicles[vehicle_id] = subscribe(self, prefix, {
            topic: self.guarded(vehicle_id, functools.partial(self.on_vehicle_message, topic))
            for topic in RECORDED_TOPICS})
        self.get_logger().info(f"recording {vehicle_id} from {prefix}")

    def on_fleet_status(self, msg: Any) -> None:
        now = self._now()
        for v in msg.vehicles:
            vid = str(v.vehicle_id)
            self.add_vehicle(vid)
            status = _STATUS_NAMES.get(int(v.status))
            # The registry row (status, last seen) follows the fleet picture, at most every
            # few seconds per vehicle: it feeds the availability and nearest-vehicle queries.
            if vid in self.vehicles and status is not None and (
                    now - self._registry_sent.get(vid, _EPOCH)).total_seconds() >= 5.0:
                self._registry_sent[vid] = now
                self.recording.put(vehicle_record(v, status))

    def guarded(self, vehicle_id: str, callback: Callable[[str, Any], None]
                ) -> Callable[[Any], None]:
        """Wrap a per-vehicle callback: garbage is counted and logged, never a crash."""
        def handle(msg: Any) -> None:
            try:
                callback(vehicle_id, msg)
            except (RejectedValueError, ValueError, OverflowError) as exc:
                self._reject(str(exc))
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

    def _reject(self, reason: str) -> None:
        key = reason.split(":", 1)[0][:80]
        self.rejected[key] = self.rejected.get(key, 0) + 1
        self.get_logger().warning(f"ignored: {reason}", throttle_duration_sec=5.0)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.get_clock().now().nanoseconds * 1e-9, tz=UTC)

    def on_vehicle_message(self, topic: MavrosTopic, vid: str, msg: Any) -> None:
        """Decode one MAVROS message and hand its value to the merger; a fix makes a row."""
        stamp = stamp_from_msg(msg)
        # Headerless std_msgs/Float64 topics are stamped when they arrive.
        at = self._now() if stamp is None else datetime.fromtimestamp(stamp, tz=UTC)
        m = self.merger
        if topic is MavrosTopic.FIX:
            # The position as MAVROS sent it: whether a row can hold it is the merger's call
            # (fleet_manager's stricter checks would drop samples the table can store).
            point = fix_position_from_msg(msg)
            if point is None:
                return  # no fix: the position means nothing
            sample = m.on_fix(vid, at, point.latitude, point.longitude, point.altitude)
            if sample is not None:
                self.recording.submit(sample)
            return
        value = TELEMETRY_DECODERS[topic](msg)
        match value:
            case Rejected(reason=reason, detail=detail):
                raise RejectedValueError(f"{topic} of {vid}: {reason.name.lower()} {detail}")
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
    def on_missions(self, msg: Any) -> list[Record]:
        """Records of the missions that changed; the rows of a vehicle carry its mission."""
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
        self.recording.tick(self._now())
        self.publish_diagnostics()

    def publish_diagnostics(self) -> None:
        status = self.recording.status()
        values = {**status.values, **{f"rejected.{k}": v for k, v in self.rejected.items()},
                  "vehicles": len(self.vehicles)}
        out = DiagnosticArray()
        out.header.stamp = self.get_clock().now().to_msg()
        out.status = [DiagnosticStatus(
            level=_LEVELS[status.health], name=f"{self.get_name()}: recorder",
            hardware_id=self.get_name(), message=status.message,
            values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])]
        self.diagnostics_pub.publish(out)

    def destroy_node(self) -> None:
        """Flush what can be written; the rest stays in the spool for the next start."""
        if self._recording is not None:
            self._recording.close()
        super().destroy_node()


def main(args: Sequence[str] | None = None) -> int:
    """Run the recorder until shutdown."""
    return run_node(TelemetryRecorderNode, args)
