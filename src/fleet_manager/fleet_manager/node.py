"""fleet_manager: every vehicle's MAVROS telemetry into one live fleet picture, and safety."""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geographic_msgs.msg import GeoPoseStamped
from geometry_msgs.msg import TwistStamped
from mavros_msgs.msg import (
    EstimatorStatus,
    ExtendedState,
    HomePosition,
    State,
    StatusText,
    SysStatus,
    WaypointReached,
)
from mavros_msgs.srv import CommandLong, SetMode
from rclpy.client import Client
from rclpy.clock import ROSClock
from rclpy.context import Context
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from sensor_msgs.msg import BatteryState, NavSatFix, NavSatStatus
from std_msgs.msg import Float64
from visualization_msgs.msg import MarkerArray

from fleet_core.errors import ConfigError
from fleet_core.fleet.airspace import Airspace
from fleet_core.fleet.battery import BatteryAction
from fleet_core.fleet.config import FleetSettings, load_fleet_settings_file, vehicle_spec
from fleet_core.fleet.events import Event, EventBook, EventType, Severity
from fleet_core.fleet.model import (
    Liveness,
    RejectReason,
    TelemetryLimits,
    VehicleSpec,
    VehicleState,
    VehicleStatus,
    check_battery,
    check_position,
    check_stamp,
)
from fleet_core.fleet.separation import (
    Track,
    closest_approach,
    find_conflicts,
    yielding_vehicle,
)
from fleet_core.geo import GeoPoint, LocalFrame, haversine_m
from fleet_core.mavlink import SENSORS_PRESENT, LandedState, MavCmd, MavResult
from fleet_core.mavlink import Severity as TextSeverity
from fleet_interfaces.msg import (
    CoordinationEvent,
    FleetStatus,
    MissionStatusArray,
    NoFlyZoneArray,
)
from fleet_interfaces.msg import VehicleStatus as VehicleStatusMsg
from fleet_interfaces.srv import AddVehicle, RemoveVehicle, SetMaintenance, SetNoFlyZones
from fleet_ros.commands import CommandOutcome, CommandRunner
from fleet_ros.entry import installed_config, read_only, run_node
from fleet_ros.fleet_convert import (
    event_msg,
    geopose_msg,
    vehicle_status_msg,
    zone_from_msg,
    zones_msg,
)
from fleet_ros.markers import fleet_markers
from fleet_ros.qos import EVENTS_QOS, FLEET_QOS, MAVROS_TOPIC_QOS


def _stamp_s(header: Any) -> float:
    return float(header.stamp.sec) + float(header.stamp.nanosec) * 1e-9


class _VehicleLink:
    """Subscriptions and MAVROS service clients of one vehicle."""

    def __init__(self, node: FleetManagerNode, state: VehicleState) -> None:
        self.state = state
        p = state.spec.mavros_prefix
        sub = node.create_subscription
        q = MAVROS_TOPIC_QOS
        on = node.sample_callback
        vid = state.vehicle_id
        self.subscriptions = [
            sub(State, f"{p}/state", on(vid, node.on_state), q["state"]),
            sub(ExtendedState, f"{p}/extended_state", on(vid, node.on_extended_state),
                q["extended_state"]),
            sub(BatteryState, f"{p}/battery", on(vid, node.on_battery), q["battery"]),
            sub(NavSatFix, f"{p}/global_position/global", on(vid, node.on_fix),
                q["global_position/global"]),
            sub(Float64, f"{p}/global_position/rel_alt", on(vid, node.on_rel_alt),
                q["global_position/rel_alt"]),
            sub(Float64, f"{p}/global_position/compass_hdg", on(vid, node.on_heading),
                q["global_position/compass_hdg"]),
            sub(TwistStamped, f"{p}/local_position/velocity_local", on(vid, node.on_velocity),
                q["local_position/velocity_local"]),
            sub(HomePosition, f"{p}/home_position/home", on(vid, node.on_home),
                q["home_position/home"]),
            sub(SysStatus, f"{p}/sys_status", on(vid, node.on_sys_status), q["sys_status"]),
            sub(EstimatorStatus, f"{p}/estimator_status", on(vid, node.on_estimator),
                q["estimator_status"]),
            sub(StatusText, f"{p}/statustext/recv", on(vid, node.on_statustext),
                q["statustext/recv"]),
            sub(WaypointReached, f"{p}/mission/reached", on(vid, node.on_reached),
                q["mission/reached"]),
        ]
        self.set_mode: Client[Any, Any] = node.create_client(SetMode, f"{p}/set_mode")
        self.command: Client[Any, Any] = node.create_client(CommandLong, f"{p}/cmd/command")
        self.status_pub = node.create_publisher(VehicleStatusMsg,
                                                f"/fleet/vehicles/{vid}/status", FLEET_QOS)
        self.geopose_pub = node.create_publisher(GeoPoseStamped,
                                                 f"/fleet/vehicles/{vid}/geopose", FLEET_QOS)

    def destroy(self, node: Node) -> None:
        """Drop every subscription, client and publisher of this vehicle."""
        for sub in self.subscriptions:
            node.destroy_subscription(sub)
        node.destroy_client(self.set_mode)
        node.destroy_client(self.command)
        node.destroy_publisher(self.status_pub)
        node.destroy_publisher(self.geopose_pub)


