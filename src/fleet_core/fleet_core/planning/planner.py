"""Plan a mission: coverage or route, no-fly zones, energy, charging stops and time windows.

The remainder of a plan is planned in ``planning.remainder``; operator-edited waypoints are
checked in ``planning.validation``; charging stops are inserted by ``planning.charging_stops``.
"""

from __future__ import annotations

from fleet_core.geo import GeoPoint
from fleet_core.planning import patterns
from fleet_core.planning.charging_stops import insert_charging_stops
from fleet_core.planning.environment import (
    LANDING_KINDS,
    PlanEnvironment,
    Step,
    check_conditions,
    cruise_speed,
    endurance_s,
    resolve,
)
from fleet_core.planning.errors import PlanningError
from fleet_core.planning.items import photo_count, photo_lines
from fleet_core.planning.simplify import as_area
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

# Below these, photogrammetry cannot match enough features between neighbouring photos
# to stitch them; the plan is still made (the operator may want it), with a warning.
MIN_SIDE_OVERLAP_PCT = 60.0
MIN_FRONT_OVERLAP_PCT = 70.0


def plan_mission(request: MissionRequest, ctx: PlanningContext) -> MissionPlan:
    """Plan ``request`` for the vehicle in ``ctx``; PlanningError says why it cannot be flown.

    No-fly zones count when active at any time between the start and the planned end and
    when their band reaches the cruise altitude (a zone below it still forbids take-offs
    and landings inside it).
    """
    check_conditions(request, ctx)
    start_time = _start_time(request, ctx)
    horizon = endurance_s(ctx)
    for _ in range(3):
        plan = _plan_once(request, ctx, start_time, (start_time, start_time + horizon))
        if plan.duration_s <= horizon:
            return plan
        horizon = plan.duration_s * 1.1
    return plan


