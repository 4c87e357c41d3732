"""What fleet_manager reports about its fleet: each vehicle's status at an instant, the counts,
the health reports for /diagnostics, and the trails drawn in rviz.

Values only; fleet_ros turns them into messages.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum

from fleet_core.fleet.model import Liveness, LivenessThresholds, OperatingStatus, VehicleState
from fleet_core.geo import LocalFrame


@dataclass(frozen=True, slots=True)
class VehicleView:
    """A vehicle as reported at one instant."""

    state: VehicleState
    status: OperatingStatus
    liveness: Liveness
    gps_ok: bool

    @classmethod
    def at(cls, state: VehicleState, now: float, thresholds: LivenessThresholds) -> VehicleView:
        """Judge ``state`` at ``now``."""
        return cls(state, state.status(now, thresholds), state.liveness(now, thresholds),
                   state.gps_ok(now, thresholds))

    @property
    def healthy(self) -> bool:
        """Tell whether GPS, estimator, sensors and motors are all fine."""
        v = self.state
        return self.gps_ok and v.estimator_ok and v.sensors_ok and v.motors_ok


def counts_by_status(views: Iterable[VehicleView]) -> list[int]:
    """Return how many vehicles are in each status, indexed by the status's value."""
    counts = [0] * len(OperatingStatus)
    for view in views:
        counts[int(view.status)] += 1
    return counts


class StatusWatch:
    """The statuses last published, to publish again at once when one changes."""

    def __init__(self) -> None:
        self._published: dict[str, OperatingStatus] = {}

    def changed(self, fleet: Mapping[str, VehicleState], now: float,
                thresholds: LivenessThresholds) -> bool:
        """Tell whether any vehicle's status differs from the one last published."""
        return any(v.status(now, thresholds) != self._published.get(vid)
                   for vid, v in fleet.items())

    def published(self, views: Iterable[VehicleView]) -> None:
        """Remember the statuses just published."""
        for view in views:
            self._published[view.state.vehicle_id] = view.status

    def forget(self, vehicle_id: str) -> None:
        """Drop a vehicle removed from the fleet."""
        self._published.pop(vehicle_id, None)


class DiagnosticLevel(IntEnum):
    """diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass(frozen=True, slots=True)
class DiagnosticReport:
    """One entry of /diagnostics."""

    level: DiagnosticLevel
    name: str
    hardware_id: str
    message: str
    values: tuple[tuple[str, str], ...]


def vehicle_report(view: VehicleView, node_name: str = "fleet_manager") -> DiagnosticReport:
    """Report a vehicle: stale once its link is lost, a warning while stale or unhealthy."""
    v = view.state
    level = (DiagnosticLevel.STALE if view.liveness is Liveness.LOST else
             DiagnosticLevel.WARN if view.liveness is Liveness.STALE or not view.healthy else
             DiagnosticLevel.OK)
    return DiagnosticReport(
        level=level, name=f"{node_name}: {v.vehicle_id}", hardware_id=v.vehicle_id,
        message=f"{view.status.name.lower()}, {view.liveness.name.lower()}",
        values=(("mode", v.mode), ("battery_percent", f"{v.battery_percent:.1f}"),
                ("gps_ok", str(view.gps_ok)), ("estimator_ok", str(v.estimator_ok)),
                ("sensors_ok", str(v.sensors_ok)),
                ("rejected_samples", str(sum(v.rejected.values())))))


def fleet_report(fleet: Mapping[str, VehicleState], *, commands_in_flight: int,
                 no_fly_zones: int, node_name: str = "fleet_manager") -> DiagnosticReport:
    """Report the fleet manager itself: vehicles, samples ignored, commands, zones."""
    rejected = sum(sum(v.rejected.values()) for v in fleet.values())
    return DiagnosticReport(
        level=DiagnosticLevel.OK, name=node_name, hardware_id=node_name,
        message=f"{len(fleet)} vehicles",
        values=(("vehicles", str(len(fleet))), ("rejected_samples", str(rejected)),
                ("commands_in_flight", str(commands_in_flight)),
                ("no_fly_zones", str(no_fly_zones))))


class Trails:
    """Where each vehicle has been, in the local frame: a point each time it moved 0.5 m."""

    MIN_STEP_M = 0.5

    def __init__(self, frame: LocalFrame, length: int = 120) -> None:
        self.frame = frame
        self._length = length
        self._points: dict[str, deque[tuple[float, float, float]]] = {}

    @property
    def points(self) -> Mapping[str, Iterable[tuple[float, float, float]]]:
        """Return each vehicle's trail, oldest point first."""
        return self._points

    def record(self, v: VehicleState) -> None:
        """Add the vehicle's position if it moved far enough since the last point."""
        if v.position is None:
            return
        trail = self._points.setdefault(v.vehicle_id, deque(maxlen=self._length))
        point = self.frame.to_enu(v.position)
        if not trail or math.dist(trail[-1], point) > self.MIN_STEP_M:
            trail.append(point)

    def forget(self, vehicle_id: str) -> None:
        """Drop a vehicle removed from the fleet."""
        self._points.pop(vehicle_id, None)
