"""Charging stops: where a plan lands to recharge when the battery cannot fly it in one go."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from fleet_core.planning.environment import XY, PlanEnvironment, Step
from fleet_core.planning.errors import PlanningError
from fleet_core.planning.types import WaypointKind

MAX_CHARGE_STOPS = 20
# Legs that are the mission's work, not a way somewhere: resumed where they were left.
_LINE_KINDS = (WaypointKind.SURVEY, WaypointKind.INSPECT)
# Detours within this many Wh of each other count as equally cheap; the one leaving later
# is taken, since it leaves less of the mission for the next charge.
_TIE_WH = 1.0
# How much a Wh left unused on landing at a station weighs against a Wh flown: it is not
# flown, but stopping early brings the next stop forward. Half, from a 1.5 km survey with
# three pads: 3374 Wh in all (3583 at full weight, 3434 for stops at waypoints only).
_SPARE_WEIGHT = 0.5
# Charge legs the search plans in all: while it has no plan, up to _SEARCH_BUDGET (a bound
# on the work of a hopeless request); once it has one, alternatives are only tried, up to
# _ALTERNATIVES at each charge, while fewer than _IMPROVE_BUDGET legs were planned. 12
# keeps a 1 km² survey with 7 legs within ~60 ms CPU (bench/planning.py).
_SEARCH_BUDGET = 200
_IMPROVE_BUDGET = 12
_ALTERNATIVES = 3
# Halvings of a survey or inspection line when finding the last point to leave it from:
# 2^-12 of a 4 km line is a metre.
_BISECT_STEPS = 12
_NAMES = {WaypointKind.PICKUP: "the pickup", WaypointKind.DROPOFF: "the drop-off",
          WaypointKind.LOITER: "the target", WaypointKind.LAND: "the landing"}


def insert_charging_stops(env: PlanEnvironment,
                          steps: list[Step]) -> tuple[list[Step], list[str]]:
    """Insert charging stops where the battery would otherwise fall below the reserve.

    When the next step is out of reach, the vehicle may leave the part flown on the current
    charge anywhere: at one of its points (from a station's pad too, straight to the next
    station), or part-way along one of its legs. It flies to a station with the reserve
    kept, charges to full and rejoins the mission at the step it was heading for (or, on a
    survey or inspection line, where it left the line, and flies the rest of it); a
    station too far from that step to rejoin on one charge needs another stop on the way.
    The few cheapest stops at each charge are tried (energy added, counting half of the
    charge left unused: stopping early costs another stop later) and the plan using the
    least energy in all is kept. The detour, the take-off from the pad and the way back
    carry what is on board where the vehicle left the mission (a parcel between pickup and
    drop-off), not what was carried before. Return the steps and the names of the
    stations, in the order visited. PlanningError names the leg that cannot be flown (of
    the ways tried, the one getting furthest) and what the closest station would need
    against what is left, or why the station cannot be rejoined from.
    """
    return _Search(env, steps).run()


_Plan = tuple[list[Step], list[str], float]  # steps, stations visited, Wh used in all
_State = tuple[str, int, tuple[int, int] | None]


@dataclass(slots=True)
class _Leg:
    """The part of the plan flown on one charge, as built so far."""

    energy: float  # Wh in the battery when the leg starts
    origin: str  # where it starts, for messages
    charged: bool  # starts with the take-off from a charging station
    out: list[Step] = field(default_factory=list)
    cum: list[float] = field(default_factory=list)  # Wh used up to the end of each step
    nxt: list[int] = field(default_factory=list)  # mission step flown after each step
    load: list[float] = field(default_factory=list)  # kg on board when leaving each step

    def add(self, step: Step, wh: float, nxt: int, load: float) -> None:
        self.out.append(step)
        self.cum.append(wh)
        self.nxt.append(nxt)
        self.load.append(load)


@dataclass(frozen=True, slots=True)
class _Stop:
    """One way to charge: leave the leg after its step ``k`` (at ``at``, or at step ``k``)."""

    extra: float  # Wh beyond flying on without the stop
    used: float  # Wh used on this charge when leaving the mission
    k: int
    at: Step | None  # a point part-way to the next step; None: step k itself
    name: str
    to_station: list[XY]  # routed path from where the mission is left to the station
    wh_to_station: float
    back: list[XY]  # routed path from the station to where the mission is rejoined
    resume: int  # index of the mission step flown next
    line: bool  # rejoins where it left (a survey or inspection line)
    load: float
    speed: float
    direct: bool  # the mission can be rejoined on the charge taken there
    again: float  # Wh from the take-off at the station to where the mission is rejoined


@dataclass(frozen=True, slots=True)
class _Miss:
    """A station that cannot help, and by how many Wh."""

    short: float
    text: str
    reachable: bool


class _NoPlanError(PlanningError):
    """A refusal, with how far into the mission the plan that hit it got and by how much
    it fell short."""

    def __init__(self, message: str, reached: int, short: float = math.inf) -> None:
        super().__init__(message)
        self.reached = reached  # index of the mission step it could not reach
        self.short = short  # Wh missing to reach it


class _Search:
    """Depth-first search over charging stops, cheapest first, keeping the plan that uses
    the least energy among the few cheapest stops at each charge."""

    def __init__(self, env: PlanEnvironment, steps: list[Step]) -> None:
        self.env = env
        self.steps = steps
        self.planned = 0
        self._paths: dict[tuple[XY, XY], list[XY] | None] = {}
        # What follows a charge depends only on the station and where the mission is
        # rejoined (the battery is full): each such state is planned once.
        self._done: dict[_State, _Plan | _NoPlanError] = {}
        self._active: set[_State] = set()
        # Wh of the mission from each step on, as planned without stops: what any plan
        # still has to fly from there (a bound that prunes the search).
        self._rest = [0.0] * (len(steps) + 1)
        for k in range(len(steps) - 1, 0, -1):
            self._rest[k] = self._rest[k + 1] + env.cost(steps[k - 1], steps[k])[2]

    def run(self) -> tuple[list[Step], list[str]]:
        s0 = self.steps[0]
        leg = _Leg(self.env.available, "the start", charged=False)
        leg.add(s0, self.env.cost(s0, s0)[2], 1, self._after(0))
        try:
            out, names, _ = self._finish(leg, 1, 0)
        except _NoPlanError as exc:
            raise PlanningError(exc.reason) from None
        return out, names

    # ------------------------------------------------------------------ search
    def _finish(self, leg: _Leg, i: int, stops: int) -> _Plan:
        """Fly ``leg`` on from mission step ``i``, stopping to charge as needed; return the
        steps, the stations and the Wh of the cheapest way found."""
        env = self.env
        self.planned += 1
        failed = self._extend(leg, i)
        if failed is None:
            return leg.out, [], leg.cum[-1]
        if not env.stations:
            raise _NoPlanError(env.short_of_energy(self.steps) + "; there is no charging "
                               "station to stop at outside the no-fly zones", failed)
        if stops >= MAX_CHARGE_STOPS:
            raise _NoPlanError(f"the mission needs more than {MAX_CHARGE_STOPS} "
                               "charging stops", failed)
        options, reason = self._stops(leg, failed)
        error: _NoPlanError | None = None
        best: _Plan | None = None
        tried = 0
        for stop in options:
            if best is not None and (tried >= _ALTERNATIVES
                                     or self.planned >= _IMPROVE_BUDGET):
                break
            if error is not None and self.planned >= _SEARCH_BUDGET:
                break
            here = (stop.at or leg.out[stop.k]).xy
            state = (stop.name, stop.resume,
                     (round(here[0]), round(here[1])) if stop.line else None)
            if state in self._active:
                continue  # charging there again to rejoin at the same place goes in circles
            if best is not None and (stop.used + stop.wh_to_station + stop.again
                                     + self._rest[stop.resume + 1] >= best[2]):
                continue  # cannot beat the plan found already
            tried += 1
            head, after, resume = self._divert(leg, stop)
            if state not in self._done:
                self._active.add(state)
                try:
                    self._done[state] = self._finish(after, resume, stops + 1)
                except _NoPlanError as exc:
                    self._done[state] = exc
                finally:
                    self._active.discard(state)
            tail = self._done[state]
            if isinstance(tail, _NoPlanError):
                # Of the ways that fail, the one that gets furthest, and then the one
                # that falls least short, shows the real obstacle.
                if error is None or (-tail.reached, tail.short) < (-error.reached,
                                                                   error.short):
                    error = tail
                continue
            wh = stop.used + stop.wh_to_station + tail[2]
            if best is None or wh < best[2]:
                best = (head + tail[0], [stop.name, *tail[1]], wh)
        if best is not None:
            return best
        raise error or _NoPlanError(*reason)

    def _extend(self, leg: _Leg, i: int) -> int | None:
        """Append mission steps from ``i`` while the reserve holds; return the first that
        does not fit, or None when the mission is done."""
        env = self.env
        while i < len(self.steps):
            s = self.steps[i]
            wh = leg.cum[-1] + env.cost(leg.out[-1], s)[2]
            if wh + env.reserve > leg.energy:
                return i
            leg.add(s, wh, i + 1, self._after(i))
            i += 1
        return None

    # ------------------------------------------------------------------ stops
    def _stops(self, leg: _Leg, failed: int) -> tuple[list[_Stop], tuple[str, int, float]]:
        """Return the stops that reach a station, best first, and why none helps if so."""
        env = self.env
        target = self.steps[failed]
        # Wh used on this charge up to each mission step of it, as planned without a stop.
        planned = {leg.nxt[k] - 1: leg.cum[k] for k in range(len(leg.out))
                   if leg.out[k] is self.steps[leg.nxt[k] - 1]}
        planned[failed] = leg.cum[-1] + env.cost(leg.out[-1], target)[2]
        found: list[_Stop] = []
        misses: list[_Miss] = []
        for k, a in enumerate(leg.out):
            if a.kind is WaypointKind.LAND:
                continue  # on the ground
            b = leg.out[k + 1] if k + 1 < len(leg.out) else target
            m = leg.nxt[k]
            line = self.steps[m].kind in _LINE_KINDS
            last = k + 1 == len(leg.out)
            for name, sxy in env.stations:
                if k == 0 and leg.charged and sxy == a.xy:
                    continue  # it has just charged there
                places: list[tuple[Step | None, float]] = [(None, leg.cum[k])]
                if self._can_split(a, b):
                    t = _projection(a.xy, b.xy, sxy)
                    if 0.0 < t < 1.0:
                        places.append(self._along(a, b, t, leg.cum[k], line))
                    if line and (last or not self._reaches(leg, k + 1, None, sxy)):
                        # b is out of reach: leave the line at its last point that is not.
                        far = self._farthest(leg, k, b, sxy)
                        if far is not None:
                            places.append(far)
                for at, used in places:
                    got = self._stop(leg, k, at, used=used, name=name, sxy=sxy, m=m,
                                     line=line, planned=planned)
                    if isinstance(got, _Stop):
                        found.append(got)
                    else:
                        misses.append(got)
        # Those that rejoin the mission on the charge first, cheapest first, counting
        # the charge left unused on landing as spent: stopping early costs a stop more
        # later. About as cheap: not part-way along a transit (which only pays when a
        # zone is in the way), then the later one (more of the mission behind).
        usable = leg.energy - env.reserve

        def rank(s: _Stop) -> tuple[bool, int, bool, float]:
            unused = usable - s.used - s.wh_to_station
            return (not s.direct, round((s.extra + _SPARE_WEIGHT * unused) / _TIE_WH),
                    s.at is not None and not s.line, -s.used)

        found.sort(key=rank)
        return found, self._refusal(leg, failed, misses)

    def _stop(self, leg: _Leg, k: int, at: Step | None, *, used: float, name: str,
              sxy: XY, m: int, line: bool, planned: dict[int, float]) -> _Stop | _Miss:
        env = self.env
        here = at or leg.out[k]
        where = self._where(leg, k, at)
        load = leg.load[k]
        speed = self._speed(leg, k)
        left = leg.energy - env.reserve - used
        straight = env.cost(here, Step(sxy, env.altitude, WaypointKind.CHARGE, speed=speed,
                                       payload=load))[2]
        if straight > left:  # even the straight way is too long: no need to route it
            return _Miss(straight - left, self._too_far(name, math.dist(here.xy, sxy), where,
                                                        straight, left), False)
        path = self._path(here.xy, sxy)
        if path is None:
            return _Miss(math.inf, f"no route around the no-fly zones from {where} to "
                                   f"charging station {name!r}", False)
        wh = self._path_wh(here, path, WaypointKind.CHARGE, speed=speed, load=load,
                           homebound=here.homebound)
        if wh > left:
            return _Miss(wh - left, self._too_far(name, _length(path), where, wh, left), False)
        # Back from the station on a full charge, with the same load.
        takeoff = Step(sxy, env.altitude, WaypointKind.TAKEOFF, speed=speed, payload=load)
        goal = here.xy if line else self.steps[m].xy
        back = self._path(sxy, goal)
        what = where if line else self._name(self.steps[m], m)
        if back is None:
            return _Miss(math.inf, f"no route around the no-fly zones from charging station "
                                   f"{name!r} back to {what}", True)
        again = env.cost(takeoff, takeoff)[2]
        if line:
            again += self._path_wh(takeoff, back, WaypointKind.TRANSIT, speed=speed,
                                   load=load, homebound=here.homebound)
        else:
            again += self._path_wh(takeoff, back[:-1], WaypointKind.TRANSIT, speed=speed,
                                   load=load, homebound=self.steps[m].homebound
                                   ) if len(back) > 2 else 0.0
            corner = Step(back[-2], env.altitude, WaypointKind.TRANSIT, speed=speed,
                          payload=load) if len(back) > 2 else takeoff
            again += env.cost(corner, self.steps[m])[2]
        # Not rejoinable on one charge: a later stop (another station) must bridge it.
        direct = again + env.reserve <= env.capacity
        extra = wh + again if line else used + wh + again - planned[m]
        return _Stop(extra, used, k, at, name, path, wh, back, m, line, load, speed, direct,
                     again)

    def _divert(self, leg: _Leg, stop: _Stop) -> tuple[list[Step], _Leg, int]:
        """Return the steps of ``leg`` up to the station, the leg after it and where the
        mission resumes."""
        env = self.env
        head = leg.out[:stop.k + 1]
        if stop.at is not None:
            head.append(stop.at)
        here = head[-1]
        sxy = stop.to_station[-1]
        head.extend(Step(c, env.altitude, WaypointKind.TRANSIT, speed=stop.speed,
                         payload=stop.load, homebound=here.homebound)
                    for c in stop.to_station[1:-1])
        left = leg.energy - stop.used - stop.wh_to_station
        head.append(Step(sxy, env.altitude, WaypointKind.CHARGE,
                         env.model.charge_time_s(env.capacity - left), stop.speed, stop.load,
                         here.homebound))
        after = _Leg(env.capacity, f"charging station {stop.name!r}", charged=True)
        takeoff = Step(sxy, env.altitude, WaypointKind.TAKEOFF, speed=stop.speed,
                       payload=stop.load)
        after.add(takeoff, env.cost(takeoff, takeoff)[2], stop.resume, stop.load)
        nxt = self.steps[stop.resume]
        corners = stop.back[1:] if stop.line else stop.back[1:-1]
        for c in corners:
            step = Step(c, env.altitude, WaypointKind.TRANSIT, speed=stop.speed,
                        payload=stop.load,
                        homebound=here.homebound if stop.line else nxt.homebound)
            after.add(step, after.cum[-1] + env.cost(after.out[-1], step)[2], stop.resume,
                      stop.load)
        return head, after, stop.resume

    # ------------------------------------------------------------------ geometry
    def _can_split(self, a: Step, b: Step) -> bool:
        """Tell whether the way a→b can be left part-way: a horizontal leg, not a landing."""
        return (math.dist(a.xy, b.xy) > 1.0 and b.kind not in (
            WaypointKind.LAND, WaypointKind.CHARGE, WaypointKind.TAKEOFF))

    def _along(self, a: Step, b: Step, t: float, used: float,
               line: bool) -> tuple[Step, float]:
        """Return the point ``t`` of the way from a to b and the Wh used when there."""
        xy = (a.xy[0] + t * (b.xy[0] - a.xy[0]), a.xy[1] + t * (b.xy[1] - a.xy[1]))
        at = dataclasses.replace(b, xy=xy, hold_s=0.0,
                                 kind=b.kind if line else WaypointKind.TRANSIT)
        return at, used + self.env.cost(a, at)[2]

    def _reaches(self, leg: _Leg, k: int, place: tuple[Step, float] | None,
                 sxy: XY) -> bool:
        """Tell whether the station is reached with the reserve kept from leg step ``k``
        or from ``place`` (a point on the way from it, and the Wh used there)."""
        env = self.env
        at, used = place or (leg.out[k], leg.cum[k])
        speed = self._speed(leg, k)
        straight = env.cost(at, Step(sxy, env.altitude, WaypointKind.CHARGE, speed=speed,
                                     payload=leg.load[k]))[2]
        if used + straight + env.reserve > leg.energy:
            return False  # the routed way is no shorter
        path = self._path(at.xy, sxy)
        if path is None:
            return False
        wh = self._path_wh(at, path, WaypointKind.CHARGE, speed=speed, load=leg.load[k],
                           homebound=at.homebound)
        return used + wh + env.reserve <= leg.energy

    def _farthest(self, leg: _Leg, k: int, b: Step, sxy: XY) -> tuple[Step, float] | None:
        """Return the last point of the line from leg step k towards b from which the
        station is reached with the reserve kept (and the Wh used there), or None."""
        if not self._reaches(leg, k, None, sxy):
            return None
        lo, hi = 0.0, 1.0
        best: tuple[Step, float] | None = None
        for _ in range(_BISECT_STEPS):
            mid = (lo + hi) / 2.0
            place = self._along(leg.out[k], b, mid, leg.cum[k], True)
            if self._reaches(leg, k, place, sxy):
                lo, best = mid, place
            else:
                hi = mid
        return best

    def _path(self, a: XY, b: XY) -> list[XY] | None:
        key = (a, b)
        if key not in self._paths:
            self._paths[key] = self.env.router.path(a, b)
        return self._paths[key]

    def _path_wh(self, start: Step, path: list[XY], kind: WaypointKind, *, speed: float,
                 load: float, homebound: bool) -> float:
        """Return the Wh from ``start`` along ``path`` (which begins at it) to a ``kind``
        step at its end."""
        total = 0.0
        prev = start
        for n, xy in enumerate(path[1:], start=1):
            step = Step(xy, self.env.altitude,
                        kind if n == len(path) - 1 else WaypointKind.TRANSIT,
                        speed=speed, payload=load, homebound=homebound)
            total += self.env.cost(prev, step)[2]
            prev = step
        return total

    # ------------------------------------------------------------------ words
    def _after(self, k: int) -> float:
        """Return the kg on board when leaving mission step ``k``.

        A step's payload is what was carried on the way to it, so the load after a pickup
        is the next step's, and after a drop-off too (then nothing).
        """
        s = self.steps
        return s[k + 1].payload if k + 1 < len(s) else s[k].payload

    def _speed(self, leg: _Leg, k: int) -> float:
        nxt = self.steps[leg.nxt[k]] if leg.nxt[k] < len(self.steps) else leg.out[k]
        return nxt.speed or leg.out[k].speed or self.env.model.cruise_speed

    def _name(self, step: Step, index: int) -> str:
        if index == 0:
            return "the start"
        if step.homebound and index >= len(self.steps) - 2:
            return "home"
        label = _NAMES.get(step.kind, f"{step.kind.value} waypoint")
        return f"{label} (step {index})"

    def _where(self, leg: _Leg, k: int, at: Step | None) -> str:
        a = leg.out[k]
        mission = leg.nxt[k] - 1
        if k == 0:
            here = leg.origin
        elif a is self.steps[mission]:
            here = self._name(a, mission)
        else:
            here = f"a turn on the way to {self._name(self.steps[leg.nxt[k]], leg.nxt[k])}"
        if at is None:
            return here
        return f"the point {math.dist(a.xy, at.xy) / 1000:.1f} km on from {here}"

    def _too_far(self, name: str, metres: float, where: str, wh: float, left: float) -> str:
        return (f"the closest, {name!r}, is {metres / 1000:.1f} km from {where} and needs "
                f"{wh:.1f} Wh to reach, but only {max(left, 0.0):.1f} Wh are left there "
                f"above the {self.env.reserve:.1f} Wh reserve")

    def _refusal(self, leg: _Leg, failed: int,
                 misses: list[_Miss]) -> tuple[str, int, float]:
        """Return why no stop helps, the step not reached and the Wh missing for it."""
        env = self.env
        target = self.steps[failed]
        need = leg.cum[-1] + env.cost(leg.out[-1], target)[2]
        text = (f"the flight from {leg.origin} cannot reach {self._name(target, failed)}: "
                f"it needs {need:.1f} Wh plus the {env.reserve:.1f} Wh reserve, but sets off "
                f"with {leg.energy:.1f} Wh")
        short = need + env.reserve - leg.energy
        back = [m for m in misses if m.reachable]
        if back:
            return text + "; " + min(back, key=lambda m: m.short).text, failed, short
        if misses:
            return (text + "; no charging station is reachable on the way with the reserve "
                    "kept: " + min(misses, key=lambda m: m.short).text, failed, short)
        return text + "; there is no other charging station to stop at", failed, short


def _projection(a: XY, b: XY, p: XY) -> float:
    """Return where along a→b (0..1) the point nearest ``p`` lies."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    return ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)


def _length(path: list[XY]) -> float:
    return sum(math.dist(path[n - 1], path[n]) for n in range(1, len(path)))
