"""fleet_sim: one node hosting N simulated PX4 multirotors, each behind its own MAVROS prefix."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import rclpy.logging
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from mavros_msgs.msg import (
    EstimatorStatus,
    ExtendedState,
    HomePosition,
    State,
    StatusText,
    SysStatus,
    WaypointList,
    WaypointReached,
)
from mavros_msgs.srv import (
    CommandBool,
    CommandLong,
    CommandTOL,
    SetMode,
    WaypointClear,
    WaypointPull,
    WaypointPush,
    WaypointSetCurrent,
)
from rclpy.context import Context
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from sensor_msgs.msg import BatteryState, NavSatFix, NavSatStatus
from std_msgs.msg import Header

from fleet_core.errors import ConfigError
from fleet_core.geo import yaw_to_quaternion
from fleet_core.mavlink import PX4_MODES, SENSORS_PRESENT, MavResult
from fleet_core.mavros_topics import Durability
from fleet_core.mavros_topics import MavrosTopic as T
from fleet_core.sim.config import MAX_VEHICLES, TIME_FACTORS, SimSettings, load_settings_file
from fleet_core.sim.vehicle import Failure, SimVehicle
from fleet_core.sim.weather import WeatherStation
from fleet_interfaces.msg import WindObservation
from fleet_interfaces.srv import InjectFailure, SetWind
from fleet_ros import cdr
from fleet_ros.entry import read_only, run_node
from fleet_ros.mavros_convert import items_to_waypoints, waypoints_to_items
from fleet_ros.mavros_io import NO_EVENTS, advertise
from fleet_ros.parameters import config_file_parameter
from fleet_ros.qos import LATCHED_QOS

# MAVROS's global_position/local (odometry) has no reader in the fleet, so it is not simulated.
_PUBLISHED = tuple(t for t in T if t is not T.GLOBAL_ODOMETRY)
_VOLATILE = tuple(t for t in _PUBLISHED if t.qos.durability is Durability.VOLATILE)
_NO_COVARIANCE = (0.0,) * 9  # NavSatFix.position_covariance with COVARIANCE_TYPE_UNKNOWN


class _VehicleIO:
    """The MAVROS-shaped publishers and services of one simulated vehicle."""

    def __init__(self, node: Node, vehicle: SimVehicle) -> None:
        self.vehicle = vehicle
        p = vehicle.config.mavros_prefix
        # NO_EVENTS: 500 vehicles x 14 topics of QoS event handlers would outweigh the
        # simulation itself.
        pub = advertise(node, p, _PUBLISHED, event_callbacks=NO_EVENTS)
        # Attributes, not pub[topic], on the hot path: an enum member lookup costs more than
        # the attribute at 500 vehicles x 10 Hz.
        self.state = pub[T.STATE]
        self.extended_state = pub[T.EXTENDED_STATE]
        self.sys_status = pub[T.SYS_STATUS]
        self.estimator_status = pub[T.ESTIMATOR_STATUS]
        self.battery = pub[T.BATTERY]
        self.statustext = pub[T.STATUS_TEXT]
        self.global_fix = pub[T.FIX]
        self.rel_alt = pub[T.REL_ALT]
        self.compass = pub[T.HEADING]
        self.pose = pub[T.LOCAL_POSE]
        self.velocity = pub[T.VELOCITY]
        self.home = pub[T.HOME]
        self.waypoints = pub[T.WAYPOINTS]
        self.reached = pub[T.REACHED]

        logger = node.get_logger()

        def srv(srv_type: Any, name: str, callback: Any) -> Any:
            def guarded(request: Any, response: Any) -> Any:
                # A bug triggered by one request must not take the whole fleet down:
                # answer "failed" and log the request that caused it.
                try:
                    return callback(request, response)
                except Exception as exc:
                    logger.error(f"{name}: request {request} failed: {exc!r}")
                    for field, value in (("success", False), ("result", int(MavResult.FAILED)),
                                         ("mode_sent", False)):
                        if hasattr(response, field):
                            setattr(response, field, value)
                    return response
            return node.create_service(srv_type, name, guarded)

        self.services = [
            srv(SetMode, f"{p}/set_mode", self.set_mode_callback),
            srv(CommandBool, f"{p}/cmd/arming", self.arming_callback),
            srv(CommandTOL, f"{p}/cmd/takeoff", self.takeoff_callback),
            srv(CommandTOL, f"{p}/cmd/land", self.land_callback),
            srv(CommandLong, f"{p}/cmd/command", self.command_callback),
            srv(WaypointPush, f"{p}/mission/push", self.push_callback),
            srv(WaypointPull, f"{p}/mission/pull", self.pull_callback),
            srv(WaypointClear, f"{p}/mission/clear", self.clear_callback),
            srv(WaypointSetCurrent, f"{p}/mission/set_current", self.set_current_callback),
        ]
        # The position-rate topics go out as CDR bytes packed here (fleet_ros.cdr): building
        # rclpy message objects for ~25 messages a second per vehicle was most of the
        # simulator's cost at scale. The heartbeat-rate ones below are reused messages
        # (publish() serializes at once, so mutating them later is safe).
        self._fix = cdr.NAV_SAT_FIX.packer("base_link")
        self.fixes_published = 0  # what a recorder should have stored (the sim says at exit)
        self._pose = cdr.POSE_STAMPED.packer("map")
        self._twist = cdr.TWIST_STAMPED.packer("map")
        self._battery = BatteryState()
        self._battery.power_supply_technology = BatteryState.POWER_SUPPLY_TECHNOLOGY_LIPO
        self._battery.present = True
        self._battery.design_capacity = float("nan")
        self._battery.cell_voltage = [float("nan")] * vehicle.config.battery.cells
        self._state = State(connected=True, manual_input=False)
        self._extended = ExtendedState(vtol_state=ExtendedState.VTOL_STATE_MC)
        self._sys = SysStatus(sensors_present=SENSORS_PRESENT, sensors_enabled=SENSORS_PRESENT,
                              load=250)
        self._estimator = EstimatorStatus(attitude_status_flag=True,
                                          velocity_vert_status_flag=True,
                                          pos_vert_abs_status_flag=True,
                                          pos_vert_agl_status_flag=True,
                                          accel_error_status_flag=False)
        self._home = HomePosition()
        home = vehicle.config.home
        self._home.geo.latitude, self._home.geo.longitude, self._home.geo.altitude = (
            home.latitude, home.longitude, home.altitude)
        self._home.orientation.w = 1.0
        # Volatile (best-effort) topics nobody subscribes to are not built or published: at
        # 500 vehicles that is thousands of messages a second (local_position/* has no
        # subscriber in the fleet). Durable topics are always published, since their history
        # is what a late joiner gets. The counts are refreshed by refresh_listeners().
        self._volatile = tuple(pub[t] for t in _VOLATILE)
        self._heard: dict[int, bool] = {}
        self.refresh_listeners()

    def refresh_listeners(self) -> None:
        """Re-read which volatile topics have a subscriber (cheap; call about once a second)."""
        self._heard = {id(p): p.get_subscription_count() > 0 for p in self._volatile}

    # ---------------------------------------------------------------- services
    def set_mode_callback(self, request: SetMode.Request, response: SetMode.Response
                          ) -> SetMode.Response:
        mode = request.custom_mode.strip().upper()
        # MAVROS answers mode_sent once it could encode and send the mode; whether the
        # autopilot switched shows up in the next state message.
        response.mode_sent = mode in PX4_MODES
        if response.mode_sent:
            self.vehicle.request_mode(mode)
        return response

    def arming_callback(self, request: CommandBool.Request, response: CommandBool.Response
                        ) -> CommandBool.Response:
        return _ack(response, self.vehicle.arm(bool(request.value)))

    def takeoff_callback(self, request: CommandTOL.Request, response: CommandTOL.Response
                         ) -> CommandTOL.Response:
        return _ack(response, self.vehicle.takeoff(float(request.altitude)))

    def land_callback(self, request: CommandTOL.Request, response: CommandTOL.Response
                      ) -> CommandTOL.Response:
        return _ack(response, self.vehicle.land())

    def command_callback(self, request: CommandLong.Request, response: CommandLong.Response
                         ) -> CommandLong.Response:
        params = (request.param1, request.param2, request.param3, request.param4,
                  request.param5, request.param6, request.param7)
        return _ack(response, self.vehicle.command(int(request.command), params))

    def push_callback(self, request: WaypointPush.Request, response: WaypointPush.Response
                      ) -> WaypointPush.Response:
        ok, count = self.vehicle.push_mission(waypoints_to_items(request.waypoints),
                                              int(request.start_index))
        response.success = ok
        response.wp_transfered = count
        return response

    def pull_callback(self, request: WaypointPull.Request, response: WaypointPull.Response
                      ) -> WaypointPull.Response:
        response.success = self.vehicle.link_up
        response.wp_received = len(self.vehicle.mission) if self.vehicle.link_up else 0
        self.vehicle.mission_changed = True
        return response

    def clear_callback(self, request: WaypointClear.Request, response: WaypointClear.Response
                       ) -> WaypointClear.Response:
        response.success = self.vehicle.clear_mission()
        return response

    def set_current_callback(self, request: WaypointSetCurrent.Request,
                             response: WaypointSetCurrent.Response
                             ) -> WaypointSetCurrent.Response:
        response.success = self.vehicle.set_current(int(request.wp_seq))
        return response

    # ---------------------------------------------------------------- telemetry
    def publish_fast(self, stamp: Any) -> None:
        """Publish the position-rate topics."""
        v = self.vehicle
        if not v.link_up or not v.gps_fix:
            if v.link_up:
                self.publish_local(stamp)
            return
        heard = self._heard
        sec, nanosec = stamp.sec, stamp.nanosec
        if heard[id(self.global_fix)]:
            geo = v.position()
            self.global_fix.publish(self._fix.pack(
                sec, nanosec, NavSatStatus.STATUS_FIX, NavSatStatus.SERVICE_GPS,
                geo.latitude, geo.longitude, geo.altitude, *_NO_COVARIANCE,
                NavSatFix.COVARIANCE_TYPE_UNKNOWN))
            self.fixes_published += 1
        if heard[id(self.rel_alt)]:
            self.rel_alt.publish(cdr.pack_float64(float(v.up)))
        if heard[id(self.compass)]:
            self.compass.publish(cdr.pack_float64(float(v.heading)))
        self.publish_local(stamp)

    def publish_local(self, stamp: Any) -> None:
        v = self.vehicle
        heard = self._heard
        if heard[id(self.pose)]:
            self.pose.publish(self._pose.pack(stamp.sec, stamp.nanosec, v.east, v.north, v.up,
                                              *yaw_to_quaternion(v.yaw_enu)))
        if heard[id(self.velocity)]:
            self.velocity.publish(self._twist.pack(stamp.sec, stamp.nanosec, v.ve, v.vn, v.vu,
                                                   0.0, 0.0, 0.0))

    def publish_state(self, stamp: Any) -> None:
        """Publish the heartbeat-rate topics (state, battery, status, home)."""
        v = self.vehicle
        if not v.link_up:
            if not v.connected:
                # What MAVROS publishes once the link has been silent for its timeout.
                self.state.publish(State(header=_header(stamp), connected=False))
            return
        self.publish_autopilot_state(stamp)
        b = v.battery
        if self._heard[id(self.battery)]:
            bm = self._battery
            bm.header.stamp = stamp
            bm.voltage = float(b.voltage)
            bm.current = float(-b.current)  # sensor_msgs: negative while discharging
            bm.percentage = float(b.soc)
            bm.charge = float("nan")
            bm.capacity = float("nan")
            bm.power_supply_status = (BatteryState.POWER_SUPPLY_STATUS_CHARGING if b.charging
                                      else BatteryState.POWER_SUPPLY_STATUS_DISCHARGING)
            bm.power_supply_health = (BatteryState.POWER_SUPPLY_HEALTH_UNSPEC_FAILURE if b.fault
                                      else BatteryState.POWER_SUPPLY_HEALTH_GOOD)
            self.battery.publish(bm)
        sm = self._sys
        sm.header.stamp = stamp
        sm.sensors_health = v.sensors_health()
        sm.voltage_battery = min(65535, int(b.voltage * 1000))
        sm.current_battery = max(-32768, min(32767, int(b.current * 100)))
        sm.battery_remaining = max(0, min(100, round(b.percent)))
        self.sys_status.publish(sm)
        gps = v.gps_fix
        em = self._estimator
        em.header.stamp = stamp
        em.velocity_horiz_status_flag = em.pos_horiz_rel_status_flag = gps
        em.pos_horiz_abs_status_flag = em.pred_pos_horiz_rel_status_flag = gps
        em.pred_pos_horiz_abs_status_flag = gps
        em.const_pos_mode_status_flag = em.gps_glitch_status_flag = not gps
        self.estimator_status.publish(em)
        self.publish_home(stamp)

    def publish_autopilot_state(self, stamp: Any) -> None:
        """Publish state and extended_state (the heartbeat, or at once on a change)."""
        v = self.vehicle
        v.state_changed = False
        st = self._state
        st.header.stamp = stamp
        st.armed, st.guided, st.mode = v.armed, v.guided, v.mode
        st.system_status = int(v.system_status)
        self.state.publish(st)
        ext = self._extended
        ext.header.stamp = stamp
        ext.landed_state = int(v.landed_state)
        self.extended_state.publish(ext)

    def publish_home(self, stamp: Any) -> None:
        self._home.header.stamp = stamp
        self.home.publish(self._home)

    def publish_events(self, stamp: Any) -> None:
        """Publish what changed since the last tick: state, mission, reached, texts."""
        v = self.vehicle
        if not v.link_up:
            v.drain_texts()  # a text sent over a dead link never arrives
            return
        if v.state_changed:
            self.publish_autopilot_state(stamp)
        if v.mission_changed:
            v.mission_changed = False
            self.waypoints.publish(WaypointList(
                current_seq=v.mission_seq, waypoints=items_to_waypoints(v.mission, v.mission_seq)))
        for seq in v.drain_reached():
            self.reached.publish(WaypointReached(header=_header(stamp), wp_seq=seq))
        texts = v.drain_texts()
        if not self._heard[id(self.statustext)]:
            return
        for text in texts:
            self.statustext.publish(StatusText(header=_header(stamp), severity=int(text.severity),
                                               text=text.text))


def _camera_status(v: SimVehicle) -> DiagnosticStatus:
    """One vehicle's camera trigger as a diagnostic status: photos taken, spacing in force."""
    camera = v.navigator.camera
    message = (f"triggering every {camera.distance_m:g} m" if camera.distance_m > 0
               else "not triggering")
    return DiagnosticStatus(
        level=DiagnosticStatus.OK, name=f"fleet_sim: {v.vehicle_id} camera",
        hardware_id=v.vehicle_id, message=message,
        values=[KeyValue(key="photos", value=str(v.photo_count)),
                KeyValue(key="trigger_distance_m", value=f"{camera.distance_m:g}")])


