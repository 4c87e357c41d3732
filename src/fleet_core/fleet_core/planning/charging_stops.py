"""Charging stops: where a plan lands to recharge when the battery cannot fly it in one go."""

from __future__ import annotations

from fleet_core.planning.environment import XY, PlanEnvironment, Step
from fleet_core.planning.errors import PlanningError
from fleet_core.planning.types import WaypointKind

MAX_CHARGE_STOPS = 20


def insert_charging_stops(env: PlanEnvironment,
                          steps: list[Step]) -> tuple[list[Step], list[str]]:
    """Insert charging stops where the battery would otherwise fall below the reserve.

    When the next waypoint is out of reach, the vehicle diverts from the latest waypoint
    of the current leg from which a station is reachable with the reserve intact, to the
    cheapest such station; it charges to full, flies back and carries on. Return the steps
    and the names of the stations, in the order they are visited.
    """
    names: list[str] = []
    out = [steps[0]]
    src = [0]  # index into ``steps`` of each output step; -1 for inserted ones
    cum = [env.cost(steps[0], steps[0])[2]]  # Wh used in the leg up to each output step
    energy = env.available
    leg_start = 0
    i = 1
    while i < len(steps):
        e = env.cost(out[-1], steps[i])[2]
        if cum[-1] + e + env.reserve <= energy:
            out.append(steps[i])
            src.append(i)
            cum.append(cum[-1] + e)
            i += 1
            continue
        if not env.stations:
            raise PlanningError(env.short_of_energy(steps))
        if len(names) >= MAX_CHARGE_STOPS:
            raise PlanningError(f"the mission needs more than {MAX_CHARGE_STOPS} "
                                "charging stops")
        best: tuple[int, float, str, XY] | None = None
        for j in range(len(out) - 1, leg_start - 1, -1):
            if src[j] < 0:
                continue
            for name, sxy in env.stations:
                c = _divert_cost(env, out[j], sxy)
                if c is not None and cum[j] + c + env.reserve <= energy and (
                        best is None or c < best[1]):
                    best = (j, c, name, sxy)
            if best is not None:
                break
        if best is None:
            raise PlanningError(env.short_of_energy(steps) + "; no charging station "
                                "is reachable on the way with the reserve kept")
        j, c, name, sxy = best
        resume = out[j]
        i = src[j] + 1
        del out[j + 1:], src[j + 1:], cum[j + 1:]
        left = energy - cum[j] - c
        n = len(out)
        env.goto(out, sxy, WaypointKind.CHARGE, speed=resume.speed, payload=resume.payload,
                 what=f"charging station {name!r}")
        out[-1].hold_s = env.model.charge_time_s(env.capacity - left)
        src.extend([-1] * (len(out) - n))
        cum.extend([0.0] * (len(out) - n))
        names.append(name)
        leg_start = len(out)
        out.append(Step(sxy, env.altitude, WaypointKind.TAKEOFF, speed=resume.speed,
                        payload=resume.payload))
        src.append(-1)
        cum.append(env.cost(out[-1], out[-1])[2])
        n = len(out)
        env.goto(out, resume.xy, WaypointKind.TRANSIT, speed=resume.speed,
                 payload=resume.payload, homebound=resume.homebound,
                 what="the mission after charging")
        for k in range(n, len(out)):
            src.append(-1)
            cum.append(cum[-1] + env.cost(out[k - 1], out[k])[2])
        energy = env.capacity
        if cum[-1] + env.reserve > energy:
            raise PlanningError(f"charging station {name!r} is too far from the route to "
                                "come back on a full charge")
    return out, names


def _divert_cost(env: PlanEnvironment, at: Step, station: XY) -> float | None:
    """Return the Wh to fly from ``at`` to a station and land, or None when unreachable."""
    path = env.router.path(at.xy, station)
    if path is None:
        return None
    total = 0.0
    prev = at
    for k, xy in enumerate(path[1:], start=1):
        kind = WaypointKind.CHARGE if k == len(path) - 1 else WaypointKind.TRANSIT
        step = Step(xy, env.altitude, kind, 0.0, at.speed, at.payload)
        total += env.cost(prev, step)[2]
        prev = step
    return total
