"""Mission requests, plans and the planning context as domain values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.fleet.model import VehicleSpec
from fleet_core.geo import GeoPoint
from fleet_core.planning.library import WaypointLibrary
from fleet_core.planning.simplify import DEFAULT_MIN_WAYPOINT_SPACING_M

# A ring is a sequence of (longitude, latitude) vertices, GeoJSON order, closed.
Ring = tuple[tuple[float, float], ...]
# A polygon is its exterior ring followed by its holes.
PolygonRings = tuple[Ring, ...]


class MissionType(Enum):
    """What a mission does."""

    SURVEY = "survey"
    INSPECTION = "inspection"
    PATROL = "patrol"
    DELIVERY = "delivery"
    EMERGENCY = "emergency"


class Pattern(Enum):
    """How a survey covers its area."""

    LAWNMOWER = "lawnmower"
    CROSSHATCH = "crosshatch"
    PERIMETER = "perimeter"
    SPIRAL = "spiral"


class SpiralDirection(Enum):
    """Which way a spiral pattern runs."""

    OUTWARD = "outward"
    INWARD = "inward"


class WaypointKind(Enum):
    """What the vehicle does at a waypoint."""

    TAKEOFF = "takeoff"
    TRANSIT = "transit"
    SURVEY = "survey"
    INSPECT = "inspect"
    LOITER = "loiter"
    PICKUP = "pickup"
    DROPOFF = "dropoff"
    LAND = "land"
    CHARGE = "charge"


@dataclass(frozen=True, slots=True)
class PlaceRef:
    """A reference to a waypoint-library place, written "@name" in requests."""

    name: str

    def __str__(self) -> str:
        return f"@{self.name}"


# Where a request points: a position, or a named place resolved at planning time.
Target = GeoPoint | PlaceRef


@dataclass(frozen=True, slots=True)
class Area:
    """A WGS-84 area: one or more polygons with holes (GeoJSON rings, lon/lat order)."""

    polygons: tuple[PolygonRings, ...]


@dataclass(frozen=True, slots=True)
class Camera:
    """The ground footprint of the camera: from fields of view, or given in metres."""

    hfov_deg: float | None = None
    vfov_deg: float | None = None
    footprint_width_m: float | None = None
    footprint_height_m: float | None = None

    def footprint(self, altitude_m: float) -> tuple[float, float]:
        """Return (across-track width, along-track height) of the footprint in metres."""
        if self.footprint_width_m is not None and self.footprint_height_m is not None:
            return self.footprint_width_m, self.footprint_height_m
        assert self.hfov_deg is not None
        assert self.vfov_deg is not None
        return (2 * altitude_m * math.tan(math.radians(self.hfov_deg) / 2),
                2 * altitude_m * math.tan(math.radians(self.vfov_deg) / 2))


@dataclass(frozen=True, slots=True)
class Orbit:
    """A structure orbit: a circle of ``radius_m`` around ``centre``."""

    centre: Target
    radius_m: float


@dataclass(frozen=True, slots=True)
class MissionRequest:
    """What to fly. Which fields matter depends on ``mission_type`` (see request.py).

    Times are POSIX seconds; altitudes are metres above home (taken as above ground: the
    planner has no terrain model).
    """

    mission_type: MissionType
    altitude_m: float
    name: str = ""
    speed_mps: float | None = None  # None: the vehicle's cruise speed
    # survey, inspection of a perimeter
    area: Area | None = None
    pattern: Pattern = Pattern.LAWNMOWER
    sweep_deg: float | None = None  # bearing of the sweep lines; None: the longest edge
    spiral: SpiralDirection = SpiralDirection.OUTWARD
    camera: Camera | None = None
    side_overlap_pct: float = 70.0
    front_overlap_pct: float = 80.0
    # inspection of a structure
    orbit: Orbit | None = None
    # patrol
    route: tuple[Target, ...] = ()
    repeat: int = 1
    # delivery
    pickup: Target | None = None
    dropoff: Target | None = None
    payload_kg: float = 0.0
    handling_s: float = 30.0  # hover at pickup and at drop-off
    # emergency
    target: Target | None = None
    hover_s: float = 0.0
    land: bool = False
    # schedule
    not_before: float | None = None
    not_after: float | None = None
    scheduled_start: float | None = None
    return_home: bool = True


@dataclass(frozen=True, slots=True)
class WindReport:
    """Wind from a local station: speed, and the bearing it blows *from*."""

    speed_mps: float
    direction_deg: float
    observed_at: float


@dataclass(frozen=True, slots=True)
class PlanningContext:
    """Everything besides the request that a plan depends on."""

    start: GeoPoint  # where the vehicle is; altitude ignored
    vehicle: VehicleSpec
    home: GeoPoint | None = None  # None: the start is home
    available_energy_wh: float | None = None  # None: a full battery
    no_fly_zones: Sequence[NoFlyZone] = ()
    now: float = 0.0
    wind: WindReport | None = None
    library: WaypointLibrary = field(default_factory=WaypointLibrary)
    charging_stations: Sequence[tuple[str, GeoPoint]] = ()
    reserve_pct: float = 20.0
    max_wind_mps: float = 12.0
    zone_margin_m: float = 10.0
    # Waypoints closer than this are merged: the autopilot stops at each, so a finely drawn
    # boundary (a 10,000-vertex circle) would otherwise cost a stop every 30 cm.
    min_waypoint_spacing_m: float = DEFAULT_MIN_WAYPOINT_SPACING_M
    # False plans the whole mission on one imaginary battery (no charging stops, no energy
    # refusal): what a survey costs in all, for sharing it out among several vehicles.
    energy_limit: bool = True


@dataclass(frozen=True, slots=True)
class Waypoint:
    """One planned position (altitude relative to home) and what to do there."""

    position: GeoPoint
    kind: WaypointKind
    hold_s: float = 0.0
    speed_mps: float | None = None  # ground speed on the way here; None: unchanged
    payload_kg: float = 0.0  # carried on the way here
    # The camera photographs the way here (a survey line); see planning.items.photo_lines.
    photo: bool = False


@dataclass(frozen=True, slots=True)
class Leg:
    """A part of a plan flown on one charge: waypoints ``start_index..end_index`` inclusive.

    ``charge_station`` names the station where the leg ends to recharge (None for the last).
    """

    start_index: int
    end_index: int
    distance_m: float
    duration_s: float
    energy_wh: float
    charge_station: str | None = None


@dataclass(frozen=True, slots=True)
class MissionPlan:
    """A planned mission: waypoints and what flying them costs."""

    request: MissionRequest
    waypoints: tuple[Waypoint, ...]
    distance_m: float  # horizontal, along the path
    duration_s: float  # flight, turns, holds, climbs and charging
    energy_wh: float  # drawn in flight (every leg)
    reserve_wh: float  # kept unused at the end of every leg
    legs: tuple[Leg, ...]
    start_time: float
    coverage_pct: float | None = None  # surveys only
    trigger_distance_m: float | None = None  # surveys: photo spacing along the lines
    photo_count: int | None = None  # surveys: photos the camera takes on the photo lines
    line_spacing_m: float | None = None
    return_index: int | None = None  # first waypoint of the way home, if planned
    warnings: tuple[str, ...] = ()

    @property
    def path(self) -> tuple[GeoPoint, ...]:
        """Return the WGS-84 path (altitudes relative to home)."""
        return tuple(w.position for w in self.waypoints)

    @property
    def finish_time(self) -> float:
        """Return the planned POSIX end time."""
        return self.start_time + self.duration_s
