"""telemetry_recorder: every vehicle sample and fleet event into PostgreSQL + PostGIS.

A thin adapter. MAVROS messages become plain values for fleet_db's SampleMerger, whose rows go
to the TelemetryWriter (durable spool first, then COPY). Events, mission states and charging
sessions go to the EventStore; flights close in the FlightDetector and are measured in SQL.
Every database call runs on a worker thread, never on the executor.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import TwistStamped
from mavros_msgs.msg import ExtendedState, State
from rclpy.context import Context
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import BatteryState, NavSatFix, NavSatStatus
from std_msgs.msg import Float64

from fleet_core.errors import ConfigError
from fleet_core.fleet.config import load_fleet_settings_file
from fleet_db.db import DatabaseUnavailableError, make_engine, redact_url
from fleet_db.flights import FlightDetector, FlightWindow
from fleet_db.ingest import TelemetryWriter, WriterSettings
from fleet_db.merge import RejectedValueError, SampleMerger, battery_from_mavros
from fleet_db.models import VEHICLE_STATUSES
from fleet_db.spool import SpoolCursor
from fleet_interfaces.msg import (
    ChargingSession,
    CoordinationEvent,
    FleetStatus,
    MissionEvent,
    MissionStatusArray,
    NoFlyZoneArray,
)
from fleet_ros.entry import installed_config, read_only, run_node
from fleet_ros.qos import EVENTS_QOS, FLEET_QOS, MAVROS_TOPIC_QOS
from telemetry_recorder.convert import (
    charging_session_row,
    coordination_event_row,
    mission_event_row,
    mission_status_rows,
    no_fly_zone_rows,
    registry_row,
    site_row,
    stamp_to_datetime,
    vehicle_row,
)
from telemetry_recorder.store import EventStore

# fleet_interfaces/VehicleStatus STATUS_IDLE..STATUS_OFFLINE (1..6) are the schema's vehicle
# statuses in the same order; STATUS_UNKNOWN (0) has no row value.
_STATUS_NAMES = dict(enumerate(VEHICLE_STATUSES, start=1))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _VehicleSubscriptions:
    """The MAVROS subscriptions of one vehicle."""

    def __init__(self, node: TelemetryRecorderNode, vehicle_id: str, prefix: str) -> None:
        def sub(msg_type: Any, topic: str, callback: Callable[[str, Any], None]) -> Any:
            qos: QoSProfile = MAVROS_TOPIC_QOS[topic]
            return node.create_subscription(
                msg_type, f"{prefix}/{topic}", node.guarded(vehicle_id, callback), qos)

        self.prefix = prefix
        self.subscriptions = [
            sub(NavSatFix, "global_position/global", node.on_fix),
            sub(Float64, "global_position/rel_alt", node.on_rel_alt),
            sub(Float64, "global_position/compass_hdg", node.on_heading),
            sub(TwistStamped, "local_position/velocity_local", node.on_velocity),
            sub(BatteryState, "battery", node.on_battery),
            sub(State, "state", node.on_state),
            sub(ExtendedState, "extended_state", node.on_extended_state),
        ]

    def destroy(self, node: Node) -> None:
        for s in self.subscriptions:
            node.destroy_subscription(s)


class TelemetryRecorderNode(Node):
    """Subscribes to the fleet and its vehicles; writes everything with zero loss."""

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: Sequence[Any] | None = None) -> None:
        super().__init__("telemetry_recorder", context=context,
                         parameter_overrides=list(parameter_overrides or []))
        declare = self.declare_parameter
        declare("database_url", "", read_only(
            "SQLAlchemy URL; empty uses $FLEET_DATABASE_URL or the local fleet database"))
        declare("spool_dir", "", read_only(
            "durable spool directory (one per recorder instance); empty: "
            "$XDG_STATE_HOME/fleet/<node name>-spool"))
        declare("prefix_template", "/{id}/mavros", read_only(
            "MAVROS prefix of a vehicle, from its fleet id"))
        declare("vehicles", [""], read_only(
            "vehicle ids to record even before /fleet/status names them"))
        declare("flush_rows", 2000, read_only("COPY batch size"))
        declare("flush_age_ms", 200, read_only("longest a sample waits before its batch goes"))
        declare("merge_max_age_s", 5.0, read_only(
            "a topic's value older than this is not carried into a position row"))
        declare("flight_idle_gap_s", 30.0, read_only("silence that ends a flight"))
        declare("maintenance_period_s", 60.0, read_only(
            "rollups, partitions ahead and retention run this often"))
        declare("retain_days", 30, read_only("raw telemetry kept this many days"))
        declare("fleet_config_file", "", read_only(
            "fleet.yaml, for its sites; empty uses fleet_manager's installed one"))
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
        url = p["database_url"] or os.environ.get("FLEET_DATABASE_URL", "")
        spool = Path(p["spool_dir"] or Path(os.environ.get(
            "XDG_STATE_HOME", Path.home() / ".local" / "state")) / "fleet"
            / f"{self.get_name()}-spool")
        self._prefix_template: str = p["prefix_template"]
        self._id_pattern = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
        self.merger = SampleMerger()
        self.rejected: dict[str, int] = {}
        try:
            self.engine = make_engine(url or None)
        except DatabaseUnavailableError as exc:
            # Zero loss starts at start-up: record into the spool and the journal, and let the
            # writer and the store catch up once the database is back.
            self.get_logger().warning(f"{exc}; recording into the spool until it is back")
            self.engine = make_engine(url or None, check=False)
        self.writer = TelemetryWriter(self.engine, spool, WriterSettings(
            batch_size=int(p["flush_rows"]), batch_age_s=float(p["flush_age_ms"]) / 1000.0))
        self.store = EventStore(self.engine, retain_days=int(p["retain_days"]),
                                maintenance_period_s=float(p["maintenance_period_s"]),
                                logger=self.get_logger(),
                                journal_dir=spool.with_name(f"{spool.name}-rows"))
        self.flights = FlightDetector(idle_gap_s=float(p["flight_idle_gap_s"]))
        # A closed flight is measured once its last samples are in the database.
        self._closed_flights: list[tuple[FlightWindow, SpoolCursor]] = []
        self.vehicles: dict[str, _VehicleSubscriptions] = {}
        self._registry_sent: dict[str, datetime] = {}
        self._tagged: dict[str, str] = {}  # vehicle -> the mission its rows carry
        self._missions_stored: dict[str, tuple[Any, ...]] = {}
        fleet_path = p["fleet_config_file"] or installed_config("fleet_manager", "fleet.yaml")
        fleet = load_fleet_settings_file(fleet_path) if fleet_path else None
        # Sites first: the registry rows that follow point at them.
        for site in fleet.sites if fleet else ():
            self.store.put(site_row(site))
        for spec in fleet.vehicles if fleet else ():
            self.store.put(registry_row(spec))
        for vid in p["vehicles"]:
            if vid:
                self.add_vehicle(vid)
        self.create_subscription(FleetStatus, "/fleet/status", self.on_fleet_status, FLEET_QOS)
        for msg_type, topic, callback, qos in (
                (CoordinationEvent, "/fleet/events", self.on_event, EVENTS_QOS),
                (MissionEvent, "/fleet/mission_events", self.on_mission_event, EVENTS_QOS),
                (MissionStatusArray, "/fleet/missions", self.on_missions, FLEET_QOS),
                (NoFlyZoneArray, "/fleet/no_fly_zones", self.on_zones, FLEET_QOS),
                (ChargingSession, "/fleet/charging_sessions", self.on_charging_session,
                 EVENTS_QOS)):
            self.create_subscription(msg_type, topic, self.guarded_fleet(callback), qos)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self.on_second)
        self.get_logger().info(
            f"recording into {redact_url(self.engine.url)}; spool {spool}")

    # ------------------------------------------------------------------ vehicles
    def add_vehicle(self, vehicle_id: str) -> None:
        """Subscribe to a vehicle's MAVROS topics (idempotent)."""
        if vehicle_id in self.vehicles:
            return
        if not self._id_pattern.match(vehicle_id):
            self._reject(f"vehicle id {vehicle_id!r} is not a valid id")
            return
        prefix = self._prefix_template.format(id=vehicle_id)
        self.vehicles[vehicle_id] = _VehicleSubscriptions(self, vehicle_id, prefix)
        self.get_logger().info(f"recording {vehicle_id} from {prefix}")

    def on_fleet_status(self, msg: FleetStatus) -> None:
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
                self.store.put(vehicle_row(v, status))

    def guarded(self, vehicle_id: str, callback: Callable[[str, Any], None]
                ) -> Callable[[Any], None]:
        """Wrap a per-vehicle callback: garbage is counted and logged, never a crash."""
        def handle(msg: Any) -> None:
            try:
                callback(vehicle_id, msg)
            except (RejectedValueError, ValueError, OverflowError) as exc:
                self._reject(str(exc))
        return handle

    def guarded_fleet(self, callback: Callable[[Any], None]) -> Callable[[Any], None]:
        """Wrap a fleet-topic callback: a malformed message is counted and logged."""
        def handle(msg: Any) -> None:
            try:
                callback(msg)
            except (ValueError, OverflowError) as exc:
                self._reject(str(exc))
        return handle

    def _reject(self, reason: str) -> None:
        key = reason.split(":", 1)[0][:80]
        self.rejected[key] = self.rejected.get(key, 0) + 1
        self.get_logger().warning(f"ignored: {reason}", throttle_duration_sec=5.0)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.get_clock().now().nanoseconds * 1e-9, tz=UTC)

    def on_fix(self, vid: str, msg: NavSatFix) -> None:
        if msg.status.status < NavSatStatus.STATUS_FIX:
            return  # no fix: the position means nothing
        sample = self.merger.on_fix(vid, stamp_to_datetime(msg.header.stamp), msg.latitude,
                                    msg.longitude, msg.altitude)
        if sample is None:
            return
        self.writer.submit(sample)
        for flight in self.flights.feed(sample):
            self._closed_flights.append((flight, self.writer.mark()))

    def on_rel_alt(self, vid: str, msg: Float64) -> None:
        self.merger.on_rel_alt(vid, self._now(), msg.data)

    def on_heading(self, vid: str, msg: Float64) -> None:
        self.merger.on_heading(vid, self._now(), msg.data)

    def on_velocity(self, vid: str, msg: TwistStamped) -> None:
        v = msg.twist.linear
        self.merger.on_velocity(vid, stamp_to_datetime(msg.header.stamp), v.x, v.y, v.z)

    def on_battery(self, vid: str, msg: BatteryState) -> None:
        reading = battery_from_mavros(msg.percentage, msg.voltage, msg.current)
        self.merger.on_battery(vid, stamp_to_datetime(msg.header.stamp), reading.percent,
                               reading.voltage_v, reading.current_a)

    def on_state(self, vid: str, msg: State) -> None:
        self.merger.on_state(vid, stamp_to_datetime(msg.header.stamp), msg.mode, msg.armed,
                             msg.connected)

    def on_extended_state(self, vid: str, msg: ExtendedState) -> None:
        self.merger.on_extended_state(vid, stamp_to_datetime(msg.header.stamp),
                                      msg.landed_state)

    # ------------------------------------------------------------------ fleet events
    def on_event(self, msg: CoordinationEvent) -> None:
        self.store.put(coordination_event_row(msg))

    def on_mission_event(self, msg: MissionEvent) -> None:
        self.store.put(mission_event_row(msg))

    def on_missions(self, msg: MissionStatusArray) -> None:
        for row in mission_status_rows(msg):
            # /fleet/missions repeats every mission at the planner's rate: store changes only.
            v = row.values
            key = (v["status"], v["priority"], v["vehicle_id"], v["estimated_distance_m"])
            if self._missions_stored.get(v["id"]) != key:
                self._missions_stored[v["id"]] = key
                self.store.put(row)
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

    def on_zones(self, msg: NoFlyZoneArray) -> None:
        for row in no_fly_zone_rows(msg, self._now()):
            self.store.put(row)

    def on_charging_session(self, msg: ChargingSession) -> None:
        self.store.put(charging_session_row(msg))

    # ------------------------------------------------------------------ housekeeping
    def on_second(self) -> None:
        for flight in self.flights.check_idle(self._now()):
            self._closed_flights.append((flight, self.writer.mark()))
        waiting = []
        for flight, mark in self._closed_flights:
            if self.writer.written(mark):
                self.store.compute_flight(flight)
            else:
                waiting.append((flight, mark))
        self._closed_flights = waiting
        self.publish_diagnostics()

    def publish_diagnostics(self) -> None:
        m = self.writer.metrics()
        s = self.store.metrics()
        values = {**{f"writer.{k}": v for k, v in m.as_dict().items()},
                  **{f"store.{k}": v for k, v in s.items()},
                  **{f"rejected.{k}": v for k, v in self.rejected.items()},
                  "vehicles": len(self.vehicles)}
        level = DiagnosticStatus.OK
        message = "recording"
        if m.last_error:
            level, message = DiagnosticStatus.WARN, f"database: {m.last_error} (spooling)"
        # Rows that could not be journaled (disk failure) or were dropped from a full queue
        # of a journal-less store are the only ways an event can be lost: an operator must see.
        if s.get("journal_error") or s.get("unjournaled"):
            level = DiagnosticStatus.ERROR
            message = (f"event journal failing ({s.get('journal_error') or 'append failed'}); "
                       f"{s.get('unjournaled', 0)} rows not journaled")
        status = DiagnosticStatus(
            level=level, name=f"{self.get_name()}: recorder", hardware_id=self.get_name(),
            message=message, values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
        out = DiagnosticArray()
        out.header.stamp = self.get_clock().now().to_msg()
        out.status = [status]
        self.diagnostics_pub.publish(out)

    def destroy_node(self) -> None:
        """Flush what can be written; the rest stays in the spool for the next start."""
        # A node whose constructor failed (a bad parameter) is destroyed half-built.
        if hasattr(self, "writer"):
            self.writer.close(timeout=5.0)
        if hasattr(self, "store"):
            self.store.close(timeout_s=5.0)
        if hasattr(self, "engine"):
            self.engine.dispose()
        super().destroy_node()


def main(args: Sequence[str] | None = None) -> int:
    """Run the recorder until shutdown."""
    return run_node(TelemetryRecorderNode, args)
