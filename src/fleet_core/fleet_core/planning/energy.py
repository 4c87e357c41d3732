"""Flight time and energy of a waypoint sequence, with the simulator's power model."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fleet_core.fleet.model import VehicleSpec
from fleet_core.planning.types import WindReport
from fleet_core.sim.config import BatterySpec, FlightLimits


@dataclass(frozen=True, slots=True)
class EnergyModel:
    """Power drawn and kinematics of a multirotor, as fleet_core.sim flies it.

    Power (W) = hover + payload_w_per_kg·kg + drag_w_per_speed2·airspeed² + climb_w_per_mps·climb,
    the formula of ``sim.battery.Battery.flight_power``. The simulated autopilot slows to a
    stop at every waypoint (its speed is capped by sqrt(2·a·distance)), so each leg is timed
    as accelerate-cruise-decelerate.
    """

    capacity_wh: float = 222.0
    hover_power_w: float = 350.0
    drag_w_per_speed2: float = 1.5
    climb_w_per_mps: float = 60.0
    payload_w_per_kg: float = 120.0
    cruise_speed: float = 8.0
    max_speed: float = 12.0
    max_acceleration: float = 3.0
    max_climb_rate: float = 3.0
    max_descent_rate: float = 1.5
    landing_speed: float = 0.7
    landing_slowdown_alt: float = 10.0
    charge_rate_w: float = 500.0

    @classmethod
    def from_vehicle_spec(cls, spec: VehicleSpec, battery: BatterySpec | None = None,
                          limits: FlightLimits | None = None) -> EnergyModel:
        """Take capacity and speeds from the registry entry, power terms from the sim's pack."""
        b = battery or BatterySpec()
        lim = limits or FlightLimits()
        return cls(
            capacity_wh=spec.battery_capacity_wh,
            hover_power_w=b.hover_power_w,
            drag_w_per_speed2=b.drag_w_per_speed2,
            climb_w_per_mps=b.climb_w_per_mps,
            payload_w_per_kg=b.payload_w_per_kg,
            cruise_speed=spec.cruise_speed,
            max_speed=min(spec.max_speed, lim.max_horizontal_speed),
            max_acceleration=lim.max_acceleration,
            max_climb_rate=lim.max_climb_rate,
            max_descent_rate=lim.max_descent_rate,
            landing_speed=lim.landing_speed,
        )

    def power_w(self, airspeed: float, payload_kg: float, climb_rate: float = 0.0) -> float:
        """Return the electrical power in a flight state."""
        return (self.hover_power_w + self.payload_w_per_kg * payload_kg
                + self.drag_w_per_speed2 * airspeed * airspeed
                + self.climb_w_per_mps * max(0.0, climb_rate))

    def cruise(self, dx: float, dy: float, speed: float, payload_kg: float,
               wind: WindReport | None) -> tuple[float, float]:
        """Return (seconds, Wh) of a horizontal leg flown from rest to rest at ``speed``.

        The autopilot holds ground speed; into a headwind the airspeed (and drag) rises,
        and when it would exceed ``max_speed`` the ground speed drops instead.
        """
        dist = math.hypot(dx, dy)
        if dist < 1e-6:
            return 0.0, 0.0
        ux, uy = dx / dist, dy / dist
        wx = wy = 0.0
        if wind is not None and wind.speed_mps > 0:
            # direction_deg is where the wind comes from; it blows the other way.
            rad = math.radians(wind.direction_deg)
            wx, wy = -wind.speed_mps * math.sin(rad), -wind.speed_mps * math.cos(rad)
        ground = min(speed, self.max_speed)
        air = math.hypot(ground * ux - wx, ground * uy - wy)
        if air > self.max_speed:
            # |g·u − w| = max_speed, solved for g >= 0.
            along = ux * wx + uy * wy
            cross2 = wx * wx + wy * wy - along * along
            ground = max(0.5, along + math.sqrt(max(0.0, self.max_speed ** 2 - cross2)))
            air = self.max_speed
        a = self.max_acceleration
        t = dist / ground + ground / a if dist >= ground * ground / a else 2 * math.sqrt(dist / a)
        return t, self.power_w(air, payload_kg) * t / 3600.0

    def climb(self, height: float, payload_kg: float) -> tuple[float, float]:
        """Return (seconds, Wh) of a vertical climb of ``height`` metres."""
        if height <= 0:
            return 0.0, 0.0
        v = self.max_climb_rate
        t = height / v + v / 2.0
        return t, self.power_w(v, payload_kg, v) * t / 3600.0

    def descend(self, height: float, payload_kg: float, *, landing: bool) -> tuple[float, float]:
        """Return (seconds, Wh) of a descent; a landing slows down for the last metres."""
        if height <= 0:
            return 0.0, 0.0
        slow = min(height, self.landing_slowdown_alt) if landing else 0.0
        fast = height - slow
        t_fast = fast / self.max_descent_rate
        t_slow = slow / self.landing_speed
        e = (self.power_w(self.max_descent_rate, payload_kg) * t_fast
             + self.power_w(self.landing_speed, payload_kg) * t_slow) / 3600.0
        return t_fast + t_slow, e

    def hover(self, seconds: float, payload_kg: float) -> tuple[float, float]:
        """Return (seconds, Wh) of hovering."""
        s = max(0.0, seconds)
        return s, self.power_w(0.0, payload_kg) * s / 3600.0

    def charge_time_s(self, energy_wh: float) -> float:
        """Return the time to put ``energy_wh`` back on a pad (taper above 80 % included)."""
        return max(0.0, energy_wh) * 3600.0 / self.charge_rate_w * 1.15
