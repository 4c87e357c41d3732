"""A simulated multirotor that behaves like PX4 as seen through MAVROS.

The model is deliberately kinematic (velocity and acceleration limits, no dynamics) but its
autopilot logic follows PX4: which commands and modes are accepted, when arming is refused,
how missions, takeoff, hold, RTL and landing proceed, and what status texts say. Time only
advances through ``step``, so a run is deterministic given the seed and the command sequence.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from enum import Enum, IntEnum

from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.mavlink import (
    FORCE_ARM_MAGIC,
    PX4_CUSTOM_MODES,
    PX4_MODES,
    SENSOR_BATTERY,
    SENSOR_GPS,
    SENSOR_MOTOR_OUTPUTS,
    SENSORS_PRESENT,
    LandedState,
    MavCmd,
    MavFrame,
    MavResult,
    MavState,
    MissionItem,
    Severity,
)
from fleet_core.sim.battery import Battery
from fleet_core.sim.config import ChargingPad, SimVehicleConfig

MAX_SUBSTEP_S = 0.1
LANDING_SLOWDOWN_ALT = 10.0
GRAVITY = 9.81

# Modes the simulated autopilot can enter; the rest of PX4_MODES exist but are refused the way
# PX4 refuses them without RC or an offboard setpoint stream.
_SUPPORTED_MODES = {"AUTO.MISSION", "AUTO.LOITER", "AUTO.RTL", "AUTO.LAND", "AUTO.TAKEOFF",
                    "AUTO.READY"}
_ARMABLE_MODES = {"AUTO.MISSION", "AUTO.LOITER", "AUTO.TAKEOFF", "AUTO.READY"}
_MISSION_COMMANDS = {MavCmd.NAV_WAYPOINT, MavCmd.NAV_LOITER_UNLIM, MavCmd.NAV_LOITER_TIME,
                     MavCmd.NAV_RETURN_TO_LAUNCH, MavCmd.NAV_LAND, MavCmd.NAV_TAKEOFF,
                     MavCmd.DO_CHANGE_SPEED}
_GLOBAL_FRAMES = {int(f) for f in MavFrame}
_REL_FRAMES = {int(MavFrame.GLOBAL_REL_ALT), int(MavFrame.GLOBAL_RELATIVE_ALT_INT)}


class Failure(IntEnum):
    """Failures that can be injected (values match fleet_interfaces/InjectFailure)."""

    LINK_LOSS = 1
    GPS_LOSS = 2
    BATTERY_FAULT = 3
    MOTOR_FAILURE = 4


class _RtlPhase(Enum):
    CLIMB = 1
    RETURN = 2
    DESCEND = 3


@dataclass(slots=True)
class _Nav:
    """What the position controller is doing right now."""

    target: tuple[float, float] | None = None  # ENU east/north to fly to; None = hold here
    target_alt: float | None = None  # m above home; None = hold altitude
    speed: float = 0.0
    landing: bool = False


@dataclass(slots=True)
class StatusText:
    """A status text the autopilot sent."""

    severity: Severity
    text: str


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
    time_s: float = 0.0
    east: float = 0.0
    north: float = 0.0
    up: float = 0.0
    ve: float = 0.0
    vn: float = 0.0
    vu: float = 0.0
    yaw_enu: float = math.pi / 2  # facing north
    armed: bool = False
    mode: str = "AUTO.LOITER"
    landed_state: LandedState = LandedState.ON_GROUND
    mission: tuple[MissionItem, ...] = ()
    mission_seq: int = 0
    mission_finished: bool = False
    failures: set[Failure] = field(default_factory=set)
    outbox_text: list[StatusText] = field(default_factory=list)
    outbox_reached: list[int] = field(default_factory=list)
    state_changed: bool = True
    mission_changed: bool = True
    _nav: _Nav = field(default_factory=_Nav)
    _hold: tuple[float, float, float] | None = None
    _item_timer: float = 0.0
    _item_arrived: bool = False
    _rtl_phase: _RtlPhase = _RtlPhase.CLIMB
    _cruise: float = 0.0
    _ground_timer: float = 0.0
    _link_lost_at: float | None = None
    _battery_warned: float = 101.0
    _takeoff_alt: float = 0.0
    _rtl_alt: float = 0.0
    _pad_rate_w: float = 0.0
    _pad_frames: list[tuple[float, float, float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.frame = LocalFrame.at(self.config.home)
        self.rng = random.Random(f"{self.seed}:{self.config.vehicle_id}")
        self.battery = Battery.new(self.config.battery)
        self._cruise = self.config.limits.cruise_speed
        for pad in self.pads:
            e, n, _ = self.frame.to_enu(pad.position)
            self._pad_frames.append((e, n, pad.radius_m, pad.charge_rate_w))

    # ----------------------------------------------------------------- readings
    @property
    def vehicle_id(self) -> str:
        """Return the vehicle's id."""
        return self.config.vehicle_id

    @property
    def link_up(self) -> bool:
        """Tell whether MAVLink traffic flows (telemetry is published only then)."""
        return Failure.LINK_LOSS not in self.failures

    @property
    def connected(self) -> bool:
        """Return what MAVROS would report as State.connected."""
        if self._link_lost_at is None:
            return True
        return self.time_s - self._link_lost_at < self.link_timeout_s

    @property
    def gps_fix(self) -> bool:
        """Tell whether the vehicle has a 3D GPS fix."""
        return Failure.GPS_LOSS not in self.failures

    @property
    def airborne(self) -> bool:
        """Tell whether the vehicle is off the ground."""
        return self.landed_state in (LandedState.IN_AIR, LandedState.TAKEOFF,
                                     LandedState.LANDING)

    @property
    def guided(self) -> bool:
        """Return MAVROS's State.guided (PX4 sets it in every auto mode)."""
        return self.mode.startswith("AUTO.") or self.mode == "OFFBOARD"

    @property
    def system_status(self) -> MavState:
        """Return MAV_STATE from the current condition."""
        if Failure.MOTOR_FAILURE in self.failures:
            return MavState.EMERGENCY
        if self.battery.percent <= self.config.battery.critical_percent or self.battery.fault:
            return MavState.CRITICAL
        return MavState.ACTIVE if self.armed else MavState.STANDBY

    @property
    def ground_speed(self) -> float:
        """Return the horizontal speed in m/s."""
        return math.hypot(self.ve, self.vn)

    @property
    def heading(self) -> float:
        """Return the compass heading in degrees (0 = north, clockwise)."""
        return (90.0 - math.degrees(self.yaw_enu)) % 360.0

    def position(self) -> GeoPoint:
        """Return the WGS-84 position, with the configured GPS noise."""
        sigma = self.config.gps_noise_m
        e, n = self.east, self.north
        if sigma > 0:
            e += self.rng.gauss(0.0, sigma)
            n += self.rng.gauss(0.0, sigma)
        return self.frame.to_geo(e, n, self.up)

    def distance_to_home_m(self) -> float:
        """Return the horizontal distance to home."""
        return math.hypot(self.east, self.north)

    def sensors_health(self) -> int:
        """Return SysStatus.sensors_health bits."""
        bits = SENSORS_PRESENT
        if not self.gps_fix:
            bits &= ~SENSOR_GPS
        if self.battery.fault:
            bits &= ~SENSOR_BATTERY
        if Failure.MOTOR_FAILURE in self.failures:
            bits &= ~SENSOR_MOTOR_OUTPUTS
        return bits

    def drain_texts(self) -> list[StatusText]:
        """Return and forget the status texts sent since the last call."""
        out, self.outbox_text = self.outbox_text, []
        return out

    def drain_reached(self) -> list[int]:
        """Return and forget the mission items reached since the last call."""
        out, self.outbox_reached = self.outbox_reached, []
        return out

    # ----------------------------------------------------------------- commands
    def _say(self, severity: Severity, text: str) -> None:
        if len(self.outbox_text) < 50:
            self.outbox_text.append(StatusText(severity, text))

    def _set_mode(self, mode: str) -> None:
        if mode != self.mode:
            self.mode = mode
            self.state_changed = True
        self._enter_mode()

    def request_mode(self, mode: str) -> bool:
        """Handle a mode change; return whether the autopilot switched.

        A refused switch leaves the mode as it was and says why, as PX4 does.
        """
        if not self.link_up:
            return False
        if mode not in PX4_MODES:
            return False
        if Failure.MOTOR_FAILURE in self.failures and mode != "AUTO.LAND":
            self._say(Severity.CRITICAL, f"Switching to {mode} is currently not possible")
            return False
        if mode not in _SUPPORTED_MODES:
            self._say(Severity.CRITICAL, f"Switching to {mode} is currently not possible: "
                                         "no manual control or setpoints")
            return False
        if not self.gps_fix and mode != "AUTO.LAND":
            self._say(Severity.CRITICAL, f"Switching to {mode} is currently not possible: "
                                         "no valid global position")
            return False
        if mode == "AUTO.MISSION" and not self.mission:
            self._say(Severity.CRITICAL, "Switching to Mission is currently not possible: "
                                         "no mission available")
            return False
        self._set_mode(mode)
        return True

    def arm(self, value: bool, *, force: bool = False) -> MavResult:
        """Handle COMPONENT_ARM_DISARM."""
        if not self.link_up:
            return MavResult.FAILED
        if not value:
            if not self.armed:
                return MavResult.ACCEPTED
            if self.airborne and not force:
                self._say(Severity.CRITICAL, "Disarming denied: not landed")
                return MavResult.TEMPORARILY_REJECTED
            self._disarm("Disarmed by external command")
            return MavResult.ACCEPTED
        if self.armed:
            return MavResult.ACCEPTED  # PX4 acknowledges a repeated arm request
        if not force:
            reason = self._arming_refusal()
            if reason is not None:
                self._say(Severity.CRITICAL, f"Arming denied: {reason}")
                return MavResult.TEMPORARILY_REJECTED
        self.armed = True
        self.state_changed = True
        self._ground_timer = 0.0
        self._say(Severity.INFO, "Armed by external command")
        self._enter_mode()
        return MavResult.ACCEPTED

    def _arming_refusal(self) -> str | None:
        if Failure.MOTOR_FAILURE in self.failures:
            return "motor failure"
        if self.battery.fault:
            return "battery unhealthy"
        if self.battery.percent < self.config.battery.min_arm_percent:
            return f"battery {self.battery.percent:.0f}% below " \
                   f"{self.config.battery.min_arm_percent:.0f}%"
        if not self.gps_fix:
            return "GPS fix too low"
        if self.mode not in _ARMABLE_MODES:
            return f"not possible in {self.mode}"
        if self.mode == "AUTO.MISSION" and not self.mission:
            return "mission invalid"
        return None

    def _disarm(self, why: str) -> None:
        self.armed = False
        self.state_changed = True
        self._say(Severity.INFO, why)

    def command(self, cmd: int, params: tuple[float, ...]) -> MavResult:
        """Handle a COMMAND_LONG (params are param1..param7)."""
        if not self.link_up:
            return MavResult.FAILED
        p = tuple(params) + (0.0,) * (7 - len(params))
        if cmd == MavCmd.COMPONENT_ARM_DISARM:
            if p[0] not in (0.0, 1.0):
                return MavResult.DENIED
            return self.arm(p[0] == 1.0, force=p[1] == FORCE_ARM_MAGIC)
        if cmd == MavCmd.NAV_RETURN_TO_LAUNCH:
            return self._mode_result("AUTO.RTL")
        if cmd == MavCmd.NAV_LAND:
            return self._mode_result("AUTO.LAND")
        if cmd == MavCmd.NAV_TAKEOFF:
            return self.takeoff(p[6])
        if cmd == MavCmd.DO_SET_MODE:
            if not (math.isfinite(p[1]) and math.isfinite(p[2])):
                return MavResult.DENIED
            mode = PX4_CUSTOM_MODES.get((int(p[1]), int(p[2])))
            if mode is None:
                return MavResult.DENIED
            return self._mode_result(mode)
        if cmd == MavCmd.DO_PAUSE_CONTINUE:
            if p[0] == 0.0:
                return self._mode_result("AUTO.LOITER")
            if p[0] == 1.0:
                return self._mode_result("AUTO.MISSION")
            return MavResult.DENIED
        if cmd == MavCmd.DO_REPOSITION:
            return self._reposition(p[4], p[5], p[6])
        if cmd == MavCmd.MISSION_START:
            return self._mode_result("AUTO.MISSION")
        if cmd == MavCmd.DO_CHANGE_SPEED:
            if not math.isfinite(p[1]):
                return MavResult.DENIED
            self._cruise = self._speed_setting(p[1])
            return MavResult.ACCEPTED
        return MavResult.UNSUPPORTED

    def _reposition(self, lat: float, lon: float, alt_amsl: float) -> MavResult:
        """Handle DO_REPOSITION: hold at a new point; NaN keeps that coordinate (as PX4)."""
        if not self.airborne:
            return MavResult.TEMPORARILY_REJECTED
        if not self.gps_fix or Failure.MOTOR_FAILURE in self.failures:
            return MavResult.TEMPORARILY_REJECTED
        here = self.frame.to_geo(self.east, self.north, self.up)
        target = GeoPoint(lat if math.isfinite(lat) else here.latitude,
                          lon if math.isfinite(lon) else here.longitude)
        if not target.is_valid():
            return MavResult.DENIED
        up = alt_amsl - self.config.home.altitude if math.isfinite(alt_amsl) else self.up
        if not -1.0 < up < 5000.0:
            return MavResult.DENIED
        e, n, _ = self.frame.to_enu(target)
        self._set_mode("AUTO.LOITER")
        self._nav = _Nav(target=(e, n), target_alt=max(up, 1.0), speed=self._cruise)
        return MavResult.ACCEPTED

    def _mode_result(self, mode: str) -> MavResult:
        return MavResult.ACCEPTED if self.request_mode(mode) else MavResult.TEMPORARILY_REJECTED

    def takeoff(self, altitude_amsl: float) -> MavResult:
        """Handle NAV_TAKEOFF: climb to the altitude (or MIS_TAKEOFF_ALT) and hold."""
        if not self.link_up:
            return MavResult.FAILED
        if not self.gps_fix or Failure.MOTOR_FAILURE in self.failures:
            return MavResult.TEMPORARILY_REJECTED
        rel = altitude_amsl - self.config.home.altitude if math.isfinite(altitude_amsl) else 0.0
        self._takeoff_alt = rel if rel >= 1.0 else self.config.limits.takeoff_altitude
        return self._mode_result("AUTO.TAKEOFF")

    def land(self) -> MavResult:
        """Handle NAV_LAND at the current position."""
        return self._mode_result("AUTO.LAND") if self.link_up else MavResult.FAILED

    def push_mission(self, items: list[MissionItem], start_index: int = 0) -> tuple[bool, int]:
        """Handle a mission upload; return (success, items transferred).

        Like PX4, the whole upload is refused if any item is invalid: an unsupported
        command or frame, or non-finite coordinates.
        """
        if not self.link_up:
            return False, 0
        if start_index > len(self.mission) or (start_index > 0 and not items):
            return False, 0
        for i, it in enumerate(items):
            if it.command not in _MISSION_COMMANDS:
                self._say(Severity.CRITICAL, f"Mission rejected: unsupported command "
                                             f"{it.command} at item {start_index + i}")
                return False, 0
            positional = it.command not in (MavCmd.DO_CHANGE_SPEED, MavCmd.NAV_RETURN_TO_LAUNCH)
            if positional and it.frame not in _GLOBAL_FRAMES:
                self._say(Severity.CRITICAL, f"Mission rejected: unsupported frame {it.frame} "
                                             f"at item {start_index + i}")
                return False, 0
            if positional and not GeoPoint(it.x_lat, it.y_long, it.z_alt).is_valid():
                self._say(Severity.CRITICAL, f"Mission rejected: invalid position at item "
                                             f"{start_index + i}")
                return False, 0
            if positional and not math.isfinite(it.z_alt):
                return False, 0
            params = (it.param1, it.param2, it.param3, it.param4)
            if it.command in (MavCmd.NAV_LOITER_TIME, MavCmd.DO_CHANGE_SPEED) and not all(
                math.isfinite(v) for v in params[:2]
            ):
                return False, 0
        new = tuple(self.mission[:start_index]) + tuple(items)
        self.mission = new
        if start_index == 0:
            self.mission_seq = 0
            self.mission_finished = False
            self._item_arrived = False
            self._item_timer = 0.0
        self.mission_changed = True
        if self.mode == "AUTO.MISSION" and self.airborne:
            self._enter_mode()
        return True, len(items)

    def clear_mission(self) -> bool:
        """Handle mission/clear; a vehicle flying the mission holds where it is."""
        if not self.link_up:
            return False
        self.mission = ()
        self.mission_seq = 0
        self.mission_finished = False
        self.mission_changed = True
        if self.mode == "AUTO.MISSION":
            self._set_mode("AUTO.LOITER")
        return True

    def set_current(self, seq: int) -> bool:
        """Handle mission/set_current."""
        if not self.link_up or not 0 <= seq < len(self.mission):
            return False
        self.mission_seq = seq
        self.mission_finished = False
        self._item_arrived = False
        self._item_timer = 0.0
        self.mission_changed = True
        if self.mode == "AUTO.MISSION":
            self._enter_mode()
        return True

    def inject(self, failure: Failure, active: bool) -> str:
        """Inject or clear a failure; return a description of what happened."""
        if active:
            if failure in self.failures:
                return f"{failure.name} already active on {self.vehicle_id}"
            self.failures.add(failure)
            if failure is Failure.LINK_LOSS:
                self._link_lost_at = self.time_s
            elif failure is Failure.GPS_LOSS:
                self._say(Severity.CRITICAL, "GPS fix lost")
                if self.airborne and self.mode != "AUTO.LAND":
                    self._say(Severity.CRITICAL, "Failsafe activated: no global position, landing")
                    self._set_mode("AUTO.LAND")
            elif failure is Failure.BATTERY_FAULT:
                self.battery.fault = True
                self.battery.soc = min(self.battery.soc, 0.12)
                self._say(Severity.CRITICAL, "Battery failure: cell imbalance, discharge fast")
            elif failure is Failure.MOTOR_FAILURE:
                self._say(Severity.EMERGENCY, "Motor failure detected, emergency landing")
                if self.airborne:
                    self._set_mode("AUTO.LAND")
            self.state_changed = True
            return f"{failure.name} injected on {self.vehicle_id}"
        if failure not in self.failures:
            return f"{failure.name} was not active on {self.vehicle_id}"
        self.failures.discard(failure)
        if failure is Failure.LINK_LOSS:
            self._link_lost_at = None
        elif failure is Failure.BATTERY_FAULT:
            self.battery.fault = False
        elif failure is Failure.GPS_LOSS:
            self._say(Severity.INFO, "GPS fix regained")
        self.state_changed = True
        return f"{failure.name} cleared on {self.vehicle_id}"

    # ----------------------------------------------------------------- behaviour
    def _speed_setting(self, requested: float) -> float:
        if requested <= 0:
            return self.config.limits.cruise_speed
        return min(requested, self.config.limits.max_horizontal_speed)

    def _hold_here(self) -> None:
        self._nav = _Nav(target=(self.east, self.north), target_alt=self.up,
                         speed=self._cruise)

    def _enter_mode(self) -> None:
        """Set up the controller for the current mode."""
        m = self.mode
        lim = self.config.limits
        if m == "AUTO.RTL":
            self._rtl_phase = _RtlPhase.CLIMB
        elif m == "AUTO.TAKEOFF":
            if self._takeoff_alt <= 0:
                self._takeoff_alt = lim.takeoff_altitude
        elif m == "AUTO.MISSION":
            self._item_arrived = False
            self._item_timer = 0.0
            if self.mission_finished and not self.airborne:
                self.mission_seq = 0
                self.mission_finished = False
                self.mission_changed = True
        if self.airborne and m in ("AUTO.LOITER", "AUTO.READY"):
            self._hold_here()

    def _item_target(self, it: MissionItem) -> tuple[float, float, float]:
        alt = it.z_alt if it.frame in _REL_FRAMES else it.z_alt - self.config.home.altitude
        e, n, _ = self.frame.to_enu(GeoPoint(it.x_lat, it.y_long, 0.0))
        return e, n, alt

    def _reached(self, seq: int) -> None:
        self.outbox_reached.append(seq)
        self._say(Severity.INFO, f"Mission item {seq} reached")

    def _advance(self) -> None:
        self._reached(self.mission_seq)
        self._item_arrived = False
        self._item_timer = 0.0
        if self.mission_seq + 1 < len(self.mission):
            self.mission_seq += 1
        else:
            self.mission_finished = True
            self._say(Severity.INFO, "Mission finished, loitering" if self.airborne
                      else "Mission finished")
        self.mission_changed = True

    def _control_mission(self, dt: float) -> None:
        lim = self.config.limits
        if self.mission_finished or not self.mission:
            if self.airborne and self._nav.target is None:
                self._hold_here()
            return
        it = self.mission[self.mission_seq]
        cmd = it.command
        if not self.airborne and cmd not in (MavCmd.NAV_TAKEOFF, MavCmd.DO_CHANGE_SPEED):
            # PX4 inserts a takeoff when a mission starts on the ground.
            if cmd in (MavCmd.NAV_LAND, MavCmd.NAV_RETURN_TO_LAUNCH):
                self._advance()
                return
            alt = max(lim.takeoff_altitude, self._item_target(it)[2])
            self._nav = _Nav(target=(self.east, self.north), target_alt=alt, speed=self._cruise)
            self._begin_takeoff()
            return
        if cmd == MavCmd.DO_CHANGE_SPEED:
            self._cruise = self._speed_setting(it.param2)
            self._advance()
            return
        if cmd == MavCmd.NAV_TAKEOFF:
            _, _, alt = self._item_target(it)
            alt = alt if alt >= 1.0 else lim.takeoff_altitude
            self._nav = _Nav(target=(self.east, self.north), target_alt=alt, speed=self._cruise)
            self._begin_takeoff()
            if self.up >= alt - 1.0:
                self._advance()
            return
        if cmd == MavCmd.NAV_RETURN_TO_LAUNCH:
            self._control_rtl()
            if not self.airborne and not self.armed:
                self._advance()
            return
        e, n, alt = self._item_target(it)
        if cmd == MavCmd.NAV_LAND:
            dist = math.hypot(e - self.east, n - self.north)
            if dist > lim.acceptance_radius and not self._nav.landing:
                self._nav = _Nav(target=(e, n), target_alt=self.up, speed=self._cruise)
            else:
                self._nav = _Nav(target=(e, n), target_alt=0.0, speed=self._cruise, landing=True)
            if not self.airborne:
                self._advance()
            return
        self._nav = _Nav(target=(e, n), target_alt=alt, speed=self._cruise)
        arrived = (math.hypot(e - self.east, n - self.north) <= lim.acceptance_radius
                   and abs(alt - self.up) <= 1.0)
        if arrived and not self._item_arrived:
            self._item_arrived = True
            if cmd == MavCmd.NAV_LOITER_UNLIM:
                self._reached(self.mission_seq)
        if not self._item_arrived:
            return
        self._item_timer += dt
        if cmd == MavCmd.NAV_LOITER_UNLIM:
            return
        hold = it.param1 if cmd in (MavCmd.NAV_WAYPOINT, MavCmd.NAV_LOITER_TIME) else 0.0
        if self._item_timer >= max(0.0, hold):
            self._advance()

    def _begin_takeoff(self) -> None:
        if self.armed and not self.airborne:
            self.landed_state = LandedState.TAKEOFF
            self.state_changed = True
            self._say(Severity.INFO, "Takeoff detected")

    def _control_rtl(self) -> None:
        lim = self.config.limits
        if not self.airborne:
            self._nav = _Nav()
            return
        if self._rtl_phase is _RtlPhase.CLIMB:
            target_alt = max(self.up, lim.rtl_altitude)
            self._nav = _Nav(target=(self.east, self.north), target_alt=target_alt,
                             speed=self._cruise)
            if self.up >= min(target_alt, lim.rtl_altitude) - 0.5 or self.distance_to_home_m() < \
                    lim.acceptance_radius:
                self._rtl_phase = _RtlPhase.RETURN
                self._rtl_alt = max(self.up, lim.rtl_altitude) \
                    if self.distance_to_home_m() >= lim.acceptance_radius else self.up
        if self._rtl_phase is _RtlPhase.RETURN:
            self._nav = _Nav(target=(0.0, 0.0), target_alt=self._rtl_alt, speed=self._cruise)
            if self.distance_to_home_m() <= lim.acceptance_radius / 2:
                self._rtl_phase = _RtlPhase.DESCEND
        if self._rtl_phase is _RtlPhase.DESCEND:
            self._nav = _Nav(target=(0.0, 0.0), target_alt=0.0, speed=self._cruise, landing=True)

    def _control(self, dt: float) -> None:
        """Choose the controller's target for this step from the mode."""
        m = self.mode
        if not self.armed:
            self._nav = _Nav()
            return
        if Failure.MOTOR_FAILURE in self.failures or m == "AUTO.LAND":
            if self.airborne:
                self._nav = _Nav(target=None, target_alt=0.0, landing=True)
            return
        if m == "AUTO.TAKEOFF":
            self._nav = _Nav(target=(self.east, self.north) if self._nav.target is None
                             else self._nav.target, target_alt=self._takeoff_alt,
                             speed=self._cruise)
            self._begin_takeoff()
            if self.airborne and self.up >= self._takeoff_alt - 0.5:
                self._say(Severity.INFO, "Takeoff complete, holding")
                self._set_mode("AUTO.LOITER")
            return
        if m == "AUTO.RTL":
            self._control_rtl()
            return
        if m == "AUTO.MISSION":
            self._control_mission(dt)
            return
        if self.airborne and self._nav.target is None:
            self._hold_here()

    def _move(self, dt: float) -> None:
        """Integrate the kinematics one step toward the controller's target."""
        lim = self.config.limits
        nav = self._nav
        if not self.airborne and self.landed_state is not LandedState.TAKEOFF:
            self.ve = self.vn = self.vu = 0.0
            if not self.armed or nav.target_alt is None or nav.target_alt <= 0.0 or nav.landing:
                return
        if not self.armed:
            # Motors stopped in the air (forced disarm): fall.
            self.vu = max(self.vu - GRAVITY * dt, -20.0)
        else:
            # Horizontal: approach the target with speed and acceleration limits.
            if nav.target is not None:
                de, dn = nav.target[0] - self.east, nav.target[1] - self.north
                dist = math.hypot(de, dn)
                speed = min(nav.speed or self._cruise, lim.max_horizontal_speed,
                            math.sqrt(2 * lim.max_acceleration * dist) * 0.9)
                want_e, want_n = (de / dist * speed, dn / dist * speed) if dist > 0.05 else (0, 0)
            else:
                want_e = want_n = 0.0
            dve, dvn = want_e - self.ve, want_n - self.vn
            dv = math.hypot(dve, dvn)
            max_dv = lim.max_acceleration * dt
            if dv > max_dv:
                dve, dvn = dve / dv * max_dv, dvn / dv * max_dv
            self.ve += dve
            self.vn += dvn
            # Vertical.
            if nav.landing:
                want_u = -(lim.landing_speed if self.up <= LANDING_SLOWDOWN_ALT
                           else lim.max_descent_rate)
                if Failure.MOTOR_FAILURE in self.failures:
                    want_u = -lim.max_descent_rate * 1.5
            elif nav.target_alt is not None:
                dz = nav.target_alt - self.up
                v = math.sqrt(2 * lim.max_vertical_acceleration * abs(dz)) * 0.9
                want_u = min(v, lim.max_climb_rate) if dz > 0 else -min(v, lim.max_descent_rate)
            else:
                want_u = 0.0
            dvu = want_u - self.vu
            max_dvu = lim.max_vertical_acceleration * dt
            self.vu += max(-max_dvu, min(max_dvu, dvu))
        self.east += self.ve * dt
        self.north += self.vn * dt
        self.up += self.vu * dt
        # Yaw follows the direction of travel at a limited rate.
        if self.ground_speed > 1.0:
            want_yaw = math.atan2(self.vn, self.ve)
            err = (want_yaw - self.yaw_enu + math.pi) % (2 * math.pi) - math.pi
            max_turn = math.radians(lim.max_yaw_rate_deg) * dt
            self.yaw_enu += max(-max_turn, min(max_turn, err))
        # Landed-state transitions.
        if self.up <= 0.0 and (self.vu <= 0.0 or not self.armed):
            touched = self.airborne
            self.up = 0.0
            self.ve = self.vn = self.vu = 0.0
            if touched:
                self.landed_state = LandedState.ON_GROUND
                self.state_changed = True
                self._ground_timer = 0.0
                self._say(Severity.INFO, "Landing detected")
        elif self.landed_state is LandedState.TAKEOFF and self.up >= 1.0:
            self.landed_state = LandedState.IN_AIR
            self.state_changed = True
        elif self.landed_state is LandedState.ON_GROUND and self.up > 0.1:
            self.landed_state = LandedState.TAKEOFF
            self.state_changed = True
        elif nav.landing and self.landed_state is LandedState.IN_AIR:
            self.landed_state = LandedState.LANDING
            self.state_changed = True
        elif not nav.landing and self.landed_state is LandedState.LANDING:
            self.landed_state = LandedState.IN_AIR
            self.state_changed = True

    def _energy(self, dt: float) -> None:
        b = self.battery
        if not self.armed and not self.airborne:
            for e, n, radius, rate in self._pad_frames:
                if math.hypot(self.east - e, self.north - n) <= radius:
                    b.charge(rate, dt)
                    return
        power = b.flight_power(armed=self.armed, airborne=self.airborne,
                               airspeed=math.hypot(self.ground_speed, self.vu),
                               climb_rate=self.vu, payload_kg=self.config.payload_kg)
        b.discharge(power, dt)
        spec = self.config.battery
        pct = b.percent
        for threshold, sev, text in ((spec.low_percent, Severity.WARNING,
                                      "Low battery level! Return advised"),
                                     (spec.critical_percent, Severity.CRITICAL,
                                      "Critical battery level!"),
                                     (spec.emergency_percent, Severity.EMERGENCY,
                                      "Emergency battery level! Landing")):
            if pct <= threshold < self._battery_warned:
                self._battery_warned = threshold
                self._say(sev, text)
                self.state_changed = True
        if pct > spec.low_percent:
            self._battery_warned = 101.0
        if (pct <= spec.emergency_percent and self.airborne and self.mode != "AUTO.LAND"
                and self.armed):
            self._set_mode("AUTO.LAND")

    def _auto_disarm(self, dt: float) -> None:
        if not self.armed or self.airborne:
            self._ground_timer = 0.0
            return
        self._ground_timer += dt
        lim = self.config.limits
        landed_after_flight = self.mode in ("AUTO.LAND", "AUTO.RTL") or (
            self.mode == "AUTO.MISSION" and self.mission_finished)
        limit = lim.auto_disarm_land_s if landed_after_flight else lim.auto_disarm_preflight_s
        taking_off = self._nav.target_alt is not None and self._nav.target_alt > 0 and \
            not self._nav.landing and self.mode in ("AUTO.TAKEOFF", "AUTO.MISSION")
        if self._ground_timer < limit:
            return
        if landed_after_flight:
            self._disarm("Disarmed by landing")
        elif not taking_off:
            self._disarm("Disarmed by auto preflight disarming")

    def step(self, dt: float) -> None:
        """Advance the simulation by ``dt`` seconds of simulated time."""
        if not math.isfinite(dt) or dt <= 0:
            raise ValueError(f"step dt must be a positive number of seconds, got {dt!r}")
        remaining = dt
        while remaining > 1e-9:
            h = min(MAX_SUBSTEP_S, remaining)
            self._control(h)
            self._move(h)
            self._energy(h)
            self._auto_disarm(h)
            self.time_s += h
            remaining -= h