def _header(stamp: Any) -> Header:
    return Header(stamp=stamp, frame_id="")


def _ack(response: Any, result: MavResult) -> Any:
    response.success = result == MavResult.ACCEPTED
    response.result = int(result)
    return response


def _as_number(value: object, kind: type[int] | type[float]) -> int | float | None:
    """Return ``value`` as a finite ``kind``, or None. An integer passes for a float, and
    numeric text for either (a launch argument may arrive as text)."""
    number: int | float | None = None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = kind(value.strip())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = value if kind is float or isinstance(value, int) else None
    return kind(number) if number is not None and math.isfinite(number) else None


class FleetSimNode(Node):
    """Hosts the simulated vehicles and steps them at the position rate."""

    def __init__(self, *, context: Context | None = None,
                 parameter_overrides: Sequence[Any] | None = None) -> None:
        super().__init__("fleet_sim", context=context,
                         parameter_overrides=list(parameter_overrides or []))
        self._io: list[_VehicleIO] = []  # destroy_node reads it, even after a failed start
        self._config_path = config_file_parameter(
            self, "fleet_sim", "fleet_sim.yaml", "fleet_sim YAML file: vehicles, homes, pads, "
            "limits")
        self._declare_number("vehicle_count", 0, f"vehicles to host, 1..{MAX_VEHICLES}; 0 "
                             "takes the config file's (listed and generate.count)")
        self._declare_number("time_factor", 0.0, f"simulated seconds per wall second, "
                             f"{TIME_FACTORS[0]:g}..{TIME_FACTORS[1]:g}; 0 takes the config "
                             "file's")
        self._declare_number("seed", -1, "random seed (GPS noise, gusts); -1 takes the config "
                             "file's")
        self.settings = self._load_settings()
        s = self.settings
        self.vehicles = [SimVehicle(cfg, pads=s.pads, seed=s.seed,
                                    link_timeout_s=s.link_timeout_s) for cfg in s.vehicles]
        self.by_id = {v.vehicle_id: v for v in self.vehicles}
        self._io.extend(_VehicleIO(self, v) for v in self.vehicles)
        self._dt = s.time_factor / s.position_rate_hz
        self._state_every = max(1, round(s.position_rate_hz / s.state_rate_hz))
        self._refresh_every = max(1, round(s.position_rate_hz))  # about once a second
        self._tick = 0
        self.create_service(InjectFailure, "~/inject_failure", self.inject_failure_callback)
        self._timer = self.create_timer(1.0 / s.position_rate_hz, self.tick_callback)
        # What MAVROS cannot show of a simulated vehicle (the photos its camera took), the
        # way the fleet's other nodes report health: /diagnostics, once a second.
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self.publish_diagnostics)
        self.weather: WeatherStation | None = None
        if s.weather is not None:
            self.weather = WeatherStation(s.weather, seed=s.seed)
            # Latched: a planner that starts later hears the current wind at once.
            self._wind_pub = self.create_publisher(WindObservation, "/fleet/weather/wind",
                                                   LATCHED_QOS)
            self.create_service(SetWind, "~/set_wind", self.set_wind_callback)
            self.create_timer(s.weather.period_s, self.publish_wind)
            self.publish_wind()
        stamp = self.get_clock().now().to_msg()
        for io in self._io:
            io.publish_home(stamp)
            io.publish_events(stamp)
        self.get_logger().info(
            f"simulating {len(self.vehicles)} vehicles at {s.position_rate_hz:g} Hz, "
            f"time factor {s.time_factor:g}, {len(s.pads)} charging pads")

    def _declare_number(self, name: str, default: int | float, about: str) -> None:
        # Any type: a launch argument or `-p` arrives as YAML, so `time_factor:=2` is an
        # integer and `time_factor:=abc` text. rclpy would refuse both for a double with a
        # traceback; _load_settings refuses what is not a number with the parameter's name.
        descriptor = read_only(about)
        descriptor.dynamic_typing = True
        self.declare_parameter(name, default, descriptor)

    def _load_settings(self) -> SimSettings:
        """Read the config file with the parameters applied; errors name the parameter."""
        low, high = TIME_FACTORS
        count = self._number_parameter("vehicle_count", int, lambda n: 0 <= n <= MAX_VEHICLES,
                                       f"an integer 1..{MAX_VEHICLES}, or 0 to take the "
                                       "config file's")
        factor = self._number_parameter("time_factor", float,
                                        lambda f: f == 0 or low <= f <= high,
                                        f"{low:g}..{high:g}, or 0 to take the config file's")
        seed = self._number_parameter("seed", int, lambda n: n >= -1,
                                      "an integer >= 0, or -1 to take the config file's")
        return load_settings_file(self._config_path, vehicle_count=int(count) or None,
                                  time_factor=float(factor) or None,
                                  seed=None if seed == -1 else int(seed))

    def _number_parameter(self, name: str, kind: type[int] | type[float],
                          valid: Callable[[float], bool], expected: str) -> int | float:
        value = self.get_parameter(name).value
        number = _as_number(value, kind)
        if number is None or not valid(number):
            raise ConfigError(f"parameter {name} must be {expected}; got {value!r}")
        return number

    def tick_callback(self) -> None:
        """Step every vehicle one period and publish its telemetry."""
        self._tick += 1
        stamp = self.get_clock().now().to_msg()
        every = self._state_every
        try:
            if self._tick % self._refresh_every == 0:
                for io in self._io:
                    io.refresh_listeners()
            for i, io in enumerate(self._io):
                io.vehicle.step(self._dt)
                io.publish_fast(stamp)
                # Spread the heartbeat-rate topics over the ticks of one period.
                if (self._tick + i) % every == 0:
                    io.publish_state(stamp)
                io.publish_events(stamp)
        except _rclpy.RCLError:
            if self.context.ok():
                raise
            # A tick that raced with shutdown: nothing left to publish to.

    def publish_diagnostics(self) -> None:
        """Publish the camera trigger of each vehicle that has used it on /diagnostics.

        Only while someone listens, and nothing while no camera was used: at 500 vehicles
        that is 500 statuses a second that usually nobody reads.
        """
        try:
            if not self.diagnostics_pub.get_subscription_count():
                return
            used = [_camera_status(v) for v in self.vehicles
                    if v.photo_count or v.navigator.camera.distance_m]
            if not used:
                return
            out = DiagnosticArray()
            out.header.stamp = self.get_clock().now().to_msg()
            out.status = used
            self.diagnostics_pub.publish(out)
        except _rclpy.RCLError:
            if self.context.ok():
                raise

    def publish_wind(self) -> None:
        """Publish one report of the simulated weather station."""
        if self.weather is None:
            return
        speed, direction = self.weather.observe()
        msg = WindObservation(site=self.weather.settings.site, speed_mps=speed,
                              direction_deg=direction)
        msg.header.stamp = self.get_clock().now().to_msg()
        self._wind_pub.publish(msg)

    def set_wind_callback(self, request: SetWind.Request,
                          response: SetWind.Response) -> SetWind.Response:
        if self.weather is None:
            response.success = False
            response.message = "fleet_sim has no weather station (no 'weather' in its config)"
            return response
        try:
            self.weather.set_wind(float(request.speed_mps), float(request.direction_deg),
                                  float(request.gust_mps))
        except ConfigError as e:
            response.success = False
            response.message = str(e)
            return response
        w = self.weather.settings
        response.success = True
        response.message = (f"wind set to {w.speed_mps:g} m/s from {w.direction_deg:g} deg, "
                            f"gusts +/-{w.gust_mps:g} m/s")
        self.get_logger().info(response.message)
        self.publish_wind()
        return response

    def inject_failure_callback(self, request: InjectFailure.Request,
                                response: InjectFailure.Response) -> InjectFailure.Response:
        vehicle = self.by_id.get(request.vehicle_id)
        if vehicle is None:
            response.success = False
            response.message = f"unknown vehicle_id {request.vehicle_id!r}"
            return response
        try:
            failure = Failure(request.failure)
        except ValueError:
            response.success = False
            response.message = (f"unknown failure {request.failure}; expected one of "
                                f"{[f'{f.value}={f.name}' for f in Failure]}")
            return response
        response.message = vehicle.inject(failure, bool(request.active))
        response.success = True
        self.get_logger().warning(response.message)
        return response

    def destroy_node(self) -> None:
        """Say how many position fixes went out (each should be one telemetry row), then
        destroy the node."""
        # A logger no node owns: after a Ctrl-C the context is gone, and rcl copies what a
        # node's logger (by name) says to /rosout, which then fails with "publisher's context
        # is invalid".
        rclpy.logging.get_logger(f"{self.get_logger().name}.exit").info(
            f"published {self.fixes_published} position fixes from {len(self._io)} vehicles")
        super().destroy_node()

    @property
    def fixes_published(self) -> int:
        """Position fixes published so far, all vehicles together."""
        return sum(io.fixes_published for io in self._io)


def main(args: list[str] | None = None) -> int:
    """Run fleet_sim as a process."""
    return run_node(FleetSimNode, args)


