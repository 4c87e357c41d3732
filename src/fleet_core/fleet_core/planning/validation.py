"""Checks of operator-edited waypoints: no-fly zones in force and the energy to come home."""

from __future__ import annotations

import math
from collections.abc import Sequence

from shapely.geometry import LineString, Point, Polygon

from fleet_core.planning.energy import EnergyModel
from fleet_core.planning.environment import (
    LANDING_KINDS,
    active_during,
    check_context,
    endurance_s,
)
from fleet_core.planning.errors import PlanningError
from fleet_core.planning.projection import Projection
from fleet_core.planning.types import PlanningContext, Waypoint


def validate_waypoints(waypoints: Sequence[Waypoint], ctx: PlanningContext) -> None:
    """Refuse operator-edited waypoints that enter, or cross, a no-fly zone in force, or that
    the vehicle could not fly and still come home with its reserve.

    The legs run from ``ctx.start`` through every waypoint, then home (``ctx.home``, else
    the start) to land; a zone counts when it is active between now and the vehicle's
    endurance and its band overlaps the leg's altitudes. The energy is the planner's model
    at each waypoint's speed (else cruise), with the wind and the holds, against
    ``ctx.available_energy_wh`` (else a full battery) less ``reserve_pct``.
    """
    check_context(ctx)
    if not waypoints:
        raise PlanningError("no waypoints given")
    for i, w in enumerate(waypoints):
        p = w.position
        if not p.is_valid() or not math.isfinite(p.altitude) or not 0 <= p.altitude <= 500:
            raise PlanningError(f"waypoint {i} is not a valid position (altitude 0..500 m "
                                f"above home): {p}")
        if not (math.isfinite(w.hold_s) and w.hold_s >= 0):
            raise PlanningError(f"waypoint {i} has an invalid hold time {w.hold_s!r}")
    window = (ctx.now, ctx.now + endurance_s(ctx))
    proj = Projection.around([(w.position.longitude, w.position.latitude) for w in waypoints]
                             + [(ctx.start.longitude, ctx.start.latitude)])
    zones = [(z, Polygon(proj.forward([(q.longitude, q.latitude) for q in z.polygon])))
             for z in ctx.no_fly_zones if active_during(z, window)]
    pts = [proj.point(ctx.start), *(proj.point(w.position) for w in waypoints)]
    alts = [waypoints[0].position.altitude, *(w.position.altitude for w in waypoints)]
    for i, w in enumerate(waypoints):
        here = Point(pts[i + 1])
        low = 0.0 if w.kind in LANDING_KINDS else w.position.altitude
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
