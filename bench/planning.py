"""Benchmark: mission planning time for a 1 km² survey and a long delivery around zones.

    python bench/planning.py [--repeat 20] [--latitude 47.4]

Plans a 1 km x 1 km survey with two holes, a no-fly zone across the transit from the start
and a charging station (the survey needs more than one charge), with the lawnmower and the
crosshatch patterns; then a 4.5 km delivery (and back) routed around 5 zones; then a 10 km
delivery around ten round zones drawn with 500 vertices each (radius 100-600 m); then a
crosshatch survey of a ~700 m x 500 m field across the antimeridian (180 deg). Prints the
median and worst planning time of ``--repeat`` runs and what the plans look like.
"""

from __future__ import annotations

import argparse
import math
import signal
import statistics
import time
from collections.abc import Callable
from functools import partial
from types import FrameType

from shapely.geometry import Polygon

from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.fleet.model import VehicleSpec
from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.planning import MissionPlan, PlanningContext, parse_request, plan_mission
from fleet_core.planning.routing import Router


class TooSlowError(Exception):
    """A case ran past ``--limit`` seconds (the old router took minutes on round zones)."""


def _too_slow(signum: int, frame: FrameType | None) -> None:
    raise TooSlowError


def limited(limit_s: float, fn: Callable[[], object]) -> bool:
    """Run ``fn`` unless it takes longer than ``limit_s``; tell whether it finished."""
    old = signal.signal(signal.SIGALRM, _too_slow)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        fn()
        return True
    except TooSlowError:
        return False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def ring(frame: LocalFrame, pts: list[tuple[float, float]]) -> list[list[float]]:
    """Return a closed GeoJSON ring from points in metres east/north."""
    out = []
    for e, n in [*pts, pts[0]]:
        p = frame.to_geo(e, n, 0.0)
        out.append([p.longitude, p.latitude])
    return out


def rect(e0: float, n0: float, e1: float, n1: float) -> list[tuple[float, float]]:
    """Return a rectangle's corners in metres."""
    return [(e0, n0), (e1, n0), (e1, n1), (e0, n1)]


def zone(frame: LocalFrame, zid: str, pts: list[tuple[float, float]]) -> NoFlyZone:
    """Return a no-fly zone from 0 to 120 m over points in metres."""
    return NoFlyZone(zid, zid, tuple(frame.to_geo(e, n, 0.0) for e, n in pts), 0.0, 120.0)


def circle(cx: float, cy: float, radius: float, vertices: int) -> list[tuple[float, float]]:
    """Return a circle's outline in metres, as a zone drawn with a fine tool would be."""
    return [(cx + radius * math.cos(2 * math.pi * k / vertices),
             cy + radius * math.sin(2 * math.pi * k / vertices)) for k in range(vertices)]


def timed(fn: Callable[[], MissionPlan], repeat: int) -> tuple[list[float], MissionPlan]:
    """Run ``fn`` ``repeat`` times; return the times in ms and the last plan."""
    times = []
    plan = fn()  # warm-up: builds and caches the projection
    for _ in range(repeat):
        t0 = time.perf_counter()
        plan = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times, plan


