"""The planner's view of a vehicle, and the commands and outcomes of driving one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from fleet_core.fleet.model import Liveness, OperatingStatus, VehicleSpec
from fleet_core.geo import GeoPoint
from fleet_core.mavlink import MissionItem


@dataclass(slots=True)
class FleetVehicle:
    """What the planner knows of one vehicle, from fleet_manager's fleet picture."""

    spec: VehicleSpec
    status: OperatingStatus = OperatingStatus.UNKNOWN
    liveness: Liveness = Liveness.LOST
    position: GeoPoint | None = None
    home: GeoPoint | None = None
    battery_pct: float = math.nan
    armed: bool = False
    landed: bool = True
    mode: str = ""

    @property
    def energy_wh(self) -> float:
        """Energy left in the battery (0 when the level is unknown or negative)."""
        if not math.isfinite(self.battery_pct):
            return 0.0
        return self.spec.battery_capacity_wh * max(0.0, self.battery_pct) / 100.0


class Operation(Enum):
    """What a vehicle driver was asked to do (a DriveResult says which one ended)."""

    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    RETURN_HOME = "return_home"
    LAND = "land"


@dataclass(frozen=True, slots=True)
class FlyMission:
    """Upload ``items``, make ``start_index`` current, fly them (AUTO.MISSION) and arm."""

    vehicle_id: str
    items: tuple[MissionItem, ...]
    start_index: int = 0


@dataclass(frozen=True, slots=True)
class Hold:
    """Hold position where the vehicle is (AUTO.LOITER)."""

    vehicle_id: str


@dataclass(frozen=True, slots=True)
class Continue:
    """Go on with the uploaded mission (AUTO.MISSION)."""

    vehicle_id: str


@dataclass(frozen=True, slots=True)
class ReturnHome:
    """Return to launch and land (AUTO.RTL)."""

    vehicle_id: str


DriverCommand = FlyMission | Hold | Continue | ReturnHome


@dataclass(frozen=True, slots=True)
class DriveResult:
    """How a driver operation on a vehicle ended: ``detail`` names the failing step."""

    vehicle_id: str
    operation: Operation
    ok: bool
    detail: str  # the failing step and why, or "done"
    # The operation's first step failed, so the vehicle carries out none of it (for a start:
    # no mission was taken, nothing was armed). Only then may the mission go to another
    # vehicle without two of them flying it.
    untouched: bool = False
