"""fleet_manager: every vehicle's MAVROS telemetry into one live fleet picture, and safety.

The rules live in fleet_core.fleet (telemetry, coordination, picture, registry); this node
subscribes, decodes (fleet_ros.mavros_convert), publishes and sends MAVROS commands.

One process does all of it (role ``whole``), or a large fleet is split (fleet_core.fleet.shards):
``ingest`` processes each subscribe to a share of the vehicles and send what they accepted on
/fleet/telemetry; one ``merge`` process keeps the picture from those batches, runs the
coordination checks across every vehicle and sends the commands.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, assert_never

from diagnostic_msgs.msg import DiagnosticArray
from geographic_msgs.msg import GeoPoseStamped
from mavros_msgs.srv import CommandLong, SetMode
from rclpy.client import Client
from rclpy.clock import ROSClock
from rclpy.context import Context
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from visualization_msgs.msg import MarkerArray

from fleet_core.errors import ConfigError
from fleet_core.fleet.airspace import Airspace
from fleet_core.fleet.config import FleetSettings, load_fleet_settings_file
from fleet_core.fleet.coordination import (
    Coordinator,
    Hold,
    HoldAt,
    Land,
    ResumeMission,
    ReturnToLaunch,
    SafetyCommand,
)
from fleet_core.fleet.events import Event
from fleet_core.fleet.model import RejectReason, TelemetryLimits, VehicleSpec, VehicleState
from fleet_core.fleet.picture import StatusWatch, VehicleView, fleet_report, vehicle_report
from fleet_core.fleet.registry import Registry, UnknownVehicleError
from fleet_core.fleet.shards import Role, Shard, role_and_shard
from fleet_core.fleet.telemetry import Rejected, take
from fleet_core.geo import LocalFrame
from fleet_core.mavlink import MavCmd, MavResult, Px4Mode
from fleet_core.mavros_topics import MavrosTopic
from fleet_interfaces.msg import (
    CoordinationEvent,
    FleetStatus,
    MissionStatusArray,
    NoFlyZoneArray,
    VehicleStatus,
)
from fleet_interfaces.srv import AddVehicle, RemoveVehicle, SetMaintenance, SetNoFlyZones
from fleet_ros.commands import CommandOutcome, CommandRunner
from fleet_ros.entry import read_only, run_node
from fleet_ros.fleet_convert import (
    current_missions_from_msg,
    diagnostics_msg,
    event_msg,
    fleet_status_msg,
    geopose_msg,
    vehicle_status_msg,
    zone_from_msg,
    zones_msg,
)
from fleet_ros.fleet_topics import TELEMETRY
from fleet_ros.markers import FleetMarkers
from fleet_ros.mavros_io import subscribe
from fleet_ros.mavros_raw import RAW_DECODERS, RawDecoder
from fleet_ros.parameters import config_file_parameter
from fleet_ros.qos import EVENTS_QOS, FLEET_QOS, TELEMETRY_LIVE_QOS
from fleet_ros.telemetry_batch import BatchBuilder, batch_samples

__all__ = ["FLEET_QOS", "FleetManagerNode", "main"]  # FLEET_QOS: bench/fleet_manager_load.py

# Subscribing to one vehicle creates 16 entities (~10 ms); a fleet of 1,000 appearing at once
# took one 10 s callback, during which /fleet/status stopped. Each discovery tick adds what fits
# in this much time, so the status timer keeps its rate while a large fleet comes up.
_DISCOVERY_BUDGET_S = 0.25
_CATCH_UP_PERIOD_S = 0.05
_BATCH_PERIOD_S = 0.1  # /fleet/telemetry: a batch every 100 ms
_WARN_EVERY_S = 5.0  # per vehicle: the log must not drown in one vehicle's garbage


def _accepted(response: Any) -> bool:
    return bool(response.success) and response.result == MavResult.ACCEPTED


class _VehicleLink:
    """Subscriptions, MAVROS service clients and per-vehicle publishers of one vehicle, as
    far as the process's role needs them."""

    def __init__(self, node: FleetManagerNode, state: VehicleState) -> None:
        self.state = state
        self._node = node
        p = state.spec.mavros_prefix
        vid = state.vehicle_id
        # Raw: the bytes are decoded by fleet_ros.mavros_raw, which reads the position-rate
        # topics without building message objects (62 vs 25 us a message, measured).
        self.subscriptions = subscribe(node, p, {
            topic: node.sample_callback(vid, topic, decode)
            for topic, decode in RAW_DECODERS.items()}, raw=True) \
            if node.role is not Role.MERGE else {}
        self._clients: dict[str, Client[Any, Any]] = {}
        if node.role is Role.WHOLE:
            # Made up front: a safety command must not first wait for DDS to match a new
            # client. A merge process makes them on first use instead (4 entities a vehicle
            # it would otherwise create for commands that are rare; CommandRunner waits for
            # the service within the command's deadline).
            self._client(SetMode, "set_mode")
            self._client(CommandLong, "cmd/command")
        self.status_pub = self.geopose_pub = None
        if node.role is not Role.INGEST and node.vehicle_topics:
            self.status_pub = node.create_publisher(
                VehicleStatus, f"/fleet/vehicles/{vid}/status", FLEET_QOS)
            self.geopose_pub = node.create_publisher(
                GeoPoseStamped, f"/fleet/vehicles/{vid}/geopose", FLEET_QOS)

    def _client(self, srv: Any, name: str) -> Client[Any, Any]:
        client = self._clients.get(name)
        if client is None:
            client = self._clients[name] = self._node.create_client(
                srv, f"{self.state.spec.mavros_prefix}/{name}")
        return client

    @property
    def set_mode(self) -> Client[Any, Any]:
        """The vehicle's MAVROS set_mode client."""
        return self._client(SetMode, "set_mode")

    @property
    def command(self) -> Client[Any, Any]:
        """The vehicle's MAVROS cmd/command client."""
        return self._client(CommandLong, "cmd/command")

    def destroy(self, node: Node) -> None:
        """Drop every subscription, client and publisher of this vehicle."""
        for sub in self.subscriptions.values():
            node.destroy_subscription(sub)
        for client in self._clients.values():
            node.destroy_client(client)
        for pub in (self.status_pub, self.geopose_pub):
            if pub is not None:
                node.destroy_publisher(pub)