def report(name: str, times: list[float], plan: MissionPlan) -> None:
    """Print one benchmark line and the plan's figures."""
    cov = f", coverage {plan.coverage_pct:.2f} %" if plan.coverage_pct is not None else ""
    print(f"  {name:<24} median {statistics.median(times):7.1f} ms, worst {max(times):7.1f} ms"
          f"  | {len(plan.waypoints)} waypoints, {plan.distance_m / 1000:.1f} km, "
          f"{plan.duration_s / 60:.0f} min, {plan.energy_wh:.0f} Wh, {len(plan.legs)} legs"
          f"{cov}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--latitude", type=float, default=47.4)
    parser.add_argument("--limit", type=float, default=120.0,
                        help="seconds a round-zones run may take before it is reported as "
                             "'> limit' and skipped")
    args = parser.parse_args()
    if args.repeat < 1 or not -80 <= args.latitude <= 80 or not args.limit > 0:
        parser.error("need --repeat >= 1, --latitude within -80..80 and --limit > 0")
    frame = LocalFrame.at(GeoPoint(args.latitude, 8.5))
    vehicle = VehicleSpec("uav0", "/uav0/mavros", max_payload_kg=2.0)
    area = [ring(frame, rect(0, 0, 1000, 1000)),
            ring(frame, rect(200, 200, 350, 400))[::-1],
            ring(frame, [(600, 600), (800, 650), (700, 850)])[::-1]]
    ctx = PlanningContext(
        start=frame.to_geo(-800, 500, 0), vehicle=vehicle, now=0.0,
        no_fly_zones=[zone(frame, "transit", rect(-450, 300, -300, 700))],
        charging_stations=[("pad", frame.to_geo(-100, 500, 0))])
    print(f"mission planning at latitude {args.latitude:g}, {args.repeat} runs each")
    for pattern in ("lawnmower", "crosshatch"):
        request = parse_request({
            "type": "survey", "altitude_m": 80, "speed_mps": 10,
            "area": {"type": "Polygon", "coordinates": area}, "pattern": pattern,
            "camera": {"hfov_deg": 70, "vfov_deg": 55},
            "side_overlap_pct": 70, "front_overlap_pct": 80})
        times, plan = timed(partial(plan_mission, request, ctx), args.repeat)
        report(f"survey 1 km², {pattern}", times, plan)
        median = statistics.median(times)
        print(f"    target: a 1 km² survey with two holes plans in < 200 ms: "
              f"{'met' if median < 200 else 'NOT met'} (median {median:.1f} ms)")
    zones = [zone(frame, f"z{k}", rect(600 + 800 * k, -300 + 150 * (k % 2),
                                       800 + 800 * k, 300 + 150 * (k % 2)))
             for k in range(5)]
    dctx = PlanningContext(start=frame.to_geo(0, 0, 0), vehicle=vehicle, no_fly_zones=zones)
    drop = frame.to_geo(4500, 100, 0)
    delivery = parse_request({
        "type": "delivery", "altitude_m": 60, "payload_kg": 1.0, "speed_mps": 10,
        "pickup": {"latitude": frame.to_geo(100, 0, 0).latitude,
                   "longitude": frame.to_geo(100, 0, 0).longitude},
        "dropoff": {"latitude": drop.latitude, "longitude": drop.longitude}})
    times, plan = timed(lambda: plan_mission(delivery, dctx), args.repeat)
    report("delivery 4.5 km, 5 zones", times, plan)

    # Ten circles of 100-600 m across and beside the straight line of a 10 km delivery.
    radii = [300, 600, 150, 450, 100, 550, 250, 400, 200, 500]
    round_zones = [zone(frame, f"c{k}", circle(900 + 950 * k, (-1) ** k * 0.4 * r, r, 500))
                   for k, r in enumerate(radii)]
    rctx = PlanningContext(start=frame.to_geo(0, 0, 0), vehicle=vehicle, no_fly_zones=round_zones)
    far = frame.to_geo(10_500, 0, 0)
    round_delivery = parse_request({
        "type": "delivery", "altitude_m": 60, "payload_kg": 0.5, "speed_mps": 15,
        "return_home": False,
        "pickup": {"latitude": frame.to_geo(50, 0, 0).latitude,
                   "longitude": frame.to_geo(50, 0, 0).longitude},
        "dropoff": {"latitude": far.latitude, "longitude": far.longitude}})
    # The router alone, on the same circles in metres: a fresh Router (as each plan builds)
    # and the route, 10 m margin.
    shapes = [Polygon(circle(900 + 950 * k, (-1) ** k * 0.4 * r, r, 500))
              for k, r in enumerate(radii)]
    route_times: list[float] = []
    route_cpu: list[float] = []  # CPU time too: on a shared machine wall time is noisy

    def route() -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        found = Router(shapes, 10.0).path((50.0, 0.0), (10_500.0, 0.0))
        route_times.append((time.perf_counter() - t0) * 1000)
        route_cpu.append((time.process_time() - c0) * 1000)
        assert found is not None, "no route around the round zones"

    if not limited(args.limit, route):
        print(f"  {'round zones, route only':<24} > {args.limit:g} s (one run, stopped)")
        print(f"  {'round zones 10x500 vtx':<24} skipped (the route alone is too slow)")
    else:
        for _ in range(args.repeat):
            route()
        runs = route_times[1:]
        print(f"  {'round zones, route only':<24} median {statistics.median(runs):7.1f} ms, "
              f"worst {max(runs):7.1f} ms  | CPU median "
              f"{statistics.median(route_cpu[1:]):.1f} ms")
        times, plan = timed(lambda: plan_mission(round_delivery, rctx), args.repeat)
        report("round zones 10x500 vtx", times, plan)
        median = statistics.median(runs)
        print(f"    target: the route around ten 500-vertex zones in < 50 ms: "
              f"{'met' if median < 50 else 'NOT met'} (median {median:.1f} ms)")

    # The ~700 m x 500 m field of issue #14 straddling 180 deg, flown from just west of it.
    field = [[179.9967, -16.8023], [-179.9967, -16.8023], [-179.9967, -16.7977],
             [179.9967, -16.7977], [179.9967, -16.8023]]
    # One imaginary battery: the survey (~40 km of lines) is costed whole, not refused.
    actx = PlanningContext(start=GeoPoint(-16.8030, 179.9960), vehicle=vehicle, now=0.0,
                           energy_limit=False)
    across = parse_request({
        "type": "survey", "altitude_m": 40, "pattern": "crosshatch",
        "camera": {"hfov_deg": 70, "vfov_deg": 55},
        "area": {"type": "Polygon", "coordinates": [field]}})
    times, plan = timed(lambda: plan_mission(across, actx), args.repeat)
    report("antimeridian crosshatch", times, plan)


if __name__ == "__main__":
    main()