class FleetManagerNode(Node):
    """Keeps the fleet picture, publishes it, and acts on coordination problems."""

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: Sequence[Any] | None = None) -> None:
        super().__init__("fleet_manager", context=context,
                         parameter_overrides=list(parameter_overrides or []))
        self.declare_parameter("config_file", "", read_only(
            "fleet.yaml; empty uses the installed config/fleet.yaml"))
        path = self.get_parameter("config_file").value or installed_config(
            "fleet_manager", "fleet.yaml")
        if not path:
            raise ConfigError("parameter config_file is empty and no installed fleet.yaml found")
        self.settings: FleetSettings = load_fleet_settings_file(path)
        s = self.settings
        self._sample_clock = self.get_clock()
        self.limits = TelemetryLimits()
        self.fleet: dict[str, VehicleState] = {}
        self.links: dict[str, _VehicleLink] = {}
        self.book = EventBook(prefix="fm")
        self.airspace = Airspace(LocalFrame.at(s.origin))
        self.airspace.set_zones(list(s.no_fly_zones))
        self._last_status: dict[str, VehicleStatus] = {}
        self._held: dict[str, str] = {}  # vehicle -> mode to resume after a separation hold
        self._acted: set[tuple[str, str]] = set()  # (vehicle, action) already commanded
        self._pattern = re.compile(s.discovery.prefix_pattern)
        self._marker_ids: dict[str, int] = {}
        self._removed_prefixes: set[str] = set()
        self._trails: dict[str, deque[tuple[float, float, float]]] = {}
        self._warned_at: dict[str, float] = {}  # vehicle -> monotonic time of the last warning
        self.fleet_pub = self.create_publisher(FleetStatus, "/fleet/status", FLEET_QOS)
        self.events_pub = self.create_publisher(CoordinationEvent, "/fleet/events", EVENTS_QOS)
        self.markers_pub = self.create_publisher(MarkerArray, "/fleet/markers", FLEET_QOS)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.zones_pub = self.create_publisher(NoFlyZoneArray, "/fleet/no_fly_zones", FLEET_QOS)
        self._zone_marker_count = 0
        # Which vehicle flies which mission: the planner's view, so the fleet picture says it.
        self.create_subscription(MissionStatusArray, "/fleet/missions", self.on_missions,
                                 FLEET_QOS)
        self.commands = CommandRunner(self, timeout_s=s.command_timeout_s,
                                      retries=s.command_retries, on_done=self.command_done)
        for spec in s.vehicles:
            self.add_vehicle(spec)
        self.publish_zones()
        self.create_service(SetMaintenance, "~/set_maintenance", self.set_maintenance_callback)
        self.create_service(SetNoFlyZones, "~/set_no_fly_zones", self.set_no_fly_zones_callback)
        self.create_service(AddVehicle, "~/add_vehicle", self.add_vehicle_callback)
        self.create_service(RemoveVehicle, "~/remove_vehicle", self.remove_vehicle_callback)
        self.create_timer(1.0 / s.status_rate_hz, self.publish_status)
        self.create_timer(1.0 / s.check_rate_hz, self.check_callback)
        if s.discovery.enabled:
            self.create_timer(s.discovery.period_s, self.discover_callback)
        self.create_timer(1.0, self.publish_markers_and_diagnostics)
        self.get_logger().info(
            f"managing {len(self.fleet)} configured vehicles; discovery "
            f"{'on' if s.discovery.enabled else 'off'}; {len(s.no_fly_zones)} no-fly zones")

    # ------------------------------------------------------------------ vehicles
    def now(self) -> float:
        """Return the node clock in POSIX seconds."""
        clock = self._sample_clock
        # The ROS clock is the system clock unless simulated time overrides it; reading the
        # system clock directly skips two rclpy objects per call, and this runs for every
        # one of ~13k messages a second at 500 vehicles.
        if isinstance(clock, ROSClock) and not clock.ros_time_is_active:
            return time.time()
        return float(clock.now().nanoseconds) * 1e-9

    def add_vehicle(self, spec: VehicleSpec) -> VehicleState:
        """Register a vehicle and subscribe to its MAVROS topics (idempotent)."""
        existing = self.fleet.get(spec.vehicle_id)
        if existing is not None:
            return existing
        state = VehicleState(spec)
        self.fleet[spec.vehicle_id] = state
        self._marker_ids.setdefault(spec.vehicle_id, len(self._marker_ids))
        self._trails[spec.vehicle_id] = deque(maxlen=120)
        self.links[spec.vehicle_id] = _VehicleLink(self, state)
        return state

    def discover_callback(self) -> None:
        """Register any vehicle whose MAVROS state topic appeared in the graph."""
        known = {v.spec.mavros_prefix for v in self.fleet.values()} | self._removed_prefixes
        for name, types in self.get_topic_names_and_types():
            if not name.endswith("/state") or "mavros_msgs/msg/State" not in types:
                continue
            prefix = name[: -len("/state")]
            if prefix in known:
                continue
            m = self._pattern.match(prefix)
            if m is None or m.group("id") in self.fleet:
                continue
            vid = m.group("id")
            self.add_vehicle(VehicleSpec(vehicle_id=vid, mavros_prefix=prefix))
            known.add(prefix)
            self.get_logger().info(f"discovered vehicle {vid} at {prefix}")

    # ------------------------------------------------------------------ ingestion
    def sample_callback(self, vehicle_id: str, handler: Callable[[VehicleState, Any, float], bool]
                        ) -> Callable[[Any], None]:
        """Wrap a topic handler: look up the vehicle, validate, never raise into rclpy."""
        def callback(msg: Any) -> None:
            state = self.fleet.get(vehicle_id)
            if state is None:  # removed while this message was queued
                return
            now = self.now()
            header = getattr(msg, "header", None)
            if header is not None:
                reason = check_stamp(_stamp_s(header), now, self.limits)
                if reason is not None:
                    self._reject(state, reason, msg)
                    return
            try:
                accepted = handler(state, msg, now)
            except (ValueError, TypeError, OverflowError) as exc:
                self._reject(state, RejectReason.OUT_OF_RANGE, msg, str(exc))
                return
            if accepted:
                state.touch(now)
        return callback

    def _reject(self, state: VehicleState, reason: RejectReason, msg: Any,
                detail: str = "") -> None:
        state.reject(reason)
        # Throttled per vehicle, not per call site: one vehicle spewing garbage must not hide
        # the first warning about another.
        now = time.monotonic()
        if now - self._warned_at.get(state.vehicle_id, -math.inf) < 5.0:
            return
        self._warned_at[state.vehicle_id] = now
        self.get_logger().warning(
            f"{state.vehicle_id}: ignored {type(msg).__name__} ({reason.name.lower()}"
            f"{': ' + detail if detail else ''}); {sum(state.rejected.values())} ignored so far")

    def on_state(self, v: VehicleState, msg: State, now: float) -> bool:
        v.connected = bool(msg.connected)
        if not msg.connected:
            return False  # MAVROS's own "link lost" report is not a sign of life
        v.armed = bool(msg.armed)
        v.mode = str(msg.mode)
        return True

    def on_extended_state(self, v: VehicleState, msg: ExtendedState, now: float) -> bool:
        v.landed_state = LandedState(int(msg.landed_state)) \
            if msg.landed_state <= LandedState.LANDING else LandedState.UNDEFINED
        return True

    def on_battery(self, v: VehicleState, msg: BatteryState, now: float) -> bool:
        percent = float(msg.percentage) * 100.0
        reason = check_battery(percent, float(msg.voltage))
        if reason is not None:
            self._reject(v, reason, msg, f"percentage {msg.percentage}, voltage {msg.voltage}")
            return False
        v.battery_percent = percent
        v.battery_voltage = float(msg.voltage)
        v.battery_current = -float(msg.current)  # sensor_msgs: negative while discharging
        v.battery_charging = msg.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_CHARGING
        return True

    def on_fix(self, v: VehicleState, msg: NavSatFix, now: float) -> bool:
        if msg.status.status < NavSatStatus.STATUS_FIX:
            v.gps_fix_ok = False
            return True
        point = GeoPoint(float(msg.latitude), float(msg.longitude), float(msg.altitude))
        reason = check_position(v, point, now, self.limits)
        if reason is not None:
            self._reject(v, reason, msg, f"{point.latitude}, {point.longitude}")
            return False
        v.gps_fix_ok = True
        v.position = point
        v.position_time = now
        return True

    def on_rel_alt(self, v: VehicleState, msg: Float64, now: float) -> bool:
        if not math.isfinite(msg.data) or abs(msg.data) > 20_000:
            self._reject(v, RejectReason.OUT_OF_RANGE, msg, f"rel_alt {msg.data}")
            return False
        v.relative_altitude = float(msg.data)
        return True

    def on_heading(self, v: VehicleState, msg: Float64, now: float) -> bool:
        if math.isfinite(msg.data) and not 0.0 <= msg.data <= 360.0:
            self._reject(v, RejectReason.OUT_OF_RANGE, msg, f"heading {msg.data}")
            return False
        v.heading = float(msg.data)
        return True

    def on_velocity(self, v: VehicleState, msg: TwistStamped, now: float) -> bool:
        lin = msg.twist.linear
        vel = (float(lin.x), float(lin.y), float(lin.z))
        if not all(math.isfinite(c) for c in vel) or math.hypot(*vel) > 3 * v.spec.max_speed:
            self._reject(v, RejectReason.OUT_OF_RANGE, msg, f"velocity {vel}")
            return False
        v.velocity_enu = vel
        return True

    def on_home(self, v: VehicleState, msg: HomePosition, now: float) -> bool:
        home = GeoPoint(float(msg.geo.latitude), float(msg.geo.longitude),
                        float(msg.geo.altitude))
        if not home.is_valid() or not math.isfinite(home.altitude):
            self._reject(v, RejectReason.OUT_OF_RANGE, msg, f"home {home}")
            return False
        v.home = home
        return True

    def on_sys_status(self, v: VehicleState, msg: SysStatus, now: float) -> bool:
        enabled = int(msg.sensors_enabled) & SENSORS_PRESENT
        v.sensors_ok = (int(msg.sensors_health) & enabled) == enabled
        v.motors_ok = bool(int(msg.sensors_health) & 0x8000) or not (enabled & 0x8000)
        return True

    def on_estimator(self, v: VehicleState, msg: EstimatorStatus, now: float) -> bool:
        v.estimator_ok = bool(msg.attitude_status_flag and msg.velocity_horiz_status_flag
                              and msg.pos_horiz_abs_status_flag)
        v.position_estimate_ok = bool(msg.pos_horiz_abs_status_flag
                                      and not msg.gps_glitch_status_flag)
        return True

    def on_statustext(self, v: VehicleState, msg: StatusText, now: float) -> bool:
        if msg.severity <= TextSeverity.WARNING:
            v.warnings.append(str(msg.text)[:200])
        return True

    def on_reached(self, v: VehicleState, msg: WaypointReached, now: float) -> bool:
        v.last_reached_item = int(msg.wp_seq)
        return False  # latched: the last value may be old, so it is no sign of life

    def on_missions(self, msg: MissionStatusArray) -> None:
        """Take each vehicle's current mission from the planner's /fleet/missions."""
        try:
            flying = {m.vehicle_id: m.mission_id for m in msg.missions
                      if m.vehicle_id and m.state in ("assigned", "active", "paused")}
            for vid, v in self.fleet.items():
                v.current_mission_id = flying.get(vid, "")
        except (AttributeError, TypeError) as exc:  # never let a bad message reach rclpy
            self.get_logger().warning(f"ignored /fleet/missions: {exc}",
                                      throttle_duration_sec=5.0)

    # ------------------------------------------------------------------ outputs
    def publish_zones(self) -> None:
        """Publish the zones in force on /fleet/no_fly_zones (latched)."""
        self.zones_pub.publish(zones_msg(list(self.airspace.zones.values()), self.now()))

    def publish_status(self) -> None:
        """Publish /fleet/status and every vehicle's status and geopose."""
        try:
            self._publish_status()
        except _rclpy.RCLError:
            if self.context.ok():
                raise
            # A tick that raced with shutdown: nothing left to publish to.

    def _publish_status(self) -> None:
        now = self.now()
        th = self.settings.liveness
        msgs = []
        counts = [0] * 7
        for vid, v in self.fleet.items():
            status = v.status(now, th)
            liveness = v.liveness(now, th)
            counts[int(status)] += 1
            m = vehicle_status_msg(v, status, liveness, gps_ok=v.gps_ok(now, th))
            msgs.append(m)
            link = self.links[vid]
            # The per-vehicle topics are built and sent only while someone listens: at 500
            # vehicles they are 2,000 messages a second that usually nobody reads. A late
            # subscriber's first sample may be an old one from the durable history; the next
            # tick (at most 1 / status_rate_hz later) brings the current one.
            if link.status_pub.get_subscription_count():
                link.status_pub.publish(m)
            if link.geopose_pub.get_subscription_count():
                pose = geopose_msg(v)
                if pose is not None:
                    link.geopose_pub.publish(pose)
            self._last_status[vid] = status
        fleet = FleetStatus(vehicles=msgs, counts_by_status=counts)
        fleet.stamp = self.get_clock().now().to_msg()
        self.fleet_pub.publish(fleet)

    def publish_markers_and_diagnostics(self) -> None:
        """Publish /fleet/markers (rviz) and /diagnostics, once a second."""
        try:
            self._publish_markers_and_diagnostics()
        except _rclpy.RCLError:
            if self.context.ok():
                raise

    def _publish_markers_and_diagnostics(self) -> None:
        now = self.now()
        th = self.settings.liveness
        frame = self.airspace.frame
        rows = []
        for vid, v in self.fleet.items():
            if v.position is not None:
                trail = self._trails[vid]
                point = frame.to_enu(v.position)
                if not trail or math.dist(trail[-1], point) > 0.5:
                    trail.append(point)
            rows.append((self._marker_ids[vid], v, v.status(now, th)))
        stamp = self.get_clock().now().to_msg()
        # Markers and diagnostics are built only while someone listens (they cost ~15% of a
        # core at 500 vehicles); the trails above are kept either way, so an rviz that
        # connects later still sees where the vehicles have been.
        if self.markers_pub.get_subscription_count():
            zones = list(self.airspace.zones.values())
            self.markers_pub.publish(fleet_markers(rows, self._trails, zones, frame, stamp,
                                                   pads=self.settings.pads,
                                                   stale_zones=self._zone_marker_count))
            self._zone_marker_count = len(zones)
        if self.diagnostics_pub.get_subscription_count():
            self.diagnostics_pub.publish(self._diagnostics(rows, now, stamp))

    def _diagnostics(self, rows: list[tuple[int, VehicleState, VehicleStatus]], now: float,
                     stamp: Any) -> DiagnosticArray:
        th = self.settings.liveness
        diag = DiagnosticArray()
        diag.header.stamp = stamp
        for _, v, status in rows:
            liveness = v.liveness(now, th)
            gps_ok = v.gps_ok(now, th)
            healthy = gps_ok and v.estimator_ok and v.sensors_ok and v.motors_ok
            level = (DiagnosticStatus.STALE if liveness is Liveness.LOST else
                     DiagnosticStatus.WARN if liveness is Liveness.STALE or not healthy else
                     DiagnosticStatus.OK)
            diag.status.append(DiagnosticStatus(
                level=level, name=f"fleet_manager: {v.vehicle_id}", hardware_id=v.vehicle_id,
                message=f"{status.name.lower()}, {liveness.name.lower()}",
                values=[KeyValue(key="mode", value=v.mode),
                        KeyValue(key="battery_percent", value=f"{v.battery_percent:.1f}"),
                        KeyValue(key="gps_ok", value=str(gps_ok)),
                        KeyValue(key="estimator_ok", value=str(v.estimator_ok)),
                        KeyValue(key="sensors_ok", value=str(v.sensors_ok)),
                        KeyValue(key="rejected_samples", value=str(sum(v.rejected.values())))]))
        rejected = sum(sum(v.rejected.values()) for v in self.fleet.values())
        diag.status.append(DiagnosticStatus(
            level=DiagnosticStatus.OK, name="fleet_manager", hardware_id="fleet_manager",
            message=f"{len(self.fleet)} vehicles",
            values=[KeyValue(key="vehicles", value=str(len(self.fleet))),
                    KeyValue(key="rejected_samples", value=str(rejected)),
                    KeyValue(key="commands_in_flight", value=str(self.commands.pending)),
                    KeyValue(key="no_fly_zones", value=str(len(self.airspace.zones)))]))
        return diag

    def emit(self, event: Event | None) -> None:
        """Publish an event that opened, escalated or resolved."""
        if event is None:
            return
        self.events_pub.publish(event_msg(event))
        text = (f"event {event.event_id} {event.type.name.lower()} "
                f"{'resolved' if event.resolved else 'open'} {list(event.vehicle_ids)}: "
                f"{event.resolution}")
        # rclpy forbids one logging call site from changing severity: two call sites.
        if event.resolved:
            self.get_logger().info(text)
        else:
            self.get_logger().warning(text)

    # ------------------------------------------------------------------ coordination
    def check_callback(self) -> None:
        """Run the coordination checks and publish status at once if any status changed."""
        now = self.now()
        th = self.settings.liveness
        changed = any(v.status(now, th) != self._last_status.get(vid)
                      for vid, v in self.fleet.items())
        self._check_links(now)
        self._check_battery(now)
        self._check_airspace(now)
        if self.settings.separation_enabled:
            self._check_separation(now)
        if changed:
            self.publish_status()

    def _check_links(self, now: float) -> None:
        th = self.settings.liveness
        for vid, v in self.fleet.items():
            key = ("link", vid)
            if v.last_seen is None:
                continue
            liveness = v.liveness(now, th)
            if liveness is Liveness.LOST:
                self.emit(self.book.open(key, type_=EventType.LINK_LOST, vehicle_ids=(vid,),
                                         severity=Severity.CRITICAL, now=now,
                                         resolution="waiting for the link to recover",
                                         data={"last_seen_s_ago": f"{now - v.last_seen:.1f}"}))
            elif liveness is Liveness.FRESH:
                self.emit(self.book.resolve(key, now, "link restored"))

    def _check_battery(self, now: float) -> None:
        policy = self.settings.battery
        for vid, v in self.fleet.items():
            if v.maintenance or v.liveness(now, self.settings.liveness) is Liveness.LOST:
                continue
            dist = haversine_m(v.position, v.home) if v.position and v.home else 0.0
            action = policy.decide(v.battery_percent, v.airborne, dist, v.spec.max_range_m)
            key = ("battery", vid)
            data = {"percent": f"{v.battery_percent:.1f}", "distance_home_m": f"{dist:.0f}"}
            if action is BatteryAction.NONE:
                self.emit(self.book.resolve(key, now, "battery above the warning level"))
                self._acted.discard((vid, "battery"))
            elif action is BatteryAction.WARN:
                self.emit(self.book.open(key, type_=EventType.LOW_BATTERY, vehicle_ids=(vid,),
                                         severity=Severity.WARNING, now=now, data=data,
                                         resolution="warning only"))
            else:
                rtl = action is BatteryAction.RETURN
                what = "return to launch" if rtl else "land: home out of reach"
                self.emit(self.book.open(key, type_=EventType.LOW_BATTERY, vehicle_ids=(vid,),
                                         severity=Severity.CRITICAL, now=now, data=data,
                                         resolution=f"commanded {what}"))
                if (vid, "battery") not in self._acted and v.mode not in ("AUTO.RTL",
                                                                          "AUTO.LAND"):
                    self._acted.add((vid, "battery"))
                    self.command(vid, MavCmd.NAV_RETURN_TO_LAUNCH if rtl else MavCmd.NAV_LAND,
                                 what)

    def _check_airspace(self, now: float) -> None:
        frame = self.airspace.frame
        hit_keys: set[tuple[str, ...]] = set()
        for vid, v in self.fleet.items():
            if v.position is None or not v.airborne or v.maintenance:
                continue
            e, n, _ = frame.to_enu(v.position)
            rel = v.relative_altitude if math.isfinite(v.relative_altitude) else 0.0
            for hit in self.airspace.check(vid, east=e, north=n, rel_alt=rel,
                                           velocity=v.velocity_enu,
                                           lookahead_s=self.settings.separation.lookahead_s,
                                           now=now):
                key = ("airspace", vid, hit.zone_id)
                hit_keys.add(key)
                action = (self.settings.response.airspace_on_inside if hit.inside else
                          self.settings.response.airspace_on_predicted_entry)
                what = {"rtl": "return to launch", "land": "land where it is",
                        "hold": "hold before the zone" if not hit.inside else "hold"}[action]
                self.emit(self.book.open(
                    key, type_=EventType.AIRSPACE_CONFLICT, vehicle_ids=(vid,),
                    severity=Severity.CRITICAL if hit.inside else Severity.WARNING, now=now,
                    data={"zone": hit.zone_id, "inside": str(hit.inside).lower()},
                    resolution=f"commanded {what}"))
                if (vid, f"airspace:{hit.zone_id}") not in self._acted:
                    self._acted.add((vid, f"airspace:{hit.zone_id}"))
                    self.safety_action(vid, action, what)
        for open_key in self.book.open_keys("airspace"):
            if open_key not in hit_keys:
                self.emit(self.book.resolve(open_key, now, "clear of the zone"))
                self._acted.discard((open_key[1], f"airspace:{open_key[2]}"))

    def _check_separation(self, now: float) -> None:
        frame = self.airspace.frame
        tracks = []
        priority = {}
        th = self.settings.liveness
        for vid, v in self.fleet.items():
            if v.position is None or not v.airborne or v.liveness(now, th) is Liveness.LOST:
                continue
            e, n, u = frame.to_enu(v.position)
            ve, vn, vu = v.velocity_enu
            tracks.append(Track(vid, e, n, u, ve, vn, vu))
            priority[vid] = 2 if v.mode == "AUTO.MISSION" else 1
        conflicts = {c.key: c for c in find_conflicts(tracks, self.settings.separation)}
        for key, c in conflicts.items():
            yielder = yielding_vehicle(c, priority)
            opened = self.book.open(
                ("separation", *key), type_=EventType.COLLISION_AVOIDANCE, vehicle_ids=key,
                severity=Severity.CRITICAL, now=now,
                data={"time_to_closest_s": f"{c.time_to_closest_s:.1f}",
                      "horizontal_m": f"{c.horizontal_m:.1f}", "vertical_m": f"{c.vertical_m:.1f}",
                      "yielding": yielder},
                resolution=f"{yielder} holds position until separation is restored")
            if opened is not None and yielder not in self._held:
                y = self.fleet[yielder]
                self._held[yielder] = y.mode
                if self.settings.response.separation_strategy == "hold":
                    self.set_mode(yielder, "AUTO.LOITER", "hold for separation")
                else:
                    self.hold_with_offset(yielder, self.settings.separation_climb_m)
            self.emit(opened)
        by_id = {t.vehicle_id: t for t in tracks}
        rules = self.settings.separation
        for open_key in self.book.open_keys("separation"):
            pair = (open_key[1], open_key[2])
            if pair in conflicts:
                continue
            a, b = by_id.get(pair[0]), by_id.get(pair[1])
            if a is not None and b is not None:
                # The altitude offset is what separates them now: resuming (and descending
                # back) must wait until their paths are clear horizontally.
                _, horizontal, _ = closest_approach(a, b, rules.lookahead_s)
                if horizontal < rules.horizontal_m:
                    continue
            self.emit(self.book.resolve(open_key, now, "separation restored"))
            for vid in pair:
                resume = self._held.pop(vid, None)
                if resume == "AUTO.MISSION":
                    self.set_mode(vid, "AUTO.MISSION", "resume after separation hold")

    # ------------------------------------------------------------------ commands
    def command(self, vehicle_id: str, cmd: MavCmd, what: str) -> None:
        """Send a COMMAND_LONG to the vehicle (non-blocking, with deadline and retries)."""
        self.commands.send(self.links[vehicle_id].command, CommandLong.Request(command=int(cmd)),
                           vehicle_id=vehicle_id, what=what,
                           accept=lambda r: bool(r.success) and r.result == MavResult.ACCEPTED)

    def safety_action(self, vehicle_id: str, action: str, what: str) -> None:
        """Carry out a configured safety action: hold, rtl or land."""
        if action == "hold":
            self.set_mode(vehicle_id, "AUTO.LOITER", what)
        else:
            self.command(vehicle_id, MavCmd.NAV_RETURN_TO_LAUNCH if action == "rtl"
                         else MavCmd.NAV_LAND, what)

    def hold_with_offset(self, vehicle_id: str, climb_m: float) -> None:
        """Hold where the vehicle is, ``climb_m`` higher (DO_REPOSITION, NaN = keep lat/lon)."""
        v = self.fleet[vehicle_id]
        if v.position is None:
            self.set_mode(vehicle_id, "AUTO.LOITER", "hold for separation")
            return
        nan = math.nan
        request = CommandLong.Request(command=int(MavCmd.DO_REPOSITION), param1=-1.0,
                                      param4=nan, param5=nan, param6=nan,
                                      param7=float(v.position.altitude + climb_m))
        self.commands.send(self.links[vehicle_id].command, request, vehicle_id=vehicle_id,
                           what=f"hold {climb_m:.0f} m higher for separation",
                           accept=lambda r: bool(r.success) and r.result == MavResult.ACCEPTED)

    def set_mode(self, vehicle_id: str, mode: str, what: str) -> None:
        """Request a mode change (non-blocking, with deadline and retries)."""
        self.commands.send(self.links[vehicle_id].set_mode, SetMode.Request(custom_mode=mode),
                           vehicle_id=vehicle_id, what=what, accept=lambda r: bool(r.mode_sent))

    def command_done(self, outcome: CommandOutcome) -> None:
        """Log a command's outcome; a refused or unanswered command becomes an event."""
        if outcome.ok:
            self.get_logger().info(f"{outcome.vehicle_id}: {outcome.what}: {outcome.detail}")
            return
        # A one-shot event: nothing stays open (and nothing accumulates in the book).
        self.emit(self.book.notice(
            type_=EventType.COMMAND_FAILED, vehicle_ids=(outcome.vehicle_id,),
            severity=Severity.CRITICAL, now=self.now(),
            data={"command": outcome.what, "attempts": str(outcome.attempts)},
            resolution=f"{outcome.what} failed: {outcome.detail}"))

    # ------------------------------------------------------------------ services
    def set_maintenance_callback(self, request: SetMaintenance.Request,
                                 response: SetMaintenance.Response) -> SetMaintenance.Response:
        v = self.fleet.get(request.vehicle_id)
        if v is None:
            response.success = False
            response.message = (f"unknown vehicle_id {request.vehicle_id!r}; known: "
                                f"{sorted(self.fleet)}")
            return response
        v.maintenance = bool(request.enabled)
        response.success = True
        response.message = (f"{v.vehicle_id} {'in' if v.maintenance else 'out of'} maintenance"
                            + (f": {request.reason}" if request.reason else ""))
        self.get_logger().info(response.message)
        self.publish_status()
        return response

    def add_vehicle_callback(self, request: AddVehicle.Request,
                             response: AddVehicle.Response) -> AddVehicle.Response:
        vid = request.vehicle_id
        prefix = request.mavros_prefix or f"/{vid}/mavros"
        try:
            spec = vehicle_spec({"id": vid, "mavros_prefix": prefix,
                                 "model": request.model or "multirotor"}, "add_vehicle")
        except ConfigError as exc:
            response.success = False
            response.message = str(exc)
            return response
        if vid in self.fleet:
            response.success = False
            response.message = f"vehicle {vid!r} is already registered"
            return response
        if any(v.spec.mavros_prefix == prefix for v in self.fleet.values()):
            response.success = False
            response.message = f"MAVROS prefix {prefix} already belongs to another vehicle"
            return response
        self._removed_prefixes.discard(prefix)
        self.add_vehicle(spec)
        response.success = True
        response.message = f"added {vid} at {prefix}"
        self.get_logger().info(response.message)
        return response

    def remove_vehicle_callback(self, request: RemoveVehicle.Request,
                                response: RemoveVehicle.Response) -> RemoveVehicle.Response:
        vid = request.vehicle_id
        link = self.links.pop(vid, None)
        if link is None:
            response.success = False
            response.message = f"unknown vehicle_id {vid!r}; known: {sorted(self.fleet)}"
            return response
        link.destroy(self)
        del self.fleet[vid]
        self._last_status.pop(vid, None)
        self._held.pop(vid, None)
        self._trails.pop(vid, None)
        self._warned_at.pop(vid, None)
        now = self.now()
        for key in [k for k in self.book.open_keys("link") + self.book.open_keys("battery")
                    if vid in k]:
            self.emit(self.book.resolve(key, now, f"{vid} removed from the fleet"))
        response.success = True
        # Discovery must not bring it straight back while its topics still exist.
        self._removed_prefixes.add(link.state.spec.mavros_prefix)
        response.message = f"removed {vid}; add_vehicle brings it back"
        self.get_logger().info(response.message)
        self.publish_status()
        return response

    def set_no_fly_zones_callback(self, request: SetNoFlyZones.Request,
                                  response: SetNoFlyZones.Response) -> SetNoFlyZones.Response:
        try:
            zones = [zone_from_msg(z) for z in request.zones]
            self.airspace.set_zones(zones)
        except ValueError as exc:
            response.success = False
            response.message = f"no-fly zones rejected, nothing changed: {exc}"
            return response
        response.success = True
        response.message = f"{len(zones)} no-fly zones in force"
        self.get_logger().info(response.message)
        self.publish_zones()
        return response


def main(args: list[str] | None = None) -> int:
    """Run fleet_manager as a process."""
    return run_node(FleetManagerNode, args)
