"""Charging stops: where a plan lands to recharge when the battery cannot fly it in one go."""

from __future__ import annotations

from fleet_core.planning.environment import XY, PlanEnvironment, Step
from fleet_core.planning.errors import PlanningError
from fleet_core.planning.types import WaypointKind

MAX_CHARGE_STOPS = 20
# Legs that are the mission's work, not a way somewhere: resumed where they were left.
_LINE_KINDS = (WaypointKind.SURVEY, WaypointKind.INSPECT)


def insert_charging_stops(env: PlanEnvironment,
                          steps: list[Step]) -> tuple[list[Step], list[str]]:
    """Insert charging stops where the battery would otherwise fall below the reserve.

    When the next waypoint is out of reach, the vehicle diverts from the latest waypoint
    of the current leg from which a station is reachable with the reserve intact, to the
    cheapest such station; it charges to full and rejoins the mission at the next waypoint
    (or back at the diversion point when the next leg is a survey or inspection line).
    The detour, the take-off from the pad and the way back carry what is on board after
    the diversion point (a parcel between pickup and drop-off), not what was carried on
    the way to it. Return the steps and the names of the stations, in the order visited.
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
            load = _on_board_after(steps, src[j])
            for name, sxy in env.stations:
                c = _divert_cost(env, out[j], sxy, load)
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
        load = _on_board_after(steps, src[j])
        i = src[j] + 1
        del out[j + 1:], src[j + 1:], cum[j + 1:]
        left = energy - cum[j] - c
        n = len(out)
        env.goto(out, sxy, WaypointKind.CHARGE, speed=resume.speed, payload=load,
                 what=f"charging station {name!r}")
        out[-1].hold_s = env.model.charge_time_s(env.capacity - left)
        src.extend([-1] * (len(out) - n))
        cum.extend([0.0] * (len(out) - n))
        names.append(name)
        leg_start = len(out)
        out.append(Step(sxy, env.altitude, WaypointKind.TAKEOFF, speed=resume.speed,
                        payload=load))
        src.append(-1)
        cum.append(env.cost(out[-1], out[-1])[2])
        n = len(out)
        nxt = steps[i] if i < len(steps) else None
        if nxt is None or nxt.kind in _LINE_KINDS:
            # The leg from the diversion point is a photo or inspection line: fly it whole.
            env.goto(out, resume.xy, WaypointKind.TRANSIT, speed=resume.speed,
                     payload=load, homebound=resume.homebound,
                     what="the mission after charging")
        else:
            # The diversion point was visited already: rejoin at the next waypoint.
            path = env.router.path(sxy, nxt.xy)
            if path is None:
                raise PlanningError(f"no route around the no-fly zones from charging "
                                    f"station {name!r} back to the mission")
            out.extend(Step(p, env.altitude, WaypointKind.TRANSIT, speed=resume.speed,
                            payload=load, homebound=nxt.homebound) for p in path[1:-1])
        for k in range(n, len(out)):
            src.append(-1)
            cum.append(cum[-1] + env.cost(out[k - 1], out[k])[2])
        energy = env.capacity
        rejoin = cum[-1] + (0.0 if nxt is None else env.cost(out[-1], nxt)[2])
        if rejoin + env.reserve > energy:
            raise PlanningError(f"charging station {name!r} is too far from the route to "
                                "come back on a full charge")
    return out, names


def _on_board_after(steps: list[Step], k: int) -> float:
    """Return the kg on board when leaving ``steps[k]``.

    A step's payload is what was carried on the way to it, so the load after a pickup is
    the next step's, and after a drop-off too (then nothing).
    """
    return steps[k + 1].payload if k + 1 < len(steps) else steps[k].payload


def _divert_cost(env: PlanEnvironment, at: Step, station: XY, load: float) -> float | None:
    """Return the Wh to fly from ``at`` to a station and land carrying ``load`` kg, or None
    when unreachable."""
    path = env.router.path(at.xy, station)
    if path is None:
        return None
    total = 0.0
    prev = at
    for k, xy in enumerate(path[1:], start=1):
        kind = WaypointKind.CHARGE if k == len(path) - 1 else WaypointKind.TRANSIT
        step = Step(xy, env.altitude, kind, 0.0, at.speed, load)
        total += env.cost(prev, step)[2]
        prev = step
    return total
