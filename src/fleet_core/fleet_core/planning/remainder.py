"""The remainder of a plan: what is left of it, planned again from where the vehicle is now."""

from __future__ import annotations

from dataclasses import replace

from fleet_core.planning.environment import (
    LANDING_KINDS,
    PlanEnvironment,
    check_conditions,
    cruise_speed,
    endurance_s,
)
from fleet_core.planning.errors import PlanningError
from fleet_core.planning.planner import finish_plan
from fleet_core.planning.types import MissionPlan, PlanningContext, WaypointKind


def plan_remainder(plan: MissionPlan, from_index: int, ctx: PlanningContext) -> MissionPlan:
    """Plan the rest of ``plan`` from waypoint ``from_index`` for the vehicle in ``ctx``.

    The vehicle takes off where it is, flies (around the zones in force now) to the first
    remaining waypoint, and returns to its own home. Charging stops are planned again.
    """
    if not 0 <= from_index < len(plan.waypoints):
        raise PlanningError(f"from_index {from_index} is outside the plan's "
                            f"{len(plan.waypoints)} waypoints")
    r = plan.request
    check_conditions(r, ctx)
    end = plan.return_index if plan.return_index is not None else len(plan.waypoints)
    kept = [i for i in range(from_index, end)
            if plan.waypoints[i].kind not in (WaypointKind.TAKEOFF, WaypointKind.CHARGE)]
    rest = [plan.waypoints[i] for i in kept]
    start_time = max(ctx.now, r.not_before or ctx.now)
    pl = PlanEnvironment(ctx, r.altitude_m, [w.position for w in rest],
                  (start_time, start_time + endurance_s(ctx)))
    speed = cruise_speed(r, pl)
    steps = pl.take_off(speed)
    for k, w in enumerate(rest):
        xy = pl.xy(w.position)
        if w.kind in LANDING_KINDS:
            pl.check_point(xy, f"waypoint {from_index + k}")
        if w.kind is WaypointKind.TRANSIT and k + 1 < len(rest):
            continue  # routing corners: the route is planned again around today's zones
        before = len(steps)
        pl.goto(steps, xy, w.kind, hold_s=w.hold_s, speed=w.speed_mps or speed,
                payload=w.payload_kg, what=f"waypoint {from_index + k}")
        steps[-1].alt = w.position.altitude
        # A photo leg stays one when it is still flown as it was: straight from the waypoint
        # before it (not from the take-off, nor around a zone, nor from a dropped corner).
        steps[-1].photo = (w.photo and k > 0 and kept[k - 1] == kept[k] - 1
                           and rest[k - 1].kind is not WaypointKind.TRANSIT
                           and len(steps) == before + 1)
    landed = bool(rest) and rest[-1].kind is WaypointKind.LAND
    if r.return_home and not landed:
        pl.check_point(pl.xy(pl.home), "home")
        pl.return_home(steps, speed)
    r2 = replace(r, scheduled_start=None)
    return finish_plan(pl, r2, steps, start_time, trigger_distance_m=plan.trigger_distance_m,
                     line_spacing_m=plan.line_spacing_m)
