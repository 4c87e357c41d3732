"""How the simulated airframe moves: kinematics with PX4's speed and acceleration limits.

There are no dynamics: the position controller approaches its setpoint within the configured
velocity, acceleration and yaw-rate limits, and the land detector's state follows from height
and vertical speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fleet_core.mavlink import LandedState
from fleet_core.sim.config import FlightLimits

LANDING_SLOWDOWN_ALT = 10.0
GRAVITY = 9.81
_AIRBORNE = (LandedState.IN_AIR, LandedState.TAKEOFF, LandedState.LANDING)


@dataclass(slots=True)
class Setpoint:
    """What the position controller is asked to do right now."""

    target: tuple[float, float] | None = None  # ENU east/north to fly to; None = hold here
    target_alt: float | None = None  # m above home; None = hold altitude
    speed: float = 0.0
    landing: bool = False


@dataclass(slots=True)
class Airframe:
    """Where the vehicle is and how fast it moves, in the ENU frame centred on its home."""

    limits: FlightLimits
    east: float = 0.0
    north: float = 0.0
    up: float = 0.0
    ve: float = 0.0
    vn: float = 0.0
    vu: float = 0.0
    yaw_enu: float = math.pi / 2  # facing north
    landed_state: LandedState = LandedState.ON_GROUND

    @property
    def airborne(self) -> bool:
        """Tell whether the vehicle is off the ground."""
        return self.landed_state in _AIRBORNE

    @property
    def ground_speed(self) -> float:
        """Return the horizontal speed in m/s."""
        return math.hypot(self.ve, self.vn)

    @property
    def heading(self) -> float:
        """Return the compass heading in degrees (0 = north, clockwise)."""
        return (90.0 - math.degrees(self.yaw_enu)) % 360.0

    def distance_to_home_m(self) -> float:
        """Return the horizontal distance to home."""
        return math.hypot(self.east, self.north)

    def lift_off(self) -> bool:
        """Tell the land detector a takeoff began; return whether its state changed."""
        if self.airborne:
            return False
        self.landed_state = LandedState.TAKEOFF
        return True

    def move(self, sp: Setpoint, dt: float, *, armed: bool, motor_failure: bool,
             cruise: float) -> LandedState | None:
        """Integrate one step toward the setpoint; return the land detector's new state if any."""
        if not self.airborne:
            self.ve = self.vn = self.vu = 0.0
            if not armed or sp.target_alt is None or sp.target_alt <= 0.0 or sp.landing:
                return None
        if armed:
            self._accelerate(sp, dt, motor_failure=motor_failure, cruise=cruise)
        else:
            # Motors stopped in the air (forced disarm): fall.
            self.vu = max(self.vu - GRAVITY * dt, -20.0)
        self.east += self.ve * dt
        self.north += self.vn * dt
        self.up += self.vu * dt
        self._turn(dt)
        return self._detect_landed_state(sp, armed=armed)

    def _accelerate(self, sp: Setpoint, dt: float, *, motor_failure: bool,
                    cruise: float) -> None:
        lim = self.limits
        # Horizontal: approach the target with speed and acceleration limits.
        if sp.target is not None:
            de, dn = sp.target[0] - self.east, sp.target[1] - self.north
            dist = math.hypot(de, dn)
            speed = min(sp.speed or cruise, lim.max_horizontal_speed,
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
        if sp.landing:
            want_u = -(lim.landing_speed if self.up <= LANDING_SLOWDOWN_ALT
                       else lim.max_descent_rate)
            if motor_failure:
                want_u = -lim.max_descent_rate * 1.5
        elif sp.target_alt is not None:
            dz = sp.target_alt - self.up
            v = math.sqrt(2 * lim.max_vertical_acceleration * abs(dz)) * 0.9
            want_u = min(v, lim.max_climb_rate) if dz > 0 else -min(v, lim.max_descent_rate)
        else:
            want_u = 0.0
        dvu = want_u - self.vu
        max_dvu = lim.max_vertical_acceleration * dt
        self.vu += max(-max_dvu, min(max_dvu, dvu))

    def _turn(self, dt: float) -> None:
        """Turn toward the direction of travel at a limited rate."""
        if self.ground_speed > 1.0:
            want_yaw = math.atan2(self.vn, self.ve)
            err = (want_yaw - self.yaw_enu + math.pi) % (2 * math.pi) - math.pi
            max_turn = math.radians(self.limits.max_yaw_rate_deg) * dt
            self.yaw_enu += max(-max_turn, min(max_turn, err))

    def _detect_landed_state(self, sp: Setpoint, *, armed: bool) -> LandedState | None:
        state = self.landed_state
        if self.up <= 0.0 and (self.vu <= 0.0 or not armed):
            touched = self.airborne
            self.up = 0.0
            self.ve = self.vn = self.vu = 0.0
            if touched:
                state = LandedState.ON_GROUND
        elif state is LandedState.TAKEOFF and self.up >= 1.0:
            state = LandedState.IN_AIR
        elif state is LandedState.ON_GROUND and self.up > 0.1:
            state = LandedState.TAKEOFF
        elif sp.landing and state is LandedState.IN_AIR:
            state = LandedState.LANDING
        elif not sp.landing and state is LandedState.LANDING:
            state = LandedState.IN_AIR
        if state is self.landed_state:
            return None
        self.landed_state = state
        return state
