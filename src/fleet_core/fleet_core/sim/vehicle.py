"""A simulated multirotor that behaves like PX4 as seen through MAVROS.

The model is deliberately kinematic (velocity and acceleration limits, no dynamics) but its
autopilot logic follows PX4, split the way PX4 splits it: the commander (arming, modes,
failsafes), the navigator (mission, takeoff, hold, RTL, landing) and the airframe's
kinematics. This module is the MAVLink face that composes them. Time only advances through
``step``, so a run is deterministic given the seed and the command sequence.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Generic, Self, TypeVar, cast, overload

from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.mavlink import (
    FORCE_ARM_MAGIC,
    PX4_CUSTOM_MODES,
    LandedState,
    MavCmd,
    MavResult,
    MavState,
    MissionItem,
)
from fleet_core.sim.battery import Battery
from fleet_core.sim.commander import Commander, Failure
from fleet_core.sim.config import ChargingPad, SimVehicleConfig
from fleet_core.sim.kinematics import Airframe
from fleet_core.sim.navigator import Navigator
from fleet_core.sim.outbox import Outbox, StatusText

__all__ = ["MAX_SUBSTEP_S", "Failure", "SimVehicle", "StatusText"]

MAX_SUBSTEP_S = 0.1
T = TypeVar("T")


class _Part(Generic[T]):
    """An attribute of one of the vehicle's parts, read and written under the vehicle's name."""

    def __init__(self, part: str, name: str = "") -> None:
        self.part = part
        self.name = name
        self._read = attrgetter(f"{part}.{name}")

    def __set_name__(self, owner: type, name: str) -> None:
        if not self.name:
            self.name = name
            self._read = attrgetter(f"{self.part}.{name}")

    @overload
    def __get__(self, vehicle: None, owner: type) -> Self: ...
    @overload
    def __get__(self, vehicle: object, owner: type | None = None) -> T: ...
    def __get__(self, vehicle: object, owner: type | None = None) -> T | Self:
        if vehicle is None:
            return self
        return cast("T", self._read(vehicle))

    def __set__(self, vehicle: object, value: T) -> None:
        setattr(getattr(vehicle, self.part), self.name, value)


@dataclass(slots=True)
class SimVehicle:
    """One simulated PX4 multirotor."""

    config: SimVehicleConfig
    pads: tuple[ChargingPad, ...] = ()
    seed: int = 0
    link_timeout_s: float = 10.0

    frame: LocalFrame = field(init=False)
    rng: random.Random = field(init=False)
    battery: Battery = field(init=False)
    body: Airframe = field(init=False)
    outbox: Outbox = field(init=False)
    navigator: Navigator = field(init=False)
    commander: Commander = field(init=False)
    time_s: float = 0.0
    _pad_frames: list[tuple[float, float, float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.frame = LocalFrame.at(self.config.home)
        self.rng = random.Random(f"{self.seed}:{self.config.vehicle_id}")
        self.battery = Battery.new(self.config.battery)
        self.body = Airframe(self.config.limits)
        self.outbox = Outbox()
        self.navigator = Navigator(self.config, self.frame, self.body, self.outbox)
        self.commander = Commander(self.config, self.battery, self.body, self.navigator,
                                   self.outbox, self.link_timeout_s)
        for pad in self.pads:
            e, n, _ = self.frame.to_enu(pad.position)
            self._pad_frames.append((e, n, pad.radius_m, pad.charge_rate_w))

    # The parts' state under the names MAVROS-facing code has always used.
    east = _Part[float]("body")  # m east of home
    north = _Part[float]("body")
    up = _Part[float]("body")  # m above home
    ve = _Part[float]("body")  # m/s, ENU
    vn = _Part[float]("body")
    vu = _Part[float]("body")
    yaw_enu = _Part[float]("body")  # rad, counter-clockwise from east
    landed_state = _Part[LandedState]("body")
    airborne = _Part[bool]("body")
    ground_speed = _Part[float]("body")  # m/s
    heading = _Part[float]("body")  # degrees, 0 = north, clockwise
    armed = _Part[bool]("commander")
    mode = _Part[str]("commander")
    failures = _Part[set[Failure]]("commander")
    link_up = _Part[bool]("commander")  # telemetry is published only then
    gps_fix = _Part[bool]("commander")
    guided = _Part[bool]("commander")
    system_status = _Part[MavState]("commander")
    mission = _Part[tuple[MissionItem, ...]]("navigator")
    mission_seq = _Part[int]("navigator", "seq")
    mission_finished = _Part[bool]("navigator", "finished")
    state_changed = _Part[bool]("outbox")  # State and ExtendedState must be published
    mission_changed = _Part[bool]("outbox")  # the mission list must be published

    @property
    def vehicle_id(self) -> str:
        """Return the vehicle's id."""
        return self.config.vehicle_id

    @property
    def connected(self) -> bool:
        """Return what MAVROS would report as State.connected."""
        return self.commander.connected(self.time_s)

    def position(self) -> GeoPoint:
        """Return the WGS-84 position, with the configured GPS noise."""
        sigma = self.config.gps_noise_m
        e, n = self.body.east, self.body.north
        if sigma > 0:
            e += self.rng.gauss(0.0, sigma)
            n += self.rng.gauss(0.0, sigma)
        return self.frame.to_geo(e, n, self.body.up)

    def distance_to_home_m(self) -> float:
        """Return the horizontal distance to home."""
        return self.body.distance_to_home_m()

    def sensors_health(self) -> int:
        """Return SysStatus.sensors_health bits."""
        return self.commander.sensors_health()

    def drain_texts(self) -> list[StatusText]:
        """Return and forget the status texts sent since the last call."""
        return self.outbox.drain_texts()

    def drain_reached(self) -> list[int]:
        """Return and forget the mission items reached since the last call."""
        return self.outbox.drain_reached()

    @property
    def photo_count(self) -> int:
        """Return how many photos the camera trigger has taken since the start."""
        return self.navigator.camera.photos

    # ----------------------------------------------------------------- MAVLink requests
    # A request over a dead link never reaches the autopilot.
    def request_mode(self, mode: str) -> bool:
        """Handle a mode change; return whether the autopilot switched."""
        return self.link_up and self.commander.request_mode(mode)

    def arm(self, value: bool, *, force: bool = False) -> MavResult:
        """Handle COMPONENT_ARM_DISARM."""
        if not self.link_up:
            return MavResult.FAILED
        return self.commander.arm(value, force=force)

    def command(self, cmd: int, params: tuple[float, ...]) -> MavResult:
        """Handle a COMMAND_LONG (params are param1..param7)."""
        if not self.link_up:
            return MavResult.FAILED
        p = tuple(params) + (0.0,) * (7 - len(params))
        mode_result = self.commander.mode_result
        if cmd == MavCmd.COMPONENT_ARM_DISARM:
            if p[0] not in (0.0, 1.0):
                return MavResult.DENIED
            return self.arm(p[0] == 1.0, force=p[1] == FORCE_ARM_MAGIC)
        if cmd == MavCmd.NAV_RETURN_TO_LAUNCH:
            return mode_result("AUTO.RTL")
        if cmd == MavCmd.NAV_LAND:
            return mode_result("AUTO.LAND")
        if cmd == MavCmd.NAV_TAKEOFF:
            return self.takeoff(p[6])
        if cmd == MavCmd.DO_SET_MODE:
            if not (math.isfinite(p[1]) and math.isfinite(p[2])):
                return MavResult.DENIED
            mode = PX4_CUSTOM_MODES.get((int(p[1]), int(p[2])))
            if mode is None:
                return MavResult.DENIED
            return mode_result(mode)
        if cmd == MavCmd.DO_PAUSE_CONTINUE:
            if p[0] == 0.0:
                return mode_result("AUTO.LOITER")
            if p[0] == 1.0:
                return mode_result("AUTO.MISSION")
            return MavResult.DENIED
        if cmd == MavCmd.DO_REPOSITION:
            return self._reposition(p[4], p[5], p[6])
        if cmd == MavCmd.MISSION_START:
            return mode_result("AUTO.MISSION")
        if cmd == MavCmd.DO_CHANGE_SPEED:
            if not math.isfinite(p[1]):
                return MavResult.DENIED
            self.navigator.cruise = self.navigator.speed_setting(p[1])
            return MavResult.ACCEPTED
        if cmd == MavCmd.DO_SET_CAM_TRIGG_DIST:
            ok = self.navigator.camera.set_distance(p[0], shoot_now=p[2] == 1.0)
            return MavResult.ACCEPTED if ok else MavResult.DENIED
        return MavResult.UNSUPPORTED

    def _reposition(self, lat: float, lon: float, alt_amsl: float) -> MavResult:
        """Handle DO_REPOSITION: hold at a new point."""
        if not self.airborne or not self.gps_fix or self.commander.motor_failure:
            return MavResult.TEMPORARILY_REJECTED
        setpoint = self.navigator.reposition_setpoint(lat, lon, alt_amsl)
        if setpoint is None:
            return MavResult.DENIED
        self.commander.set_mode("AUTO.LOITER")
        self.navigator.setpoint = setpoint
        return MavResult.ACCEPTED

    def takeoff(self, altitude_amsl: float) -> MavResult:
        """Handle NAV_TAKEOFF: climb to the altitude (or MIS_TAKEOFF_ALT) and hold."""
        if not self.link_up:
            return MavResult.FAILED
        if not self.gps_fix or self.commander.motor_failure:
            return MavResult.TEMPORARILY_REJECTED
        self.navigator.set_takeoff_altitude(altitude_amsl)
        return self.commander.mode_result("AUTO.TAKEOFF")

    def land(self) -> MavResult:
        """Handle NAV_LAND at the current position."""
        return self.commander.mode_result("AUTO.LAND") if self.link_up else MavResult.FAILED

    def push_mission(self, items: list[MissionItem], start_index: int = 0) -> tuple[bool, int]:
        """Handle a mission upload; return (success, items transferred)."""
        if not self.link_up or not self.navigator.load(items, start_index):
            return False, 0
        if self.mode == "AUTO.MISSION" and self.airborne:
            self.navigator.enter(self.mode)
        return True, len(items)

    def clear_mission(self) -> bool:
        """Handle mission/clear; a vehicle flying the mission holds where it is."""
        if not self.link_up:
            return False
        self.navigator.clear()
        if self.mode == "AUTO.MISSION":
            self.commander.set_mode("AUTO.LOITER")
        return True

    def set_current(self, seq: int) -> bool:
        """Handle mission/set_current."""
        if not self.link_up or not self.navigator.set_current(seq):
            return False
        if self.mode == "AUTO.MISSION":
            self.navigator.enter(self.mode)
        return True

    def inject(self, failure: Failure, active: bool) -> str:
        """Inject or clear a failure; return a description of what happened."""
        return self.commander.inject(failure, active, self.time_s)

    # ----------------------------------------------------------------- time
    def step(self, dt: float) -> None:
        """Advance the simulation by ``dt`` seconds of simulated time."""
        if not math.isfinite(dt) or dt <= 0:
            raise ValueError(f"step dt must be a positive number of seconds, got {dt!r}")
        remaining = dt
        while remaining > 1e-9:
            h = min(MAX_SUBSTEP_S, remaining)
            self._substep(h)
            self.time_s += h
            remaining -= h

    def _substep(self, dt: float) -> None:
        commander, navigator = self.commander, self.navigator
        switch = navigator.control(commander.mode, dt, armed=commander.armed,
                                   motor_failure=commander.motor_failure)
        if switch is not None:
            commander.set_mode(switch)
        body = self.body
        east, north = body.east, body.north
        landed_state = body.move(navigator.setpoint, dt, armed=commander.armed,
                                 motor_failure=commander.motor_failure,
                                 cruise=navigator.cruise)
        # PX4 pauses distance triggering while the mission is not running (hold, RTL, land).
        if commander.mode == "AUTO.MISSION":
            navigator.camera.travel(math.hypot(body.east - east, body.north - north))
        if landed_state is not None:
            self.outbox.state_changed = True
            if landed_state is LandedState.ON_GROUND:
                commander.landed()
        self._energy(dt)
        commander.auto_disarm(dt)

    def _energy(self, dt: float) -> None:
        b, body = self.battery, self.body
        if not self.commander.armed and not body.airborne:
            for e, n, radius, rate in self._pad_frames:
                if math.hypot(body.east - e, body.north - n) <= radius:
                    b.charge(rate, dt)
                    return
        power = b.flight_power(armed=self.commander.armed, airborne=body.airborne,
                               airspeed=math.hypot(body.ground_speed, body.vu),
                               climb_rate=body.vu, payload_kg=self.config.payload_kg)
        b.discharge(power, dt)
        self.commander.check_battery()