class FleetManagerNode(Node):
    """Keeps the fleet picture, publishes it, and acts on coordination problems."""

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: Sequence[Any] | None = None) -> None:
        super().__init__("fleet_manager", context=context,
                         parameter_overrides=list(parameter_overrides or []))
        path = config_file_parameter(self, "fleet_manager", "fleet.yaml",
                                     "fleet.yaml: vehicles, zones, safety responses")
        self.declare_parameter("role", "whole", read_only(
            "whole: one process for the fleet; ingest: subscribe to one shard's vehicles and "
            "send what was accepted on /fleet/telemetry; merge: the picture, checks and "
            "commands from the ingest shards' /fleet/telemetry"))
        self.declare_parameter("shard", "", read_only(
            "role ingest: this process's shard 'k/N' (the vehicles whose id hashes to k)"))
        self.declare_parameter("vehicle_topics", True, read_only(
            "publish /fleet/vehicles/<id>/status and geopose (2 publishers a vehicle)"))
        self.role: Role
        self.shard: Shard | None
        self.role, self.shard = role_and_shard(str(self.get_parameter("role").value),
                                               str(self.get_parameter("shard").value))
        self.vehicle_topics = bool(self.get_parameter("vehicle_topics").value)
        self.settings: FleetSettings = load_fleet_settings_file(path)
        s = self.settings
        self._sample_clock = self.get_clock()
        self.limits = TelemetryLimits()
        self.registry = Registry(s.discovery.prefix_pattern)
        self.fleet: dict[str, VehicleState] = self.registry.vehicles
        self.links: dict[str, _VehicleLink] = {}
        self._warned_at: dict[str, float] = {}  # vehicle -> monotonic time of the last warning
        self.unknown_samples = 0  # merge: samples of vehicles not registered (yet)
        self._batch_sequences: dict[str, int] = {}  # merge: ingest source -> last sequence
        # What the recorder stores (and a merge process reads): the accepted samples, one
        # batch per tick (see fleet_ros.telemetry_batch). Always, even before anyone listens:
        # the topic keeps the last batches for a late joiner, so a recorder that starts (or
        # restarts) a few seconds after the vehicles still gets every sample (~2 us a
        # sample, measured). A merge process sends none: the shards' batches are the record.
        # The source names the shard too: two shards under one node name (a launch without
        # remapping) must not look like one source whose sequence goes back and forth.
        self.batch = BatchBuilder(self.get_fully_qualified_name()
                                  + (f"[{self.shard}]" if self.shard else ""))
        if self.role is not Role.MERGE:
            self.telemetry_pub = self.create_publisher(TELEMETRY.msg_type, TELEMETRY.name,
                                                       TELEMETRY.qos)
            self.create_timer(_BATCH_PERIOD_S, self.publish_telemetry)
        else:
            # Volatile: the shards' kept history is for the recorder; to the picture, samples
            # from before this process started are stale.
            self.create_subscription(TELEMETRY.msg_type, TELEMETRY.name, self.on_shard_batch,
                                     TELEMETRY_LIVE_QOS)
        if self.role is not Role.INGEST:
            self._start_picture()
        for spec in s.vehicles:
            if self._owns(spec.vehicle_id):
                self.add_vehicle(spec)
        self._undiscovered: list[VehicleSpec] = []
        self._catch_up = self.create_timer(_CATCH_UP_PERIOD_S, self.add_discovered_callback)
        self._catch_up.cancel()
        if s.discovery.enabled:
            self.create_timer(s.discovery.period_s, self.discover_callback)
        shard = f" {self.shard}" if self.shard else ""
        self.get_logger().info(
            f"role {self.role.value}{shard}: managing {len(self.fleet)} configured vehicles; "
            f"discovery {'on' if s.discovery.enabled else 'off'}; "
            f"{len(s.no_fly_zones)} no-fly zones")

    def _owns(self, vehicle_id: str) -> bool:
        return self.shard is None or self.shard.owns(vehicle_id)

    def _start_picture(self) -> None:
        """The picture's parts: status, events, zones, coordination, commands, services."""
        s = self.settings
        self.airspace = Airspace(LocalFrame.at(s.origin))
        self.airspace.set_zones(list(s.no_fly_zones))
        self.coordinator = Coordinator(s, self.airspace)
        self.statuses = StatusWatch()
        self.markers = FleetMarkers(self.airspace.frame, s.pads)
        self.fleet_pub = self.create_publisher(FleetStatus, "/fleet/status", FLEET_QOS)
        self.events_pub = self.create_publisher(CoordinationEvent, "/fleet/events", EVENTS_QOS)
        self.markers_pub = self.create_publisher(MarkerArray, "/fleet/markers", FLEET_QOS)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.zones_pub = self.create_publisher(NoFlyZoneArray, "/fleet/no_fly_zones", FLEET_QOS)
        # Which vehicle flies which mission: the planner's view, so the fleet picture says it.
        self.create_subscription(MissionStatusArray, "/fleet/missions", self.on_missions,
                                 FLEET_QOS)
        self.commands = CommandRunner(self, timeout_s=s.command_timeout_s,
                                      retries=s.command_retries, on_done=self.command_done)
        self.publish_zones()
        self.create_service(SetMaintenance, "~/set_maintenance", self.set_maintenance_callback)
        self.create_service(SetNoFlyZones, "~/set_no_fly_zones", self.set_no_fly_zones_callback)
        self.create_service(AddVehicle, "~/add_vehicle", self.add_vehicle_callback)
        self.create_service(RemoveVehicle, "~/remove_vehicle", self.remove_vehicle_callback)
        self.create_timer(1.0 / s.status_rate_hz, self.publish_status)
        self.create_timer(1.0 / s.check_rate_hz, self.check_callback)
        self.create_timer(1.0, self.publish_markers_and_diagnostics)

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
        state = self.registry.add(spec)
        if state is None:
            return self.fleet[spec.vehicle_id]
        self.links[spec.vehicle_id] = _VehicleLink(self, state)
        return state

    def discover_callback(self) -> None:
        """Register the vehicles whose MAVROS state topic appeared in the graph, for at most
        _DISCOVERY_BUDGET_S at a time: the rest follow on a fast timer."""
        self._unless_shut_down(self._discover)

    def _discover(self) -> None:
        self._undiscovered = [spec for spec in
                              self.registry.discover(self.get_topic_names_and_types())
                              if self._owns(spec.vehicle_id)]
        self._add_discovered()

    def add_discovered_callback(self) -> None:
        """Go on adding the vehicles the last search found (a fast timer, while any are left)."""
        self._unless_shut_down(self._add_discovered)

    def _add_discovered(self) -> None:
        deadline = time.monotonic() + _DISCOVERY_BUDGET_S
        while self._undiscovered and time.monotonic() < deadline:
            spec = self._undiscovered.pop(0)
            if spec.vehicle_id in self.fleet:
                continue
            self.add_vehicle(spec)
            self.get_logger().info(f"discovered vehicle {spec.vehicle_id} at "
                                   f"{spec.mavros_prefix}")
        # The rest on the next turn of the executor, not the next search: other callbacks
        # (the status timer) run in between.
        if self._undiscovered:
            self._catch_up.reset()
        else:
            self._catch_up.cancel()

    # ------------------------------------------------------------------ ingestion
    def sample_callback(self, vehicle_id: str, topic: MavrosTopic, decode: RawDecoder
                        ) -> Callable[[bytes], None]:
        """Wrap a topic's decoder: look up the vehicle, take the sample, hand it to the
        telemetry batch while the recorder listens; never raise into rclpy."""
        def callback(data: bytes) -> None:
            state = self.fleet.get(vehicle_id)
            if state is None:  # removed while this message was queued
                return
            now = self.now()
            stamp, value = decode(data)
            try:
                rejected = take(state, value, stamp, now, self.limits)
            except (ValueError, TypeError, OverflowError) as exc:
                rejected = Rejected(RejectReason.OUT_OF_RANGE, str(exc))
            if rejected is not None:
                self._reject(state, rejected, topic.value)
            else:
                self.batch.add(vehicle_id, now if stamp is None else stamp,
                               value)  # type: ignore[arg-type]
        return callback

    def on_shard_batch(self, msg: Any) -> None:
        """Merge: take the samples an ingest shard accepted into the picture, in order."""
        source, seq = str(msg.source), int(msg.sequence)
        last = self._batch_sequences.get(source)
        if last is not None and seq <= last:
            return  # seen already
        if last is not None and seq > last + 1:
            self.get_logger().warning(f"{seq - last - 1} telemetry batches from {source} "
                                      f"lost between {last} and {seq}",
                                      throttle_duration_sec=5.0)
        self._batch_sequences[source] = seq
        now = self.now()
        fleet, limits = self.fleet, self.limits
        try:
            for sample in batch_samples(msg):
                state = fleet.get(sample.vehicle_id)
                if state is None:  # not discovered here yet, or removed
                    self.unknown_samples += 1
                    continue
                try:
                    rejected = take(state, sample.value, sample.stamp, now, limits)
                except (TypeError, OverflowError) as exc:
                    rejected = Rejected(RejectReason.OUT_OF_RANGE, str(exc))
                if rejected is not None:
                    self._reject(state, rejected, f"{source} batch")
        except ValueError as exc:  # a malformed batch: what came before it counts
            self.get_logger().warning(f"ignored the rest of a telemetry batch: {exc}",
                                      throttle_duration_sec=5.0)

    def _reject(self, state: VehicleState, rejected: Rejected, topic: str) -> None:
        state.reject(rejected.reason)
        # Throttled per vehicle, not per call site: one vehicle spewing garbage must not hide
        # the first warning about another.
        now = time.monotonic()
        if now - self._warned_at.get(state.vehicle_id, -math.inf) < _WARN_EVERY_S:
            return
        self._warned_at[state.vehicle_id] = now
        detail = f": {rejected.detail}" if rejected.detail else ""
        self.get_logger().warning(
            f"{state.vehicle_id}: ignored {topic} "
            f"({rejected.reason.name.lower()}{detail}); "
            f"{sum(state.rejected.values())} ignored so far")

    def on_missions(self, msg: MissionStatusArray) -> None:
        """Take each vehicle's current mission from the planner's /fleet/missions."""
        try:
            current = current_missions_from_msg(msg)
        except (AttributeError, TypeError) as exc:  # never let a bad message reach rclpy
            self.get_logger().warning(f"ignored /fleet/missions: {exc}",
                                      throttle_duration_sec=5.0)
            return
        for vid, v in self.fleet.items():
            v.current_mission_id = current.get(vid, "")

    # ------------------------------------------------------------------ outputs
    def publish_zones(self) -> None:
        """Publish the zones in force on /fleet/no_fly_zones (latched)."""
        self.zones_pub.publish(zones_msg(list(self.airspace.zones.values()), self.now()))

    def publish_status(self) -> None:
        """Publish /fleet/status and every vehicle's status and geopose."""
        self._unless_shut_down(self._publish_status)

    def publish_telemetry(self) -> None:
        """Publish the samples accepted since the last tick on /fleet/telemetry."""
        self._unless_shut_down(self._publish_telemetry)

    def _publish_telemetry(self) -> None:
        batch = self.batch.take(self.get_clock().now().to_msg())
        if batch is not None:
            self.telemetry_pub.publish(batch)

    def publish_markers_and_diagnostics(self) -> None:
        """Publish /fleet/markers (rviz) and /diagnostics, once a second."""
        self._unless_shut_down(self._publish_markers_and_diagnostics)

    def _unless_shut_down(self, publish: Callable[[], None]) -> None:
        try:
            publish()
        except _rclpy.RCLError:
            if self.context.ok():
                raise
            # A tick that raced with shutdown: nothing left to publish to.

    def _views(self) -> list[VehicleView]:
        now, th = self.now(), self.settings.liveness
        return [VehicleView.at(v, now, th) for v in self.fleet.values()]

    def _publish_status(self) -> None:
        views = self._views()
        msgs = []
        for view in views:
            m = vehicle_status_msg(view)
            msgs.append(m)
            link = self.links[view.state.vehicle_id]
            # The per-vehicle topics are built and sent only while someone listens: at 500
            # vehicles they are 2,000 messages a second that usually nobody reads. A late
            # subscriber's first sample may be an old one from the durable history; the next
            # tick (at most 1 / status_rate_hz later) brings the current one.
            if link.status_pub is not None and link.status_pub.get_subscription_count():
                link.status_pub.publish(m)
            if link.geopose_pub is not None and link.geopose_pub.get_subscription_count():
                pose = geopose_msg(view.state)
                if pose is not None:
                    link.geopose_pub.publish(pose)
        self.statuses.published(views)
        self.fleet_pub.publish(fleet_status_msg(views, msgs, self.get_clock().now().to_msg()))

    def _publish_markers_and_diagnostics(self) -> None:
        views = self._views()
        self.markers.record(views)
        stamp = self.get_clock().now().to_msg()
        # Markers and diagnostics are built only while someone listens (they cost ~15% of a
        # core at 500 vehicles).
        if self.markers_pub.get_subscription_count():
            zones = list(self.airspace.zones.values())
            self.markers_pub.publish(self.markers.draw(views, zones, stamp))
        if self.diagnostics_pub.get_subscription_count():
            reports = [vehicle_report(view) for view in views]
            reports.append(fleet_report(self.fleet, commands_in_flight=self.commands.pending,
                                        no_fly_zones=len(self.airspace.zones)))
            self.diagnostics_pub.publish(diagnostics_msg(reports, stamp))

    def emit(self, event: Event) -> None:
        """Publish an event that opened, escalated or resolved."""
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
        changed = self.statuses.changed(self.fleet, now, self.settings.liveness)
        reaction = self.coordinator.check(self.fleet, now)
        for event in reaction.events:
            self.emit(event)
        for command in reaction.commands:
            self.apply(command)
        if changed:
            self.publish_status()

    def apply(self, command: SafetyCommand) -> None:
        """Send a safety command to its vehicle (non-blocking, with deadline and retries)."""
        match command:
            case Hold(vid, what):
                self.set_mode(vid, Px4Mode.LOITER, what)
            case ResumeMission(vid, what):
                self.set_mode(vid, Px4Mode.MISSION, what)
            case ReturnToLaunch(vid, what):
                self.command(vid, CommandLong.Request(
                    command=int(MavCmd.NAV_RETURN_TO_LAUNCH)), what)
            case Land(vid, what):
                self.command(vid, CommandLong.Request(command=int(MavCmd.NAV_LAND)), what)
            case HoldAt(vid, altitude_m, what):
                # DO_REPOSITION: param1 -1 keeps the speed, NaN keeps yaw, latitude, longitude.
                nan = math.nan
                self.command(vid, CommandLong.Request(
                    command=int(MavCmd.DO_REPOSITION), param1=-1.0, param4=nan, param5=nan,
                    param6=nan, param7=float(altitude_m)), what)
            case _:
                assert_never(command)

    def command(self, vehicle_id: str, request: CommandLong.Request, what: str) -> None:
        """Send a COMMAND_LONG to the vehicle."""
        self.commands.send(self.links[vehicle_id].command, request, vehicle_id=vehicle_id,
                           what=what, accept=_accepted)

    def set_mode(self, vehicle_id: str, mode: Px4Mode, what: str) -> None:
        """Request a mode change."""
        self.commands.send(self.links[vehicle_id].set_mode,
                           SetMode.Request(custom_mode=mode.value), vehicle_id=vehicle_id,
                           what=what, accept=lambda r: bool(r.mode_sent))

    def command_done(self, outcome: CommandOutcome) -> None:
        """Log a command's outcome; a refused or unanswered command becomes an event."""
        if outcome.ok:
            self.get_logger().info(f"{outcome.vehicle_id}: {outcome.what}: {outcome.detail}")
            return
        self.emit(self.coordinator.command_failed(outcome.vehicle_id, outcome.what,
                                                  outcome.attempts, outcome.detail, self.now()))

    # ------------------------------------------------------------------ services
    def _reply(self, response: Any, ok: bool, message: str) -> Any:
        response.success, response.message = ok, message
        if ok:
            self.get_logger().info(message)
        return response

    def set_maintenance_callback(self, request: SetMaintenance.Request,
                                 response: SetMaintenance.Response) -> SetMaintenance.Response:
        try:
            v = self.registry.get(request.vehicle_id)
        except UnknownVehicleError as exc:
            return self._reply(response, False, str(exc))
        v.maintenance = bool(request.enabled)
        self.publish_status()
        return self._reply(response, True, (
            f"{v.vehicle_id} {'in' if v.maintenance else 'out of'} maintenance"
            + (f": {request.reason}" if request.reason else "")))

    def add_vehicle_callback(self, request: AddVehicle.Request,
                             response: AddVehicle.Response) -> AddVehicle.Response:
        try:
            spec = self.registry.admit(request.vehicle_id, request.mavros_prefix, request.model)
        except ConfigError as exc:
            return self._reply(response, False, str(exc))
        self.add_vehicle(spec)
        return self._reply(response, True, f"added {spec.vehicle_id} at {spec.mavros_prefix}")

    def remove_vehicle_callback(self, request: RemoveVehicle.Request,
                                response: RemoveVehicle.Response) -> RemoveVehicle.Response:
        vid = request.vehicle_id
        try:
            self.registry.remove(vid)
        except UnknownVehicleError as exc:
            return self._reply(response, False, str(exc))
        self.links.pop(vid).destroy(self)
        self.statuses.forget(vid)
        self.markers.forget(vid)
        self._warned_at.pop(vid, None)
        for event in self.coordinator.forget(vid, self.now()):
            self.emit(event)
        self.publish_status()
        return self._reply(response, True, f"removed {vid}; add_vehicle brings it back")

    def set_no_fly_zones_callback(self, request: SetNoFlyZones.Request,
                                  response: SetNoFlyZones.Response) -> SetNoFlyZones.Response:
        try:
            zones = [zone_from_msg(z) for z in request.zones]
            self.airspace.set_zones(zones)
        except ValueError as exc:
            return self._reply(response, False, f"no-fly zones rejected, nothing changed: {exc}")
        self.publish_zones()
        return self._reply(response, True, f"{len(zones)} no-fly zones in force")


def main(args: list[str] | None = None) -> int:
    """Run fleet_manager as a process."""
    return run_node(FleetManagerNode, args)