def _plan_once(request: MissionRequest, ctx: PlanningContext, start_time: float,
               window: tuple[float, float]) -> MissionPlan:
    r = request
    lib_points = [resolve(t, field, ctx) for t, field in _targets(r)]
    pl = PlanEnvironment(ctx, r.altitude_m, lib_points, window, _area_lonlats(r))
    speed = cruise_speed(r, pl)
    steps = pl.take_off(speed)
    if r.return_home:
        pl.check_point(pl.xy(pl.home), "home")
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
        steps.extend(Step(p, r.altitude_m, WaypointKind.INSPECT, speed=speed)
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
            steps.append(Step(target, r.altitude_m, WaypointKind.LAND, speed=speed))
    if r.return_home and not (r.mission_type is MissionType.EMERGENCY and r.land):
        pl.return_home(steps, speed)
    return finish_plan(pl, r, steps, start_time, **extra)


def _area_mission(r: MissionRequest, pl: PlanEnvironment, steps: list[Step],
                  speed: float) -> dict[str, object]:
    assert r.area is not None
    area = pl.proj.area(r.area)
    allowed = as_area(area.difference(pl.router.obstacle)) if pl.band else area
    if allowed.area < 1.0:
        raise PlanningError("the area lies entirely inside no-fly zones (with their "
                            f"{pl.ctx.zone_margin_m:g} m margin)")
    if pl.band and allowed.area < area.area - 1.0:
        pl.warnings.append(f"{100 * (1 - allowed.area / area.area):.1f} % of the area is "
                           "excluded by no-fly zones")
    here = steps[-1].xy
    extra: dict[str, object] = {}
    gap = pl.ctx.min_waypoint_spacing_m
    try:
        if r.mission_type is MissionType.INSPECTION:
            runs = patterns.perimeter(allowed, 0.0, (1.0, 1.0), here, inset=0.0,
                                      min_spacing_m=gap)
            kind = WaypointKind.INSPECT
        else:
            assert r.camera is not None
            width, height = r.camera.footprint(r.altitude_m)
            spacing = width * (1 - r.side_overlap_pct / 100.0)
            trigger = height * (1 - r.front_overlap_pct / 100.0)
            _warn_low_overlap(r, pl)
            bearing = (r.sweep_deg % 180.0 if r.sweep_deg is not None
                       else patterns.longest_edge_bearing(allowed))
            fp = (width, height)
            if r.pattern is Pattern.LAWNMOWER:
                runs = patterns.lawnmower(allowed, spacing, fp, bearing, here, min_spacing_m=gap)
            elif r.pattern is Pattern.CROSSHATCH:
                runs = patterns.crosshatch(allowed, spacing, fp, bearing, here,
                                           min_spacing_m=gap)
            elif r.pattern is Pattern.PERIMETER:
                runs = patterns.perimeter(allowed, spacing, fp, here, min_spacing_m=gap)
            else:
                runs = patterns.spiral(allowed, spacing, fp, here, min_spacing_m=gap,
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
        # The way along a survey line is photographed; the way to its start is not.
        steps.extend(Step(p, r.altitude_m, kind, speed=speed,
                          photo=kind is WaypointKind.SURVEY) for p in run[1:])
    return extra


def _warn_low_overlap(r: MissionRequest, pl: PlanEnvironment) -> None:
    """Warn when the overlap is below what photogrammetry needs to stitch the photos."""
    for what, pct, least in (("side", r.side_overlap_pct, MIN_SIDE_OVERLAP_PCT),
                             ("front", r.front_overlap_pct, MIN_FRONT_OVERLAP_PCT)):
        if pct < least:
            pl.warnings.append(f"{what} overlap {pct:g} % is below the {least:g} % "
                               "photogrammetry needs to stitch the photos")


def finish_plan(env: PlanEnvironment, request: MissionRequest, steps: list[Step],
                start_time: float, **extra: object) -> MissionPlan:
    """Check the legs, add the charging stops the energy limit needs, and total it all up."""
    env.check_legs(steps)
    station_names: list[str] = []
    if env.ctx.energy_limit:
        steps, station_names = insert_charging_stops(env, steps)
        env.check_legs(steps)
    lonlats = env.proj.inverse([s.xy for s in steps])
    waypoints = tuple(
        Waypoint(GeoPoint(lat, lon, s.alt), s.kind, s.hold_s, s.speed, s.payload, s.photo)
        for s, (lon, lat) in zip(steps, lonlats, strict=True))
    trigger = extra.get("trigger_distance_m")
    if isinstance(trigger, int | float) and trigger > 0:
        extra["photo_count"] = photo_count([s.xy for s in steps], photo_lines(waypoints),
                                           trigger)
    legs: list[Leg] = []
    first = 0
    dist = dur = energy = 0.0
    total_d = total_t = total_e = 0.0
    names = iter(station_names)
    for k, s in enumerate(steps):
        d, t, e = env.cost(steps[k - 1] if k else s, s)
        if s.kind is WaypointKind.CHARGE:
            t -= s.hold_s
        dist, dur, energy = dist + d, dur + t, energy + e
        total_d, total_t, total_e = total_d + d, total_t + t, total_e + e
        if s.kind is WaypointKind.CHARGE:
            total_t += s.hold_s
            legs.append(Leg(first, k, dist, dur, energy, next(names)))
            first, dist, dur, energy = k + 1, 0.0, 0.0, 0.0
    legs.append(Leg(first, len(steps) - 1, dist, dur, energy))
    if len(legs) == 1 and total_e + env.reserve > env.available and env.ctx.energy_limit:
        raise PlanningError(env.short_of_energy(steps))
    back = next((k for k, s in enumerate(steps) if s.homebound
                 and s.kind is not WaypointKind.TAKEOFF), None)
    return_index = None
    if back is not None and all(s.homebound or s.kind in LANDING_KINDS
                                or s.kind is WaypointKind.TAKEOFF
                                for s in steps[back:]):
        return_index = back
    plan = MissionPlan(request=request, waypoints=waypoints, distance_m=total_d,
                       duration_s=total_t, energy_wh=total_e, reserve_wh=env.reserve,
                       legs=tuple(legs), start_time=start_time, return_index=return_index,
                       warnings=tuple(dict.fromkeys(env.warnings)),
                       **extra)  # type: ignore[arg-type]
    r = request
    if r.not_after is not None and plan.finish_time > r.not_after:
        raise PlanningError(
            f"the mission would end at {plan.finish_time:.0f} ({plan.duration_s:.0f} s from "
            f"its start at {start_time:.0f}), after not_after {r.not_after:.0f}")
    return plan


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
