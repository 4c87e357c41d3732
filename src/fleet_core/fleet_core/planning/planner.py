"""Plan a mission: coverage or route, no-fly zones, energy, charging stops and time windows."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from shapely.geometry import LineString, Point, Polygon
from shapely.validation import explain_validity

from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.geo import GeoPoint
from fleet_core.planning import patterns
from fleet_core.planning.energy import EnergyModel
from fleet_core.planning.errors import PlanningError
from fleet_core.planning.library import PlaceKind
from fleet_core.planning.projection import Projection
from fleet_core.planning.routing import Router
from fleet_core.planning.types import (
    Leg,
    MissionPlan,
    MissionRequest,
    MissionType,
    Pattern,
    PlaceRef,
    PlanningContext,
    SpiralDirection,
    Target,
    Waypoint,
    WaypointKind,
)

XY = tuple[float, float]
MAX_CHARGE_STOPS = 20
_LANDING_KINDS = (WaypointKind.LAND, WaypointKind.CHARGE)


@dataclass(slots=True)
class _Step:
    xy: XY
    alt: float
    kind: WaypointKind
    hold_s: float = 0.0
    speed: float = 0.0
    payload: float = 0.0
    homebound: bool = False


@dataclass(frozen=True, slots=True)
class _Zone:
    zone: NoFlyZone
    shape: Polygon


class _Planner:
    """The planning environment of one request: frame, zones, router, energy model."""

    def __init__(self, ctx: PlanningContext, altitude: float, points: Iterable[GeoPoint],
                 window: tuple[float, float], extra_lonlats: Sequence[tuple[float, float]] = (),
                 ) -> None:
        _check_context(ctx)
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
        for z in ctx.no_fly_zones:
            if not _active_during(z, window) or z.floor_m > altitude:
                continue
            shape = Polygon(self.proj.forward([(p.longitude, p.latitude) for p in z.polygon]))
            if not shape.is_valid:
                raise PlanningError(f"no-fly zone {z.zone_id!r} is not a valid polygon: "
                                    f"{explain_validity(shape)}")
            column.append(_Zone(z, shape))
            if z.ceiling_m >= altitude:
                band.append(_Zone(z, shape))
        self.band = band  # zones the cruise altitude is inside: flown around
        self.column = column  # zones between the ground and the cruise altitude
        self.router = Router([zn.shape for zn in band], ctx.zone_margin_m)
        self.stations = self._stations()
        self.charge_names: list[str] = []

    # ----------------------------------------------------------------- positions
    def xy(self, p: GeoPoint) -> XY:
        return self.proj.point(p)

    def resolve(self, t: Target, field: str) -> GeoPoint:
        if isinstance(t, GeoPoint):
            return t
        place = self.ctx.library.get(t.name)
        if place is None:
            known = ", ".join(sorted(self.ctx.library.places)) or "none"
            raise PlanningError(f"{field} refers to unknown place {t} (known: {known})")
        return place.position

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
    def goto(self, steps: list[_Step], xy: XY, kind: WaypointKind, *, hold_s: float = 0.0,
             payload: float = 0.0, speed: float, homebound: bool = False,
             what: str = "the next waypoint") -> None:
        """Append a routed transit from the last step to ``xy`` and then the step itself."""
        here = steps[-1].xy
        path = self.router.path(here, xy)
        if path is None:
            raise PlanningError(f"no route around the no-fly zones to {what}")
        for corner in path[1:-1]:
            steps.append(_Step(corner, self.altitude, WaypointKind.TRANSIT, speed=speed,
                               payload=payload, homebound=homebound))
        steps.append(_Step(xy, self.altitude, kind, hold_s, speed, payload, homebound))

    def return_home(self, steps: list[_Step], speed: float) -> None:
        home = self.xy(self.home)
        self.goto(steps, home, WaypointKind.TRANSIT, speed=speed, homebound=True,
                  what="home")
        steps.append(_Step(home, self.altitude, WaypointKind.LAND, speed=speed, homebound=True))

    # -------------------------------------------------------------------- energy
    def cost(self, prev: _Step, step: _Step) -> tuple[float, float, float]:
        """Return (metres, seconds, Wh) from ``prev`` to the end of ``step`` (hold included)."""
        m, wind = self.model, self.ctx.wind
        if step.kind is WaypointKind.TAKEOFF:
            t, e = m.climb(step.alt, step.payload)
            return 0.0, t, e
        dx, dy = step.xy[0] - prev.xy[0], step.xy[1] - prev.xy[1]
        t, e = m.cruise(dx, dy, step.speed, step.payload, wind)
        dz = step.alt - prev.alt
        if step.kind in _LANDING_KINDS:
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

    def divert_cost(self, at: _Step, station: XY) -> float | None:
        """Return the Wh to fly from ``at`` to a station and land, or None when unreachable."""
        path = self.router.path(at.xy, station)
        if path is None:
            return None
        total = 0.0
        prev = at
        for k, xy in enumerate(path[1:], start=1):
            kind = WaypointKind.CHARGE if k == len(path) - 1 else WaypointKind.TRANSIT
            step = _Step(xy, self.altitude, kind, 0.0, at.speed, at.payload)
            total += self.cost(prev, step)[2]
            prev = step
        return total

    def with_charging(self, steps: list[_Step]) -> list[_Step]:
        """Insert charging stops where the battery would otherwise fall below the reserve.

        When the next waypoint is out of reach, the vehicle diverts from the latest waypoint
        of the current leg from which a station is reachable with the reserve intact, to the
        cheapest such station; it charges to full, flies back and carries on.
        """
        out = [steps[0]]
        src = [0]  # index into ``steps`` of each output step; -1 for inserted ones
        cum = [self.cost(steps[0], steps[0])[2]]  # Wh used in the leg up to each output step
        energy = self.available
        leg_start = 0
        i = 1
        while i < len(steps):
            e = self.cost(out[-1], steps[i])[2]
            if cum[-1] + e + self.reserve <= energy:
                out.append(steps[i])
                src.append(i)
                cum.append(cum[-1] + e)
                i += 1
                continue
            if not self.stations:
                raise PlanningError(self._short_of_energy(steps))
            if len(self.charge_names) >= MAX_CHARGE_STOPS:
                raise PlanningError(f"the mission needs more than {MAX_CHARGE_STOPS} "
                                    "charging stops")
            best: tuple[int, float, str, XY] | None = None
            for j in range(len(out) - 1, leg_start - 1, -1):
                if src[j] < 0:
                    continue
                for name, sxy in self.stations:
                    c = self.divert_cost(out[j], sxy)
                    if c is not None and cum[j] + c + self.reserve <= energy and (
                            best is None or c < best[1]):
                        best = (j, c, name, sxy)
                if best is not None:
                    break
            if best is None:
                raise PlanningError(self._short_of_energy(steps) + "; no charging station "
                                    "is reachable on the way with the reserve kept")
            j, c, name, sxy = best
            resume = out[j]
            i = src[j] + 1
            del out[j + 1:], src[j + 1:], cum[j + 1:]
            left = energy - cum[j] - c
            n = len(out)
            self.goto(out, sxy, WaypointKind.CHARGE, speed=resume.speed, payload=resume.payload,
                      what=f"charging station {name!r}")
            out[-1].hold_s = self.model.charge_time_s(self.capacity - left)
            src.extend([-1] * (len(out) - n))
            cum.extend([0.0] * (len(out) - n))
            self.charge_names.append(name)
            leg_start = len(out)
            out.append(_Step(sxy, self.altitude, WaypointKind.TAKEOFF, speed=resume.speed,
                             payload=resume.payload))
            src.append(-1)
            cum.append(self.cost(out[-1], out[-1])[2])
            n = len(out)
            self.goto(out, resume.xy, WaypointKind.TRANSIT, speed=resume.speed,
                      payload=resume.payload, homebound=resume.homebound,
                      what="the mission after charging")
            for k in range(n, len(out)):
                src.append(-1)
                cum.append(cum[-1] + self.cost(out[k - 1], out[k])[2])
            energy = self.capacity
            if cum[-1] + self.reserve > energy:
                raise PlanningError(f"charging station {name!r} is too far from the route to "
                                    "come back on a full charge")
        return out

    def _short_of_energy(self, steps: list[_Step]) -> str:
        total = sum(self.cost(steps[k - 1], steps[k])[2] for k in range(1, len(steps)))
        total += self.cost(steps[0], steps[0])[2]
        return (f"the mission needs {total:.0f} Wh plus a {self.reserve:.0f} Wh reserve "
                f"({self.ctx.reserve_pct:g} %), but only {self.available:.0f} Wh are available "
                f"(capacity {self.capacity:.0f} Wh)")

    # ---------------------------------------------------------------- assembling
    def check_legs(self, steps: Sequence[_Step]) -> None:
        """Refuse any leg that enters a zone (the last line of defence against a bug)."""
        for k in range(1, len(steps)):
            a, b = steps[k - 1].xy, steps[k].xy
            if a != b and self.band:
                line = LineString([a, b])
                for zn in self.band:
                    if zn.shape.buffer(-0.05).intersects(line):
                        raise PlanningError(f"leg {k} crosses no-fly zone "
                                            f"{zn.zone.zone_id!r}")

    def finish(self, request: MissionRequest, steps: list[_Step], start_time: float,
               **extra: object) -> MissionPlan:
        self.charge_names = []
        self.check_legs(steps)
        if self.ctx.energy_limit:
            steps = self.with_charging(steps)
            self.check_legs(steps)
        lonlats = self.proj.inverse([s.xy for s in steps])
        waypoints = tuple(
            Waypoint(GeoPoint(lat, lon, s.alt), s.kind, s.hold_s, s.speed, s.payload)
            for s, (lon, lat) in zip(steps, lonlats, strict=True))
        legs: list[Leg] = []
        first = 0
        dist = dur = energy = 0.0
        total_d = total_t = total_e = 0.0
        names = iter(self.charge_names)
        for k, s in enumerate(steps):
            d, t, e = self.cost(steps[k - 1] if k else s, s)
            if s.kind is WaypointKind.CHARGE:
                t -= s.hold_s
            dist, dur, energy = dist + d, dur + t, energy + e
            total_d, total_t, total_e = total_d + d, total_t + t, total_e + e
            if s.kind is WaypointKind.CHARGE:
                total_t += s.hold_s
                legs.append(Leg(first, k, dist, dur, energy, next(names)))
                first, dist, dur, energy = k + 1, 0.0, 0.0, 0.0
        legs.append(Leg(first, len(steps) - 1, dist, dur, energy))
        if len(legs) == 1 and total_e + self.reserve > self.available and self.ctx.energy_limit:
            raise PlanningError(self._short_of_energy(steps))
        back = next((k for k, s in enumerate(steps) if s.homebound
                     and s.kind is not WaypointKind.TAKEOFF), None)
        return_index = None
        if back is not None and all(s.homebound or s.kind in _LANDING_KINDS
                                    or s.kind is WaypointKind.TAKEOFF
                                    for s in steps[back:]):
            return_index = back
        plan = MissionPlan(request=request, waypoints=waypoints, distance_m=total_d,
                           duration_s=total_t, energy_wh=total_e, reserve_wh=self.reserve,
                           legs=tuple(legs), start_time=start_time, return_index=return_index,
                           warnings=tuple(dict.fromkeys(self.warnings)),
                           **extra)  # type: ignore[arg-type]
        r = request
        if r.not_after is not None and plan.finish_time > r.not_after:
            raise PlanningError(
                f"the mission would end at {plan.finish_time:.0f} ({plan.duration_s:.0f} s from "
                f"its start at {start_time:.0f}), after not_after {r.not_after:.0f}")
        return plan


def _check_context(ctx: PlanningContext) -> None:
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
    if not math.isfinite(ctx.now):
        raise PlanningError(f"now must be finite, got {ctx.now}")


def _active_during(zone: NoFlyZone, window: tuple[float, float]) -> bool:
    lo, hi = window
    return ((zone.active_from is None or zone.active_from < hi)
            and (zone.active_until is None or zone.active_until > lo))


def _endurance_s(ctx: PlanningContext) -> float:
    model = EnergyModel.from_vehicle_spec(ctx.vehicle)
    return model.capacity_wh / model.hover_power_w * 3600.0


def _start_time(request: MissionRequest, ctx: PlanningContext) -> float:
    r = request
    if r.scheduled_start is not None:
        start = r.scheduled_start
        if start < ctx.now:
            raise PlanningError(f"scheduled_start {start:.0f} is in the past (now {ctx.now:.0f})")
    else:
        start = max(ctx.now, r.not_before if r.not_before is not None else ctx.now)
    if r.not_after is not None and start >= r.not_after:
        raise PlanningError(f"the time window closed at not_after {r.not_after:.0f} "
                            f"(start {start:.0f})")
    return start


def _check_conditions(request: MissionRequest, ctx: PlanningContext) -> None:
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


def _speed(request: MissionRequest, planner: _Planner) -> float:
    speed = request.speed_mps or planner.ctx.vehicle.cruise_speed
    if speed > planner.model.max_speed:
        planner.warnings.append(f"speed {speed:g} m/s reduced to the vehicle's limit of "
                                f"{planner.model.max_speed:g} m/s")
        speed = planner.model.max_speed
    return speed


def _targets(request: MissionRequest) -> list[tuple[Target, str]]:
    r = request
    out: list[tuple[Target, str]] = [(t, f"route[{i}]") for i, t in enumerate(r.route)]
    for t, name in ((r.pickup, "pickup"), (r.dropoff, "dropoff"), (r.target, "target")):
        if t is not None:
            out.append((t, name))
    if r.orbit is not None:
        out.append((r.orbit.centre, "orbit.centre"))
    return out


def _label(t: Target, field: str) -> str:
    return f"{field} {t}" if isinstance(t, PlaceRef) else f"{field} ({t.latitude:.6f}, " \
                                                          f"{t.longitude:.6f})"


def _area_lonlats(request: MissionRequest) -> list[tuple[float, float]]:
    if request.area is None:
        return []
    return [v for poly in request.area.polygons for v in poly[0]]


def plan_mission(request: MissionRequest, ctx: PlanningContext) -> MissionPlan:
    """Plan ``request`` for the vehicle in ``ctx``; PlanningError says why it cannot be flown.

    No-fly zones count when active at any time between the start and the planned end and
    when their band reaches the cruise altitude (a zone below it still forbids take-offs
    and landings inside it).
    """
    _check_conditions(request, ctx)
    start_time = _start_time(request, ctx)
    horizon = _endurance_s(ctx)
    for _ in range(3):
        plan = _plan_once(request, ctx, start_time, (start_time, start_time + horizon))
        if plan.duration_s <= horizon:
            return plan
        horizon = plan.duration_s * 1.1
    return plan


def _plan_once(request: MissionRequest, ctx: PlanningContext, start_time: float,
               window: tuple[float, float]) -> MissionPlan:
    r = request
    lib_points: list[GeoPoint] = []
    for t, field in _targets(r):
        if isinstance(t, PlaceRef):
            place = ctx.library.get(t.name)
            if place is None:
                known = ", ".join(sorted(ctx.library.places)) or "none"
                raise PlanningError(f"{field} refers to unknown place {t} (known: {known})")
            lib_points.append(place.position)
        else:
            lib_points.append(t)
    pl = _Planner(ctx, r.altitude_m, lib_points, window, _area_lonlats(r))
    speed = _speed(r, pl)
    start = pl.xy(ctx.start)
    pl.check_point(start, "the vehicle's position")
    if r.return_home:
        pl.check_point(pl.xy(pl.home), "home")
    steps = [_Step(start, r.altitude_m, WaypointKind.TAKEOFF, speed=speed)]
    extra: dict[str, object] = {}
    if r.mission_type in (MissionType.SURVEY, MissionType.INSPECTION) and r.area is not None:
        extra = _area_mission(r, pl, steps, speed)
    elif r.mission_type is MissionType.INSPECTION:
        assert r.orbit is not None
        centre = pl.xy(pl.resolve(r.orbit.centre, "orbit.centre"))
        circle = patterns.orbit(centre, r.orbit.radius_m, steps[-1].xy)
        for k in range(len(circle) - 1):
            if pl.router.blocked(circle[k], circle[k + 1]) or pl.router.in_margin(circle[k]):
                raise PlanningError(f"the orbit of {r.orbit.radius_m:g} m around "
                                    f"{_label(r.orbit.centre, 'orbit.centre')} comes within "
                                    f"{ctx.zone_margin_m:g} m of a no-fly zone")
        pl.goto(steps, circle[0], WaypointKind.INSPECT, speed=speed, what="the orbit")
        steps.extend(_Step(p, r.altitude_m, WaypointKind.INSPECT, speed=speed)
                     for p in circle[1:])
    elif r.mission_type is MissionType.PATROL:
        points = []
        for i, t in enumerate(r.route):
            xy = pl.xy(pl.resolve(t, f"route[{i}]"))
            pl.check_point(xy, _label(t, f"route[{i}]"))
            points.append((xy, _label(t, f"route[{i}]")))
        for _ in range(r.repeat):
            for xy, label in points:
                pl.goto(steps, xy, WaypointKind.TRANSIT, speed=speed, what=label)
    elif r.mission_type is MissionType.DELIVERY:
        assert r.pickup is not None
        assert r.dropoff is not None
        pick = pl.xy(pl.resolve(r.pickup, "pickup"))
        drop = pl.xy(pl.resolve(r.dropoff, "dropoff"))
        pl.check_point(pick, _label(r.pickup, "pickup"))
        pl.check_point(drop, _label(r.dropoff, "dropoff"))
        pl.goto(steps, pick, WaypointKind.PICKUP, hold_s=r.handling_s, speed=speed,
                what=_label(r.pickup, "pickup"))
        pl.goto(steps, drop, WaypointKind.DROPOFF, hold_s=r.handling_s, speed=speed,
                payload=r.payload_kg, what=_label(r.dropoff, "dropoff"))
    else:
        assert r.target is not None
        target = pl.xy(pl.resolve(r.target, "target"))
        pl.check_point(target, _label(r.target, "target"))
        pl.goto(steps, target, WaypointKind.LOITER, hold_s=r.hover_s, speed=speed,
                what=_label(r.target, "target"))
        if r.land:
            steps.append(_Step(target, r.altitude_m, WaypointKind.LAND, speed=speed))
    if r.return_home and not (r.mission_type is MissionType.EMERGENCY and r.land):
        pl.return_home(steps, speed)
    return pl.finish(r, steps, start_time, **extra)


def _area_mission(r: MissionRequest, pl: _Planner, steps: list[_Step],
                  speed: float) -> dict[str, object]:
    assert r.area is not None
    area = pl.proj.area(r.area)
    allowed = patterns.as_area(area.difference(pl.router.obstacle)) if pl.band else area
    if allowed.area < 1.0:
        raise PlanningError("the area lies entirely inside no-fly zones (with their "
                            f"{pl.ctx.zone_margin_m:g} m margin)")
    if pl.band and allowed.area < area.area - 1.0:
        pl.warnings.append(f"{100 * (1 - allowed.area / area.area):.1f} % of the area is "
                           "excluded by no-fly zones")
    here = steps[-1].xy
    extra: dict[str, object] = {}
    try:
        if r.mission_type is MissionType.INSPECTION:
            runs = patterns.perimeter(allowed, 0.0, (1.0, 1.0), here, inset=0.0)
            kind = WaypointKind.INSPECT
        else:
            assert r.camera is not None
            width, height = r.camera.footprint(r.altitude_m)
            spacing = width * (1 - r.side_overlap_pct / 100.0)
            trigger = height * (1 - r.front_overlap_pct / 100.0)
            bearing = (r.sweep_deg % 180.0 if r.sweep_deg is not None
                       else patterns.longest_edge_bearing(allowed))
            fp = (width, height)
            if r.pattern is Pattern.LAWNMOWER:
                runs = patterns.lawnmower(allowed, spacing, fp, bearing, here)
            elif r.pattern is Pattern.CROSSHATCH:
                runs = patterns.crosshatch(allowed, spacing, fp, bearing, here)
            elif r.pattern is Pattern.PERIMETER:
                runs = patterns.perimeter(allowed, spacing, fp, here)
            else:
                runs = patterns.spiral(allowed, spacing, fp, here,
                                       outward=r.spiral is SpiralDirection.OUTWARD)
            kind = WaypointKind.SURVEY
            extra = {"coverage_pct": patterns.coverage_pct(runs.swath, allowed),
                     "trigger_distance_m": trigger, "line_spacing_m": spacing}
    except ValueError as exc:
        raise PlanningError(str(exc)) from None
    if not runs.runs:
        raise PlanningError("the pattern produced no lines: the area is narrower than the "
                            "line spacing allows")
    for run in runs.runs:
        pl.goto(steps, run[0], kind, speed=speed, what="the next survey line")
        steps.extend(_Step(p, r.altitude_m, kind, speed=speed) for p in run[1:])
    return extra


def _waypoints_window(ctx: PlanningContext) -> tuple[float, float]:
    return ctx.now, ctx.now + _endurance_s(ctx)


def plan_remainder(plan: MissionPlan, from_index: int, ctx: PlanningContext) -> MissionPlan:
    """Plan the rest of ``plan`` from waypoint ``from_index`` for the vehicle in ``ctx``.

    The vehicle takes off where it is, flies (around the zones in force now) to the first
    remaining waypoint, and returns to its own home. Charging stops are planned again.
    """
    if not 0 <= from_index < len(plan.waypoints):
        raise PlanningError(f"from_index {from_index} is outside the plan's "
                            f"{len(plan.waypoints)} waypoints")
    r = plan.request
    _check_conditions(r, ctx)
    end = plan.return_index if plan.return_index is not None else len(plan.waypoints)
    rest = [w for w in plan.waypoints[from_index:end]
            if w.kind not in (WaypointKind.TAKEOFF, WaypointKind.CHARGE)]
    start_time = max(ctx.now, r.not_before or ctx.now)
    pl = _Planner(ctx, r.altitude_m, [w.position for w in rest],
                  (start_time, start_time + _endurance_s(ctx)))
    speed = _speed(r, pl)
    start = pl.xy(ctx.start)
    pl.check_point(start, "the vehicle's position")
    steps = [_Step(start, r.altitude_m, WaypointKind.TAKEOFF, speed=speed)]
    for k, w in enumerate(rest):
        xy = pl.xy(w.position)
        if w.kind in _LANDING_KINDS:
            pl.check_point(xy, f"waypoint {from_index + k}")
        if w.kind is WaypointKind.TRANSIT and k + 1 < len(rest):
            continue  # routing corners: the route is planned again around today's zones
        pl.goto(steps, xy, w.kind, hold_s=w.hold_s, speed=w.speed_mps or speed,
                payload=w.payload_kg, what=f"waypoint {from_index + k}")
        steps[-1].alt = w.position.altitude
    landed = bool(rest) and rest[-1].kind is WaypointKind.LAND
    if r.return_home and not landed:
        pl.check_point(pl.xy(pl.home), "home")
        pl.return_home(steps, speed)
    r2 = replace(r, scheduled_start=None)
    return pl.finish(r2, steps, start_time, trigger_distance_m=plan.trigger_distance_m,
                     line_spacing_m=plan.line_spacing_m)


def validate_waypoints(waypoints: Sequence[Waypoint], ctx: PlanningContext) -> None:
    """Refuse operator-edited waypoints that enter, or cross, a no-fly zone in force, or that
    the vehicle could not fly and still come home with its reserve.

    The legs run from ``ctx.start`` through every waypoint, then home (``ctx.home``, else
    the start) to land; a zone counts when it is active between now and the vehicle's
    endurance and its band overlaps the leg's altitudes. The energy is the planner's model
    at each waypoint's speed (else cruise), with the wind and the holds, against
    ``ctx.available_energy_wh`` (else a full battery) less ``reserve_pct``.
    """
    _check_context(ctx)
    if not waypoints:
        raise PlanningError("no waypoints given")
    for i, w in enumerate(waypoints):
        p = w.position
        if not p.is_valid() or not math.isfinite(p.altitude) or not 0 <= p.altitude <= 500:
            raise PlanningError(f"waypoint {i} is not a valid position (altitude 0..500 m "
                                f"above home): {p}")
        if not (math.isfinite(w.hold_s) and w.hold_s >= 0):
            raise PlanningError(f"waypoint {i} has an invalid hold time {w.hold_s!r}")
    window = _waypoints_window(ctx)
    proj = Projection.around([(w.position.longitude, w.position.latitude) for w in waypoints]
                             + [(ctx.start.longitude, ctx.start.latitude)])
    zones = [(z, Polygon(proj.forward([(q.longitude, q.latitude) for q in z.polygon])))
             for z in ctx.no_fly_zones if _active_during(z, window)]
    pts = [proj.point(ctx.start), *(proj.point(w.position) for w in waypoints)]
    alts = [waypoints[0].position.altitude, *(w.position.altitude for w in waypoints)]
    for i, w in enumerate(waypoints):
        here = Point(pts[i + 1])
        low = 0.0 if w.kind in _LANDING_KINDS else w.position.altitude
        for z, shape in zones:
            if z.floor_m <= w.position.altitude and z.ceiling_m >= low and \
                    shape.contains(here):
                raise PlanningError(f"waypoint {i} is inside no-fly zone {z.zone_id!r}")
    for k in range(1, len(pts)):
        if pts[k - 1] == pts[k]:
            continue
        line = LineString([pts[k - 1], pts[k]])
        lo, hi = min(alts[k - 1], alts[k]), max(alts[k - 1], alts[k])
        for z, shape in zones:
            if z.floor_m <= hi and z.ceiling_m >= lo and shape.intersects(line):
                what = "the leg to waypoint 0" if k == 1 else \
                    f"the leg from waypoint {k - 2} to {k - 1}"
                raise PlanningError(f"{what} crosses no-fly zone {z.zone_id!r}")
    home = ctx.home or ctx.start
    _check_waypoint_energy(waypoints, pts, proj.point(home), ctx)


def _check_waypoint_energy(waypoints: Sequence[Waypoint], pts: Sequence[tuple[float, float]],
                           home: tuple[float, float], ctx: PlanningContext) -> None:
    model = EnergyModel.from_vehicle_spec(ctx.vehicle)
    capacity = model.capacity_wh
    available = capacity if ctx.available_energy_wh is None else min(
        capacity, ctx.available_energy_wh)
    reserve = capacity * ctx.reserve_pct / 100.0
    used = 0.0
    alt = waypoints[0].position.altitude  # the vehicle flies at about the first altitude now
    speed = model.cruise_speed
    for i, w in enumerate(waypoints):
        speed = w.speed_mps or speed
        (x0, y0), (x1, y1) = pts[i], pts[i + 1]
        used += model.cruise(x1 - x0, y1 - y0, speed, w.payload_kg, ctx.wind)[1]
        change = w.position.altitude - alt
        used += (model.climb(change, w.payload_kg) if change > 0
                 else model.descend(-change, w.payload_kg, landing=False))[1]
        used += model.hover(w.hold_s, w.payload_kg)[1]
        alt = w.position.altitude
    last = pts[-1]
    used += model.cruise(home[0] - last[0], home[1] - last[1], model.cruise_speed, 0.0,
                         ctx.wind)[1]
    used += model.descend(alt, 0.0, landing=True)[1]
    if used + reserve > available:
        raise PlanningError(
            f"the new waypoints and the flight home need {used:.0f} Wh plus a {reserve:.0f} Wh "
            f"reserve ({ctx.reserve_pct:g} %), but only {available:.0f} Wh are left")
