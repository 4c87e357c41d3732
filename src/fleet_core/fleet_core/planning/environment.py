"""The planning environment of one request: its frame, the zones, the router, the energy model.

Shared by planning a mission, planning its remainder and inserting charging stops; also the
checks of the context and the conditions every plan starts with.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shapely.geometry import Point, Polygon
from shapely.validation import explain_validity

from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.geo import GeoPoint
from fleet_core.planning.energy import EnergyModel
from fleet_core.planning.errors import PlanningError
from fleet_core.planning.library import PlaceKind
from fleet_core.planning.projection import Projection
from fleet_core.planning.routing import Router
from fleet_core.planning.simplify import MAX_MIN_WAYPOINT_SPACING_M, grow_simplified
from fleet_core.planning.types import (
    MissionRequest,
    MissionType,
    PlanningContext,
    Target,
    WaypointKind,
)

XY = tuple[float, float]
LANDING_KINDS = (WaypointKind.LAND, WaypointKind.CHARGE)


def zone_tolerance(ctx: PlanningContext) -> float:
    """Return how far (m) a no-fly zone's outline may be grown when it is simplified.

    A tenth of the safety margin (the distance kept from the drawn zone then grows by about a
    fifth at most), and at least an eighth of the minimum waypoint spacing: detail finer than
    the waypoints are apart cannot be flown around anyway.
    """
    return max(ctx.zone_margin_m / 10.0, ctx.min_waypoint_spacing_m / 8.0)


@dataclass(slots=True)
class Step:
    """One point of the plan being built, in the projected frame."""

    xy: XY
    alt: float
    kind: WaypointKind
    hold_s: float = 0.0
    speed: float = 0.0
    payload: float = 0.0
    homebound: bool = False
    photo: bool = False  # the camera photographs the way here (Waypoint.photo)


@dataclass(frozen=True, slots=True)
class _Zone:
    zone: NoFlyZone
    shape: Polygon


class PlanEnvironment:
    """The planning environment of one request: frame, zones, router, energy model."""

    def __init__(self, ctx: PlanningContext, altitude: float, points: Iterable[GeoPoint],
                 window: tuple[float, float], extra_lonlats: Sequence[tuple[float, float]] = (),
                 ) -> None:
        check_context(ctx)
        self.ctx = ctx
        self.altitude = altitude
        self.model = EnergyModel.from_vehicle_spec(ctx.vehicle)
        self.capacity = self.model.capacity_wh
        self.available = min(self.capacity, self.capacity if ctx.available_energy_wh is None
                             else ctx.available_energy_wh)
        self.reserve = self.capacity * ctx.reserve_pct / 100.0
        self.home = ctx.home or ctx.start
        lonlats = [(p.longitude, p.latitude) for p in points]
        lonlats += [(ctx.start.longitude, ctx.start.latitude),
                    (self.home.longitude, self.home.latitude), *extra_lonlats]
        self.proj = Projection.around(lonlats)
        self.warnings: list[str] = []
        band: list[_Zone] = []
        column: list[_Zone] = []
        tolerance = zone_tolerance(ctx)
        for z in ctx.no_fly_zones:
            if not active_during(z, window) or z.floor_m > altitude:
                continue
            shape = Polygon(self.proj.forward([(p.longitude, p.latitude) for p in z.polygon]))
            if not shape.is_valid:
                raise PlanningError(f"no-fly zone {z.zone_id!r} is not a valid polygon: "
                                    f"{explain_validity(shape)}")
            # Grown, never shrunk: avoiding the simplified zone still avoids the zone, and
            # routing and checking a 10,000-vertex circle costs as much as a 50-vertex one.
            grown = grow_simplified(shape, tolerance)
            if isinstance(grown, Polygon):
                shape = grown
            column.append(_Zone(z, shape))
            if z.ceiling_m >= altitude:
                band.append(_Zone(z, shape))
        self.band = band  # zones the cruise altitude is inside: flown around
        self.column = column  # zones between the ground and the cruise altitude
        self.router = Router([zn.shape for zn in band], ctx.zone_margin_m)
        self.stations = self._stations()

    # ----------------------------------------------------------------- positions
    def xy(self, p: GeoPoint) -> XY:
        return self.proj.point(p)

    def resolve(self, t: Target, field: str) -> GeoPoint:
        return resolve(t, field, self.ctx)

    def check_point(self, xy: XY, what: str) -> None:
        """Refuse a point the vehicle climbs or descends at, or hovers over, inside a zone."""
        here = Point(xy)
        for zn in self.column:
            if zn.shape.contains(here):
                raise PlanningError(f"{what} is inside no-fly zone {zn.zone.zone_id!r} "
                                    f"({zn.zone.name})")
        if self.router.in_margin(xy):
            self.warnings.append(f"{what} is within {self.ctx.zone_margin_m:g} m of a "
                                 "no-fly zone")

    def _stations(self) -> list[tuple[str, XY]]:
        found: dict[str, GeoPoint] = dict(self.ctx.charging_stations)
        for place in self.ctx.library.of_kind(PlaceKind.CHARGING_STATION):
            found.setdefault(place.name, place.position)
        out = []
        for name, p in found.items():
            xy = self.xy(p)
            if not any(zn.shape.contains(Point(xy)) for zn in self.column):
                out.append((name, xy))
        return out

    # ------------------------------------------------------------------- routing
    def take_off(self, speed: float) -> list[Step]:
        """Start the plan: a take-off where the vehicle is, which must be outside the zones."""
        start = self.xy(self.ctx.start)
        self.check_point(start, "the vehicle's position")
        return [Step(start, self.altitude, WaypointKind.TAKEOFF, speed=speed)]

    def goto(self, steps: list[Step], xy: XY, kind: WaypointKind, *, hold_s: float = 0.0,
             payload: float = 0.0, speed: float, homebound: bool = False,
             what: str = "the next waypoint") -> None:
        """Append a routed transit from the last step to ``xy`` and then the step itself."""
        here = steps[-1].xy
        path = self.router.path(here, xy)
        if path is None:
            raise PlanningError(f"no route around the no-fly zones to {what}")
        for corner in path[1:-1]:
            steps.append(Step(corner, self.altitude, WaypointKind.TRANSIT, speed=speed,
                              payload=payload, homebound=homebound))
        steps.append(Step(xy, self.altitude, kind, hold_s, speed, payload, homebound))

    def return_home(self, steps: list[Step], speed: float) -> None:
        home = self.xy(self.home)
        self.goto(steps, home, WaypointKind.TRANSIT, speed=speed, homebound=True,
                  what="home")
        steps.append(Step(home, self.altitude, WaypointKind.LAND, speed=speed, homebound=True))

    # -------------------------------------------------------------------- energy
    def cost(self, prev: Step, step: Step) -> tuple[float, float, float]:
        """Return (metres, seconds, Wh) from ``prev`` to the end of ``step`` (hold included)."""
        m, wind = self.model, self.ctx.wind
        if step.kind is WaypointKind.TAKEOFF:
            t, e = m.climb(step.alt, step.payload)
            return 0.0, t, e
        dx, dy = step.xy[0] - prev.xy[0], step.xy[1] - prev.xy[1]
        t, e = m.cruise(dx, dy, step.speed, step.payload, wind)
        dz = step.alt - prev.alt
        if step.kind in LANDING_KINDS:
            tv, ev = m.descend(step.alt, step.payload, landing=True)
        elif dz > 0:
            tv, ev = m.climb(dz, step.payload)
        else:
            tv, ev = m.descend(-dz, step.payload, landing=False)
        if step.kind is WaypointKind.CHARGE:
            th, eh = step.hold_s, 0.0  # on the pad, charging
        else:
            th, eh = m.hover(step.hold_s, step.payload)
        return math.hypot(dx, dy), t + tv + th, e + ev + eh

    def short_of_energy(self, steps: list[Step]) -> str:
        """Say how far the energy of ``steps`` is beyond what the battery holds."""
        total = sum(self.cost(steps[k - 1], steps[k])[2] for k in range(1, len(steps)))
        total += self.cost(steps[0], steps[0])[2]
        return (f"the mission needs {total:.0f} Wh plus a {self.reserve:.0f} Wh reserve "
                f"({self.ctx.reserve_pct:g} %), but only {self.available:.0f} Wh are available "
                f"(capacity {self.capacity:.0f} Wh)")

    # -------------------------------------------------------------------- checks
    def check_legs(self, steps: Sequence[Step]) -> None:
        """Refuse any leg that enters a zone (the last line of defence against a bug)."""
        for k in range(1, len(steps)):
            a, b = steps[k - 1].xy, steps[k].xy
            # The router holds the band's zones in order, shrunk and prepared once.
            crossed = self.router.zone_crossed(a, b)
            if crossed is not None:
                raise PlanningError(f"leg {k} crosses no-fly zone "
                                    f"{self.band[crossed].zone.zone_id!r}")


def check_context(ctx: PlanningContext) -> None:
    """Refuse a context the planner cannot work in, naming the bad value."""
    if not ctx.start.is_valid():
        raise PlanningError(f"the vehicle's position {ctx.start} is not a valid WGS-84 position")
    if ctx.home is not None and not ctx.home.is_valid():
        raise PlanningError(f"home {ctx.home} is not a valid WGS-84 position")
    v = ctx.vehicle
    if not (v.battery_capacity_wh > 0 and v.cruise_speed > 0 and v.max_speed > 0):
        raise PlanningError(f"vehicle {v.vehicle_id!r} needs a positive battery capacity and "
                            "speeds")
    if not 0 <= ctx.reserve_pct < 100:
        raise PlanningError(f"reserve_pct must be 0..100, got {ctx.reserve_pct}")
    if ctx.available_energy_wh is not None and not (
            math.isfinite(ctx.available_energy_wh) and ctx.available_energy_wh >= 0):
        raise PlanningError(f"available_energy_wh must be >= 0, got {ctx.available_energy_wh}")
    if not (math.isfinite(ctx.zone_margin_m) and ctx.zone_margin_m >= 0):
        raise PlanningError(f"zone_margin_m must be >= 0, got {ctx.zone_margin_m}")
    if not (math.isfinite(ctx.min_waypoint_spacing_m)
            and 0 <= ctx.min_waypoint_spacing_m <= MAX_MIN_WAYPOINT_SPACING_M):
        raise PlanningError(f"min_waypoint_spacing_m must be 0..{MAX_MIN_WAYPOINT_SPACING_M:g} "
                            f"m, got {ctx.min_waypoint_spacing_m}")
    if not math.isfinite(ctx.now):
        raise PlanningError(f"now must be finite, got {ctx.now}")


def active_during(zone: NoFlyZone, window: tuple[float, float]) -> bool:
    """Tell whether ``zone`` is in force at any time in ``window``."""
    lo, hi = window
    return ((zone.active_from is None or zone.active_from < hi)
            and (zone.active_until is None or zone.active_until > lo))


def endurance_s(ctx: PlanningContext) -> float:
    """Return how long the vehicle can hover on a full battery."""
    model = EnergyModel.from_vehicle_spec(ctx.vehicle)
    return model.capacity_wh / model.hover_power_w * 3600.0


def check_conditions(request: MissionRequest, ctx: PlanningContext) -> None:
    """Refuse a request the wind or the vehicle's payload limit rules out."""
    w = ctx.wind
    if w is not None:
        if not (math.isfinite(w.speed_mps) and w.speed_mps >= 0
                and math.isfinite(w.direction_deg)):
            raise PlanningError(f"wind observation is not usable: {w}")
        # The airframe's own limit when the registry gives one, else the planner's default.
        own = ctx.vehicle.max_wind_mps
        limit = ctx.max_wind_mps if own is None else own
        if w.speed_mps > limit:
            raise PlanningError(f"wind {w.speed_mps:.1f} m/s exceeds the vehicle's limit of "
                                f"{limit:.1f} m/s")
    if request.mission_type is MissionType.DELIVERY and \
            request.payload_kg > ctx.vehicle.max_payload_kg:
        raise PlanningError(f"payload {request.payload_kg:g} kg exceeds vehicle "
                            f"{ctx.vehicle.vehicle_id!r}'s limit of "
                            f"{ctx.vehicle.max_payload_kg:g} kg")


def resolve(t: Target, field: str, ctx: PlanningContext) -> GeoPoint:
    """Return the position ``t`` names; ``field`` is the request field, for the error."""
    if isinstance(t, GeoPoint):
        return t
    place = ctx.library.get(t.name)
    if place is None:
        known = ", ".join(sorted(ctx.library.places)) or "none"
        raise PlanningError(f"{field} refers to unknown place {t} (known: {known})")
    return place.position


def cruise_speed(request: MissionRequest, planner: PlanEnvironment) -> float:
    """Return the request's speed (else the vehicle's cruise), capped at the vehicle's limit."""
    speed = request.speed_mps or planner.ctx.vehicle.cruise_speed
    if speed > planner.model.max_speed:
        planner.warnings.append(f"speed {speed:g} m/s reduced to the vehicle's limit of "
                                f"{planner.model.max_speed:g} m/s")
        speed = planner.model.max_speed
    return speed

