"""PX4's commander in the simulator: arming, flight modes, failsafes and health.

Which mode switches and arming requests are refused, and why, follows PX4; so do the
failsafes (GPS loss, motor failure and an empty battery land the vehicle) and auto-disarm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from fleet_core.mavlink import (
    PX4_MODES,
    SENSOR_BATTERY,
    SENSOR_GPS,
    SENSOR_MOTOR_OUTPUTS,
    SENSORS_PRESENT,
    MavResult,
    MavSeverity,
    MavState,
)
from fleet_core.sim.battery import Battery
from fleet_core.sim.config import SimVehicleConfig
from fleet_core.sim.kinematics import Airframe
from fleet_core.sim.navigator import Navigator
from fleet_core.sim.outbox import Outbox

# Modes the simulated autopilot can enter; the rest of PX4_MODES exist but are refused the way
# PX4 refuses them without RC or an offboard setpoint stream.
_SUPPORTED_MODES = {"AUTO.MISSION", "AUTO.LOITER", "AUTO.RTL", "AUTO.LAND", "AUTO.TAKEOFF",
                    "AUTO.READY"}
_ARMABLE_MODES = {"AUTO.MISSION", "AUTO.LOITER", "AUTO.TAKEOFF", "AUTO.READY"}


class Failure(IntEnum):
    """Failures that can be injected (values match fleet_interfaces/InjectFailure)."""

    LINK_LOSS = 1
    GPS_LOSS = 2
    BATTERY_FAULT = 3
    MOTOR_FAILURE = 4


@dataclass(slots=True)
class Commander:
    """Arming state, flight mode and injected failures, with PX4's refusals and failsafes."""

    config: SimVehicleConfig
    battery: Battery
    body: Airframe
    navigator: Navigator
    outbox: Outbox
    link_timeout_s: float = 10.0
    armed: bool = False
    mode: str = "AUTO.LOITER"
    failures: set[Failure] = field(default_factory=set)
    _link_lost_at: float | None = None
    _ground_timer: float = 0.0
    _battery_warned: float = 101.0

    # ----------------------------------------------------------------- health
    @property
    def link_up(self) -> bool:
        """Tell whether MAVLink traffic flows."""
        return Failure.LINK_LOSS not in self.failures

    @property
    def gps_fix(self) -> bool:
        """Tell whether the vehicle has a 3D GPS fix."""
        return Failure.GPS_LOSS not in self.failures

    @property
    def motor_failure(self) -> bool:
        """Tell whether a motor has failed."""
        return Failure.MOTOR_FAILURE in self.failures

    def connected(self, now: float) -> bool:
        """Return what MAVROS would report as State.connected at ``now``."""
        if self._link_lost_at is None:
            return True
        return now - self._link_lost_at < self.link_timeout_s

    @property
    def guided(self) -> bool:
        """Return MAVROS's State.guided (PX4 sets it in every auto mode)."""
        return self.mode.startswith("AUTO.") or self.mode == "OFFBOARD"

    @property
    def system_status(self) -> MavState:
        """Return MAV_STATE from the current condition."""
        if self.motor_failure:
            return MavState.EMERGENCY
        if self.battery.percent <= self.config.battery.critical_percent or self.battery.fault:
            return MavState.CRITICAL
        return MavState.ACTIVE if self.armed else MavState.STANDBY

    def sensors_health(self) -> int:
        """Return SysStatus.sensors_health bits."""
        bits = SENSORS_PRESENT
        if not self.gps_fix:
            bits &= ~SENSOR_GPS
        if self.battery.fault:
            bits &= ~SENSOR_BATTERY
        if self.motor_failure:
            bits &= ~SENSOR_MOTOR_OUTPUTS
        return bits

    # ----------------------------------------------------------------- modes
    def set_mode(self, mode: str) -> None:
        """Switch to (or re-enter) ``mode`` without checks, as a failsafe does."""
        if mode != self.mode:
            self.mode = mode
            self.outbox.state_changed = True
        self.navigator.enter(mode)

    def request_mode(self, mode: str) -> bool:
        """Handle a requested mode change; return whether the autopilot switched.

        A refused switch leaves the mode as it was and says why, as PX4 does.
        """
        if mode not in PX4_MODES:
            return False
        if self.motor_failure and mode != "AUTO.LAND":
            self.outbox.say(MavSeverity.CRITICAL, f"Switching to {mode} is currently not possible")
            return False
        if mode not in _SUPPORTED_MODES:
            self._refuse_mode(mode, "no manual control or setpoints")
            return False
        if not self.gps_fix and mode != "AUTO.LAND":
            self._refuse_mode(mode, "no valid global position")
            return False
        if mode == "AUTO.MISSION" and not self.navigator.mission:
            self._refuse_mode("Mission", "no mission available")
            return False
        self.set_mode(mode)
        return True

    def _refuse_mode(self, mode: str, why: str) -> None:
        self.outbox.say(MavSeverity.CRITICAL,
                        f"Switching to {mode} is currently not possible: {why}")

    def mode_result(self, mode: str) -> MavResult:
        """Request ``mode`` and answer as the COMMAND_ACK would."""
        return MavResult.ACCEPTED if self.request_mode(mode) else MavResult.TEMPORARILY_REJECTED

    # ----------------------------------------------------------------- arming
    def arm(self, value: bool, *, force: bool = False) -> MavResult:
        """Handle an arm (``value``) or disarm request."""
        if not value:
            if not self.armed:
                return MavResult.ACCEPTED
            if self.body.airborne and not force:
                self.outbox.say(MavSeverity.CRITICAL, "Disarming denied: not landed")
                return MavResult.TEMPORARILY_REJECTED
            self._disarm("Disarmed by external command")
            return MavResult.ACCEPTED
        if self.armed:
            return MavResult.ACCEPTED  # PX4 acknowledges a repeated arm request
        if not force:
            reason = self._arming_refusal()
            if reason is not None:
                self.outbox.say(MavSeverity.CRITICAL, f"Arming denied: {reason}")
                return MavResult.TEMPORARILY_REJECTED
        self.armed = True
        self.outbox.state_changed = True
        self._ground_timer = 0.0
        self.outbox.say(MavSeverity.INFO, "Armed by external command")
        self.navigator.enter(self.mode)
        return MavResult.ACCEPTED

    def _arming_refusal(self) -> str | None:
        spec = self.config.battery
        if self.motor_failure:
            return "motor failure"
        if self.battery.fault:
            return "battery unhealthy"
        if self.battery.percent < spec.min_arm_percent:
            return f"battery {self.battery.percent:.0f}% below {spec.min_arm_percent:.0f}%"
        if not self.gps_fix:
            return "GPS fix too low"
        if self.mode not in _ARMABLE_MODES:
            return f"not possible in {self.mode}"
        if self.mode == "AUTO.MISSION" and not self.navigator.mission:
            return "mission invalid"
        return None

    def _disarm(self, why: str) -> None:
        self.armed = False
        self.outbox.state_changed = True
        self.outbox.say(MavSeverity.INFO, why)

    # ----------------------------------------------------------------- failsafes
    def inject(self, failure: Failure, active: bool, now: float) -> str:
        """Inject or clear a failure at ``now``; return a description of what happened."""
        vid = self.config.vehicle_id
        if active:
            if failure in self.failures:
                return f"{failure.name} already active on {vid}"
            self.failures.add(failure)
            self._fail(failure, now)
            self.outbox.state_changed = True
            return f"{failure.name} injected on {vid}"
        if failure not in self.failures:
            return f"{failure.name} was not active on {vid}"
        self.failures.discard(failure)
        if failure is Failure.LINK_LOSS:
            self._link_lost_at = None
        elif failure is Failure.BATTERY_FAULT:
            self.battery.fault = False
        elif failure is Failure.GPS_LOSS:
            self.outbox.say(MavSeverity.INFO, "GPS fix regained")
        self.outbox.state_changed = True
        return f"{failure.name} cleared on {vid}"

    def _fail(self, failure: Failure, now: float) -> None:
        say = self.outbox.say
        if failure is Failure.LINK_LOSS:
            self._link_lost_at = now
        elif failure is Failure.GPS_LOSS:
            say(MavSeverity.CRITICAL, "GPS fix lost")
            if self.body.airborne and self.mode != "AUTO.LAND":
                say(MavSeverity.CRITICAL, "Failsafe activated: no global position, landing")
                self.set_mode("AUTO.LAND")
        elif failure is Failure.BATTERY_FAULT:
            self.battery.fault = True
            self.battery.soc = min(self.battery.soc, 0.12)
            say(MavSeverity.CRITICAL, "Battery failure: cell imbalance, discharge fast")
        elif failure is Failure.MOTOR_FAILURE:
            say(MavSeverity.EMERGENCY, "Motor failure detected, emergency landing")
            if self.body.airborne:
                self.set_mode("AUTO.LAND")

    def check_battery(self) -> None:
        """Warn at each battery threshold crossed, once, and land at the emergency level."""
        spec = self.config.battery
        pct = self.battery.percent
        for threshold, sev, text in ((spec.low_percent, MavSeverity.WARNING,
                                      "Low battery level! Return advised"),
                                     (spec.critical_percent, MavSeverity.CRITICAL,
                                      "Critical battery level!"),
                                     (spec.emergency_percent, MavSeverity.EMERGENCY,
                                      "Emergency battery level! Landing")):
            if pct <= threshold < self._battery_warned:
                self._battery_warned = threshold
                self.outbox.say(sev, text)
                self.outbox.state_changed = True
        if pct > spec.low_percent:
            self._battery_warned = 101.0
        if (pct <= spec.emergency_percent and self.body.airborne and self.mode != "AUTO.LAND"
                and self.armed):
            self.set_mode("AUTO.LAND")

    def landed(self) -> None:
        """Note a touchdown: auto-disarm counts from now."""
        self._ground_timer = 0.0
        self.outbox.say(MavSeverity.INFO, "Landing detected")

    def auto_disarm(self, dt: float) -> None:
        """Disarm after COM_DISARM_LAND on the ground after a flight, COM_DISARM_PRFLT before."""
        if not self.armed or self.body.airborne:
            self._ground_timer = 0.0
            return
        self._ground_timer += dt
        lim = self.config.limits
        landed_after_flight = self.mode in ("AUTO.LAND", "AUTO.RTL") or (
            self.mode == "AUTO.MISSION" and self.navigator.finished)
        limit = lim.auto_disarm_land_s if landed_after_flight else lim.auto_disarm_preflight_s
        sp = self.navigator.setpoint
        taking_off = sp.target_alt is not None and sp.target_alt > 0 and not sp.landing \
            and self.mode in ("AUTO.TAKEOFF", "AUTO.MISSION")
        if self._ground_timer < limit:
            return
        if landed_after_flight:
            self._disarm("Disarmed by landing")
        elif not taking_off:
            self._disarm("Disarmed by auto preflight disarming")
