"""Builders shared by the execution tests: a fleet in metres, a fake clock, a fake autopilot.

The executor is driven the way the mission_planner node drives it: the fleet picture is
updated in ``planning.vehicles``, then ``tick()``, ``reached()`` or ``drive_result()`` is
called and the effects are drained. ``Autopilot`` plays the vehicle side: it flies the items
of an upload, moving the vehicle in the fleet picture and reporting each item reached.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fleet_core.dispatch.state import MissionState
from fleet_core.execution.model import DriveResult, FleetVehicle, FlyMission, Operation
from fleet_core.execution.planning import FleetPlanning
from fleet_core.execution.runs import Effect, MissionExecutor
from fleet_core.execution.trips import TripState
from fleet_core.fleet.config import load_fleet_settings
from fleet_core.fleet.model import Liveness, OperatingStatus
from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.mavlink import MavCmd
from fleet_core.missions_config import load_planner_settings

HOME = GeoPoint(47.397742, 8.545594, 488.0)
FRAME = LocalFrame.at(HOME)
T0 = 1_700_000_000.0  # the fake clock starts here (POSIX seconds)

_E = TypeVar("_E")


def at(east: float, north: float = 0.0) -> GeoPoint:
    """Return the point ``east``, ``north`` metres from HOME (at HOME's altitude)."""
    return FRAME.to_geo(east, north, 0.0)


def place(east: float, north: float = 0.0) -> dict[str, float]:
    """Return a request or config position ``east``, ``north`` metres from HOME."""
    p = at(east, north)
    return {"latitude": p.latitude, "longitude": p.longitude, "altitude": HOME.altitude}


# One station of one pad, 40 m west of HOME (the graph tests' station).
STATION: dict[str, Any] = {"id": "pad_a", "location": place(-40.0), "charge_rate_w": 3000.0,
                           "pad_radius_m": 2.0, "pads": [{"east": 0.0, "north": 0.0}]}
PAD = at(-40.0)


@dataclass(slots=True)
class Clock:
    """A clock the test moves by hand."""

    t: float = T0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def survey_spec(size: float = 60.0, east: float = 60.0, **extra: object) -> dict[str, Any]:
    """A lawnmower survey of a ``size`` m square whose west edge is ``east`` m from HOME."""
    ring = [place(east), place(east + size), place(east + size, size), place(east, size)]
    coords = [[p["longitude"], p["latitude"]] for p in [*ring, ring[0]]]
    return {"type": "survey", "altitude_m": 20.0, "speed_mps": 8.0,
            "area": {"type": "Polygon", "coordinates": [coords]}, "pattern": "lawnmower",
            "camera": {"footprint_width_m": 40.0, "footprint_height_m": 30.0},
            "side_overlap_pct": 20.0, "front_overlap_pct": 20.0, **extra}


def emergency_spec(east: float, north: float, *, hover_s: float = 3.0,
                   altitude_m: float = 20.0) -> dict[str, Any]:
    """Fly to a point ``east``, ``north`` metres from HOME and hover there."""
    p = place(east, north)
    return {"type": "emergency", "altitude_m": altitude_m, "hover_s": hover_s,
            "target": {"latitude": p["latitude"], "longitude": p["longitude"]}}


def patrol_spec(route: Sequence[tuple[float, float]], *, repeat: int = 1) -> dict[str, Any]:
    """A patrol along points given in metres from HOME."""
    points = [place(e, n) for e, n in route]
    return {"type": "patrol", "altitude_m": 20.0, "speed_mps": 8.0, "repeat": repeat,
            "route": [{"latitude": p["latitude"], "longitude": p["longitude"]} for p in points]}


@dataclass(slots=True)
class Fleet:
    """A MissionExecutor over a fleet picture, with a fake clock and its warnings kept."""

    executor: MissionExecutor
    clock: Clock
    warnings: list[str] = field(default_factory=list)

    @property
    def planning(self) -> FleetPlanning:
        return self.executor.planning

    def vehicle(self, vehicle_id: str) -> FleetVehicle:
        return self.planning.vehicles[vehicle_id]

    def state(self, mission_id: str) -> MissionState:
        """Where a mission is now (a call: nothing a type checker narrows between asserts)."""
        return self.executor.dispatcher.get(mission_id).state

    def trip_state(self, vehicle_id: str) -> TripState | None:
        """Where a vehicle's charging trip is now; None without one."""
        trip = self.executor.trips.trips.get(vehicle_id)
        return None if trip is None else trip.state

    def tick(self) -> list[Effect]:
        """One tick of the executor; return what it decided."""
        self.executor.tick()
        return self.executor.drain()

    def submit(self, spec: Mapping[str, Any], *, priority: int = 5,
               vehicle_id: str | None = None, mission_id: str = "") -> str:
        """Submit a mission that must be accepted; return its id."""
        mid, refused = self.executor.submit(mission_id, spec, priority=priority,
                                            vehicle_id=vehicle_id, created_by="test")
        assert refused == "", refused
        return mid

    def drive(self, vehicle_id: str, operation: Operation = Operation.START, *,
              ok: bool = True, detail: str = "done", untouched: bool = False) -> list[Effect]:
        """Report how a driver operation ended; return what the executor decided."""
        self.executor.drive_result(DriveResult(vehicle_id, operation, ok, detail,
                                               untouched=untouched))
        return self.executor.drain()


def fleet(vehicles: Mapping[str, tuple[float, float]], *, battery_pct: float = 100.0,
          stations: Sequence[Mapping[str, Any]] = (), capacity_wh: float | None = None,
          max_range_m: float | None = None, planner: Mapping[str, Any] | None = None
          ) -> Fleet:
    """An executor over idle, fresh, landed vehicles at ``east, north`` metres from HOME.

    With ``capacity_wh`` or ``max_range_m`` the vehicles are listed in the registry with
    them; otherwise they are discovered (default capabilities). Settings are built by the
    real loaders, from the mappings a missions.yaml and a fleet.yaml would hold.
    """
    caps = {k: v for k, v in (("battery_capacity_wh", capacity_wh),
                              ("max_range_m", max_range_m)) if v is not None}
    registry = [{"id": vid, "capabilities": caps} for vid in vehicles] if caps else []
    settings = load_planner_settings({"mission_planner": {
        "charging_stations": [dict(s) for s in stations], **(planner or {})}})
    fleet_settings = load_fleet_settings({"fleet_manager": {
        "origin": place(0.0), "vehicles": registry}})
    clock = Clock()
    warnings: list[str] = []
    planning = FleetPlanning.from_settings(settings, fleet_settings)
    executor = MissionExecutor(planning, clock, warn=warnings.append)
    for vid, (east, north) in vehicles.items():
        put(planning, vid, east, north, battery_pct=battery_pct)
    return Fleet(executor, clock, warnings)


def put(planning: FleetPlanning, vehicle_id: str, east: float, north: float = 0.0, *,
        battery_pct: float = 100.0) -> FleetVehicle:
    """Add a vehicle to the fleet picture: idle, fresh, landed at home ``east, north``."""
    v = planning.vehicle(vehicle_id)
    v.position = v.home = at(east, north)
    v.battery_pct = battery_pct
    v.status, v.liveness = OperatingStatus.IDLE, Liveness.FRESH
    v.landed, v.armed = True, False
    return v


def of_type(effects: Iterable[object], kind: type[_E]) -> list[_E]:
    """The effects of one type, in order."""
    return [e for e in effects if isinstance(e, kind)]


def upload(effects: Iterable[object], vehicle_id: str) -> FlyMission:
    """The one FlyMission among ``effects`` for ``vehicle_id``."""
    [fly] = [e for e in of_type(effects, FlyMission) if e.vehicle_id == vehicle_id]
    return fly


@dataclass(slots=True)
class Autopilot:
    """Flies uploads the way a vehicle would, as far as the executor can tell.

    Each item moves the vehicle in the fleet picture (take-off arms it, landing disarms it),
    then the executor ticks (it tracks flown distance) and hears the item reached.
    """

    fleet: Fleet

    def fly(self, mission: FlyMission, *, first: int = 0, last: int | None = None,
            on_reached: Callable[[int], object] | None = None) -> list[Effect]:
        """Fly items ``first..last`` (to the end by default); return the effects.

        ``on_reached(seq)`` is called after each item is reported, to watch progress.
        """
        v = self.fleet.vehicle(mission.vehicle_id)
        end = len(mission.items) - 1 if last is None else last
        out: list[Effect] = []
        for seq in range(first, end + 1):
            item = mission.items[seq]
            self._move(v, item.command, item.x_lat, item.y_long)
            out.extend(self.fleet.tick())
            self.fleet.executor.reached(mission.vehicle_id, seq)
            out.extend(self.fleet.executor.drain())
            if on_reached is not None:
                on_reached(seq)
        return out

    @staticmethod
    def _move(v: FleetVehicle, command: int, lat: float, lon: float) -> None:
        alt = HOME.altitude
        match command:
            case MavCmd.NAV_TAKEOFF:
                v.armed, v.landed = True, False
            case MavCmd.NAV_LAND:
                v.position = GeoPoint(lat, lon, alt)
                v.armed, v.landed = False, True
            case MavCmd.NAV_RETURN_TO_LAUNCH:
                v.position = v.home
                v.armed, v.landed = False, True
            case MavCmd.DO_CHANGE_SPEED | MavCmd.DO_SET_CAM_TRIGG_DIST:
                pass  # no position: the vehicle stays where it is
            case _:
                if math.isfinite(lat) and math.isfinite(lon):
                    v.position = GeoPoint(lat, lon, alt)
