"""Battery of a simulated multirotor: energy drain by flight state, voltage sag, charging."""

from __future__ import annotations

from dataclasses import dataclass

from fleet_core.sim.config import BatterySpec

# Per-cell open-circuit voltage of a LiPo: 4.2 V full, about 3.5 V at 10 %, falling fast below.
_CELL_FULL_V = 4.2
_CELL_KNEE_V = 3.5
_CELL_EMPTY_V = 3.0
_KNEE_SOC = 0.10
# Charging tapers above this state of charge (constant-voltage phase).
_TAPER_SOC = 0.8


@dataclass(slots=True)
class Battery:
    """State of charge and the electrical readings derived from the last power draw."""

    spec: BatterySpec
    soc: float  # 0..1
    voltage: float = 0.0
    current: float = 0.0  # A, positive when discharging, negative when charging
    charging: bool = False
    fault: bool = False

    @classmethod
    def new(cls, spec: BatterySpec) -> Battery:
        """Make a battery at the spec's initial charge."""
        b = cls(spec=spec, soc=spec.initial_percent / 100.0)
        b.voltage = b.open_circuit_voltage()
        return b

    @property
    def percent(self) -> float:
        """Return the state of charge in percent."""
        return self.soc * 100.0

    def open_circuit_voltage(self) -> float:
        """Return the pack voltage with no load."""
        if self.soc >= _KNEE_SOC:
            frac = (self.soc - _KNEE_SOC) / (1 - _KNEE_SOC)
            cell = _CELL_KNEE_V + frac * (_CELL_FULL_V - _CELL_KNEE_V)
        else:
            cell = _CELL_EMPTY_V + (self.soc / _KNEE_SOC) * (_CELL_KNEE_V - _CELL_EMPTY_V)
        return cell * self.spec.cells

    def flight_power(self, *, armed: bool, airborne: bool, airspeed: float, climb_rate: float,
                     payload_kg: float) -> float:
        """Return the electrical power (W) drawn in the given flight state."""
        s = self.spec
        if not armed:
            return s.avionics_power_w
        if not airborne:
            return s.armed_idle_power_w
        return (
            s.hover_power_w
            + s.payload_w_per_kg * payload_kg
            + s.drag_w_per_speed2 * airspeed * airspeed
            + s.climb_w_per_mps * max(0.0, climb_rate)
        )

    def discharge(self, power_w: float, dt: float) -> None:
        """Draw ``power_w`` for ``dt`` seconds; a faulty pack drains five times faster."""
        self.charging = False
        ocv = self.open_circuit_voltage()
        current = power_w / max(ocv, 1e-3)
        self.current = current
        self.voltage = max(0.0, ocv - current * self.spec.internal_resistance_ohm)
        factor = 5.0 if self.fault else 1.0
        self.soc = max(0.0, self.soc - factor * power_w * dt / 3600.0 / self.spec.capacity_wh)

    def charge(self, rate_w: float, dt: float) -> None:
        """Charge at up to ``rate_w`` for ``dt`` seconds, tapering near full."""
        if self.fault or self.soc >= 1.0:
            self.charging = False
            self.current = 0.0
            self.voltage = self.open_circuit_voltage()
            return
        taper = 1.0 if self.soc < _TAPER_SOC else max(0.05, (1.0 - self.soc) / (1 - _TAPER_SOC))
        power = rate_w * taper
        ocv = self.open_circuit_voltage()
        self.charging = True
        self.current = -power / max(ocv, 1e-3)
        self.voltage = ocv - self.current * self.spec.internal_resistance_ohm
        self.soc = min(1.0, self.soc + power * dt / 3600.0 / self.spec.capacity_wh)
