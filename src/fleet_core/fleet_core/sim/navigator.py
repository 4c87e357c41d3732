"""PX4's navigator in the simulator: the mission, takeoff, hold, RTL and landing setpoints.

The commander decides the mode; the navigator turns that mode into the position controller's
setpoint each step, steps through the uploaded mission and says what PX4's navigator says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.mavlink import MavCmd, MavFrame, MavSeverity, MissionItem
from fleet_core.sim.camera import CameraTrigger
from fleet_core.sim.config import SimVehicleConfig
from fleet_core.sim.kinematics import Airframe, Setpoint
from fleet_core.sim.outbox import Outbox

_MISSION_COMMANDS = frozenset({MavCmd.NAV_WAYPOINT, MavCmd.NAV_LOITER_UNLIM,
                               MavCmd.NAV_LOITER_TIME, MavCmd.NAV_RETURN_TO_LAUNCH,
                               MavCmd.NAV_LAND, MavCmd.NAV_TAKEOFF, MavCmd.DO_CHANGE_SPEED,
                               MavCmd.DO_SET_CAM_TRIGG_DIST})
# Items without a position: their frame and coordinates are not looked at.
_NOT_POSITIONAL = frozenset({MavCmd.DO_CHANGE_SPEED, MavCmd.NAV_RETURN_TO_LAUNCH,
                             MavCmd.DO_SET_CAM_TRIGG_DIST})
# Items done at once, on the ground as in the air.
_IMMEDIATE = frozenset({MavCmd.DO_CHANGE_SPEED, MavCmd.DO_SET_CAM_TRIGG_DIST})
_GLOBAL_FRAMES = {int(f) for f in MavFrame}
_REL_FRAMES = {int(MavFrame.GLOBAL_REL_ALT), int(MavFrame.GLOBAL_RELATIVE_ALT_INT)}


class RtlPhase(Enum):
    """The legs of a return to launch."""

    CLIMB = 1
    RETURN = 2
    DESCEND = 3


@dataclass(slots=True)
class Navigator:
    """The mission and the setpoint the current mode asks for."""

    config: SimVehicleConfig
    frame: LocalFrame
    body: Airframe
    outbox: Outbox
    mission: tuple[MissionItem, ...] = ()
    seq: int = 0
    finished: bool = False
    setpoint: Setpoint = field(default_factory=Setpoint)
    cruise: float = 0.0
    takeoff_alt: float = 0.0
    _item_timer: float = 0.0
    _item_arrived: bool = False
    _rtl_phase: RtlPhase = RtlPhase.CLIMB
    _rtl_alt: float = 0.0
    camera: CameraTrigger = field(init=False)

    def __post_init__(self) -> None:
        self.cruise = self.config.limits.cruise_speed
        self.camera = CameraTrigger()

    # ----------------------------------------------------------------- the mission
    def load(self, items: list[MissionItem], start_index: int) -> bool:
        """Take a mission upload from ``start_index`` on; return whether it was accepted.

        Like PX4, the whole upload is refused if any item is invalid: an unsupported
        command or frame, or non-finite coordinates.
        """
        if start_index > len(self.mission) or (start_index > 0 and not items):
            return False
        for i, it in enumerate(items):
            if not self._acceptable(it, start_index + i):
                return False
        self.mission = tuple(self.mission[:start_index]) + tuple(items)
        if start_index == 0:
            self.seq = 0
            self.finished = False
            self._restart_item()
        self.outbox.mission_changed = True
        return True

    def _acceptable(self, it: MissionItem, index: int) -> bool:
        if it.command not in _MISSION_COMMANDS:
            self.outbox.say(MavSeverity.CRITICAL, f"Mission rejected: unsupported command "
                                               f"{it.command} at item {index}")
            return False
        positional = it.command not in _NOT_POSITIONAL
        if positional and it.frame not in _GLOBAL_FRAMES:
            self.outbox.say(MavSeverity.CRITICAL, f"Mission rejected: unsupported frame "
                                               f"{it.frame} at item {index}")
            return False
        if positional and not GeoPoint(it.x_lat, it.y_long, it.z_alt).is_valid():
            self.outbox.say(MavSeverity.CRITICAL, f"Mission rejected: invalid position at item "
                                               f"{index}")
            return False
        if positional and not math.isfinite(it.z_alt):
            return False
        if it.command == MavCmd.DO_SET_CAM_TRIGG_DIST and not (
                math.isfinite(it.param1) and it.param1 >= 0):
            self.outbox.say(MavSeverity.CRITICAL, f"Mission rejected: camera trigger distance "
                                               f"{it.param1} at item {index} is not >= 0")
            return False
        params = (it.param1, it.param2)
        return it.command not in (MavCmd.NAV_LOITER_TIME, MavCmd.DO_CHANGE_SPEED) or all(
            math.isfinite(v) for v in params)

    def clear(self) -> None:
        """Forget the mission."""
        self.mission = ()
        self.seq = 0
        self.finished = False
        self.outbox.mission_changed = True

    def set_current(self, seq: int) -> bool:
        """Make item ``seq`` the next one; return whether it exists."""
        if not 0 <= seq < len(self.mission):
            return False
        self.seq = seq
        self.finished = False
        self._restart_item()
        self.outbox.mission_changed = True
        return True

    def _restart_item(self) -> None:
        self._item_arrived = False
        self._item_timer = 0.0

    # ----------------------------------------------------------------- commands
    def speed_setting(self, requested: float) -> float:
        """Return the cruise speed a DO_CHANGE_SPEED asks for (0 or less: the default)."""
        if requested <= 0:
            return self.config.limits.cruise_speed
        return min(requested, self.config.limits.max_horizontal_speed)

    def set_takeoff_altitude(self, altitude_amsl: float) -> None:
        """Take NAV_TAKEOFF's altitude, or MIS_TAKEOFF_ALT when it is missing or too low."""
        home = self.config.home.altitude
        rel = altitude_amsl - home if math.isfinite(altitude_amsl) else 0.0
        self.takeoff_alt = rel if rel >= 1.0 else self.config.limits.takeoff_altitude

    def reposition_setpoint(self, lat: float, lon: float, alt_amsl: float) -> Setpoint | None:
        """Return where DO_REPOSITION asks to hold (NaN keeps that coordinate, as PX4), or None.

        None means the point is invalid.
        """
        body = self.body
        here = self.frame.to_geo(body.east, body.north, body.up)
        target = GeoPoint(lat if math.isfinite(lat) else here.latitude,
                          lon if math.isfinite(lon) else here.longitude)
        if not target.is_valid():
            return None
        up = alt_amsl - self.config.home.altitude if math.isfinite(alt_amsl) else body.up
        if not -1.0 < up < 5000.0:
            return None
        e, n, _ = self.frame.to_enu(target)
        return Setpoint(target=(e, n), target_alt=max(up, 1.0), speed=self.cruise)

    # ----------------------------------------------------------------- setpoints
    def enter(self, mode: str) -> None:
        """Set up for the mode the commander just switched to (or re-entered)."""
        if mode == "AUTO.RTL":
            self._rtl_phase = RtlPhase.CLIMB
        elif mode == "AUTO.TAKEOFF":
            if self.takeoff_alt <= 0:
                self.takeoff_alt = self.config.limits.takeoff_altitude
        elif mode == "AUTO.MISSION":
            self._restart_item()
            if self.finished and not self.body.airborne:
                self.seq = 0
                self.finished = False
                self.outbox.mission_changed = True
        if self.body.airborne and mode in ("AUTO.LOITER", "AUTO.READY"):
            self._hold_here()

    def control(self, mode: str, dt: float, *, armed: bool, motor_failure: bool) -> str | None:
        """Choose this step's setpoint from the mode; return a mode to switch to, if any."""
        if not armed:
            self.setpoint = Setpoint()
            return None
        if motor_failure or mode == "AUTO.LAND":
            if self.body.airborne:
                self.setpoint = Setpoint(target=None, target_alt=0.0, landing=True)
            return None
        if mode == "AUTO.TAKEOFF":
            self._here_to(self.takeoff_alt, keep_target=True)
            self._begin_takeoff()
            if self.body.airborne and self.body.up >= self.takeoff_alt - 0.5:
                self.outbox.say(MavSeverity.INFO, "Takeoff complete, holding")
                return "AUTO.LOITER"
            return None
        if mode == "AUTO.RTL":
            self._control_rtl()
        elif mode == "AUTO.MISSION":
            self._control_mission(dt, armed=armed)
        elif self.body.airborne and self.setpoint.target is None:
            self._hold_here()
        return None

    def _hold_here(self) -> None:
        self._here_to(self.body.up)

    def _here_to(self, alt: float, *, keep_target: bool = False) -> None:
        """Aim at ``alt`` above the current position (or above the current target)."""
        target = self.setpoint.target if keep_target else None
        body = self.body
        self.setpoint = Setpoint(target=(body.east, body.north) if target is None else target,
                                 target_alt=alt, speed=self.cruise)

    def _begin_takeoff(self) -> None:
        if self.body.lift_off():
            self.outbox.state_changed = True
            self.outbox.say(MavSeverity.INFO, "Takeoff detected")

    def _item_target(self, it: MissionItem) -> tuple[float, float, float]:
        alt = it.z_alt if it.frame in _REL_FRAMES else it.z_alt - self.config.home.altitude
        e, n, _ = self.frame.to_enu(GeoPoint(it.x_lat, it.y_long, 0.0))
        return e, n, alt

    def _reached(self, seq: int) -> None:
        self.outbox.reached.append(seq)
        self.outbox.say(MavSeverity.INFO, f"Mission item {seq} reached")

    def _advance(self) -> None:
        self._reached(self.seq)
        self._restart_item()
        if self.seq + 1 < len(self.mission):
            self.seq += 1
        else:
            self.finished = True
            self.outbox.say(MavSeverity.INFO, "Mission finished, loitering" if self.body.airborne
                            else "Mission finished")
        self.outbox.mission_changed = True

    def _control_mission(self, dt: float, *, armed: bool) -> None:
        lim = self.config.limits
        body = self.body
        if self.finished or not self.mission:
            if body.airborne and self.setpoint.target is None:
                self._hold_here()
            return
        it = self.mission[self.seq]
        cmd = it.command
        if not body.airborne and cmd != MavCmd.NAV_TAKEOFF and cmd not in _IMMEDIATE:
            # PX4 inserts a takeoff when a mission starts on the ground.
            if cmd in (MavCmd.NAV_LAND, MavCmd.NAV_RETURN_TO_LAUNCH):
                self._advance()
                return
            self._here_to(max(lim.takeoff_altitude, self._item_target(it)[2]))
            self._begin_takeoff()
            return
        if cmd == MavCmd.DO_CHANGE_SPEED:
            self.cruise = self.speed_setting(it.param2)
            self._advance()
            return
        if cmd == MavCmd.DO_SET_CAM_TRIGG_DIST:
            self.camera.set_distance(it.param1, shoot_now=it.param3 == 1.0)
            self._advance()
            return
        if cmd == MavCmd.NAV_TAKEOFF:
            _, _, alt = self._item_target(it)
            alt = alt if alt >= 1.0 else lim.takeoff_altitude
            self._here_to(alt)
            self._begin_takeoff()
            if body.up >= alt - 1.0:
                self._advance()
            return
        if cmd == MavCmd.NAV_RETURN_TO_LAUNCH:
            self._control_rtl()
            if not body.airborne and not armed:
                self._advance()
            return
        e, n, alt = self._item_target(it)
        if cmd == MavCmd.NAV_LAND:
            dist = math.hypot(e - body.east, n - body.north)
            if dist > lim.acceptance_radius and not self.setpoint.landing:
                self.setpoint = Setpoint(target=(e, n), target_alt=body.up, speed=self.cruise)
            else:
                self.setpoint = Setpoint(target=(e, n), target_alt=0.0, speed=self.cruise,
                                         landing=True)
            if not body.airborne:
                self._advance()
            return
        self.setpoint = Setpoint(target=(e, n), target_alt=alt, speed=self.cruise)
        arrived = (math.hypot(e - body.east, n - body.north) <= lim.acceptance_radius
                   and abs(alt - body.up) <= 1.0)
        if arrived and not self._item_arrived:
            self._item_arrived = True
            if cmd == MavCmd.NAV_LOITER_UNLIM:
                self._reached(self.seq)
        if not self._item_arrived:
            return
        self._item_timer += dt
        if cmd == MavCmd.NAV_LOITER_UNLIM:
            return
        hold = it.param1 if cmd in (MavCmd.NAV_WAYPOINT, MavCmd.NAV_LOITER_TIME) else 0.0
        if self._item_timer >= max(0.0, hold):
            self._advance()

    def _control_rtl(self) -> None:
        lim = self.config.limits
        body = self.body
        if not body.airborne:
            self.setpoint = Setpoint()
            return
        if self._rtl_phase is RtlPhase.CLIMB:
            self._here_to(max(body.up, lim.rtl_altitude))
            away = body.distance_to_home_m() >= lim.acceptance_radius
            if body.up >= lim.rtl_altitude - 0.5 or not away:
                self._rtl_phase = RtlPhase.RETURN
                self._rtl_alt = max(body.up, lim.rtl_altitude) if away else body.up
        if self._rtl_phase is RtlPhase.RETURN:
            self.setpoint = Setpoint(target=(0.0, 0.0), target_alt=self._rtl_alt,
                                     speed=self.cruise)
            if body.distance_to_home_m() <= lim.acceptance_radius / 2:
                self._rtl_phase = RtlPhase.DESCEND
        if self._rtl_phase is RtlPhase.DESCEND:
            self.setpoint = Setpoint(target=(0.0, 0.0), target_alt=0.0, speed=self.cruise,
                                     landing=True)
