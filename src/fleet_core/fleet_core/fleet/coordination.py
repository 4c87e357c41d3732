"""Coordination policy: what the fleet does about lost links, low batteries, no-fly zones
and vehicles on a collision course.

:meth:`Coordinator.check` takes the fleet picture and the time and returns a
:class:`Reaction`: the events that opened, escalated or resolved, and the safety commands to
send, as values. fleet_manager publishes the one and sends the other. The coordinator
remembers what it commanded, so a problem is acted on once while it lasts, not on every
check, and a vehicle that yielded for separation is sent back to its mission when clear.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import assert_never

from fleet_core.fleet.airspace import Airspace, AirspaceHit
from fleet_core.fleet.battery import BatteryAction
from fleet_core.fleet.config import FleetSettings, SafetyAction, SeparationStrategy
from fleet_core.fleet.events import Event, EventBook, EventSeverity, EventType
from fleet_core.fleet.model import Liveness, VehicleState
from fleet_core.fleet.separation import Track, closest_approach, find_conflicts, yielding_vehicle
from fleet_core.geo import haversine_m
from fleet_core.mavlink import Px4Mode

_GOING_DOWN_MODES = (Px4Mode.RTL, Px4Mode.LAND)
# Who keeps going when two vehicles close in (the other yields; equal: the larger id yields).
# A vehicle going home or landing first: it is often short of battery, and holding it spends
# what it needs to get down. Then one flying a mission, then any other.
_RIGHT_OF_WAY: dict[str, int] = {Px4Mode.RTL: 3, Px4Mode.LAND: 3, Px4Mode.MISSION: 2}

ProblemKey = tuple[str, ...]
"""An EventBook key: the kind of problem, then what it is about (vehicles, zone)."""


@dataclass(frozen=True, slots=True)
class Hold:
    """Stop and hold where it is (AUTO.LOITER)."""

    vehicle_id: str
    what: str


@dataclass(frozen=True, slots=True)
class HoldAt:
    """Hold over the current position at ``altitude_m`` above the ellipsoid (DO_REPOSITION)."""

    vehicle_id: str
    altitude_m: float
    what: str


@dataclass(frozen=True, slots=True)
class ReturnToLaunch:
    """Fly home and land there."""

    vehicle_id: str
    what: str


@dataclass(frozen=True, slots=True)
class Land:
    """Land where it is."""

    vehicle_id: str
    what: str


@dataclass(frozen=True, slots=True)
class ResumeMission:
    """Go on with the uploaded mission (AUTO.MISSION)."""

    vehicle_id: str
    what: str


SafetyCommand = Hold | HoldAt | ReturnToLaunch | Land | ResumeMission
"""Every kind of command the coordinator sends; ``what`` names it in logs and events."""


@dataclass(frozen=True, slots=True)
class Reaction:
    """What one check calls for, in the order it was decided."""

    events: tuple[Event, ...] = ()
    commands: tuple[SafetyCommand, ...] = ()


@dataclass(slots=True)
class _Collected:
    events: list[Event] = field(default_factory=list)
    commands: list[SafetyCommand] = field(default_factory=list)

    def emit(self, event: Event | None) -> None:
        if event is not None:
            self.events.append(event)


def safety_command(vehicle_id: str, action: SafetyAction, what: str) -> SafetyCommand:
    """Return the command that carries out a configured safety action."""
    match action:
        case SafetyAction.HOLD:
            return Hold(vehicle_id, what)
        case SafetyAction.RTL:
            return ReturnToLaunch(vehicle_id, what)
        case SafetyAction.LAND:
            return Land(vehicle_id, what)
        case _:
            assert_never(action)


def _airspace_what(action: SafetyAction, hit: AirspaceHit) -> str:
    match action:
        case SafetyAction.HOLD:
            return "hold" if hit.inside else "hold before the zone"
        case SafetyAction.RTL:
            return "return to launch"
        case SafetyAction.LAND:
            return "land where it is"
        case _:
            assert_never(action)


class Coordinator:
    """The fleet's safety responses, with the memory of what it has already commanded."""

    def __init__(self, settings: FleetSettings, airspace: Airspace,
                 book: EventBook | None = None) -> None:
        self.settings = settings
        self.airspace = airspace  # zones may be replaced while running
        self.book = book if book is not None else EventBook(prefix="fm")
        # A vehicle yielding for separation -> the mode it flew in before it held.
        self._held: dict[str, str] = {}
        # Problems already acted on: a command goes out once per problem, not once per check.
        self._acted: set[ProblemKey] = set()

    @property
    def held(self) -> Mapping[str, str]:
        """Return the vehicles holding for separation and the mode each flew in before."""
        return self._held

    def check(self, fleet: Mapping[str, VehicleState], now: float) -> Reaction:
        """Check links, batteries, airspace and (if enabled) separation at ``now``."""
        out = _Collected()
        self._check_links(fleet, now, out)
        self._check_battery(fleet, now, out)
        self._check_airspace(fleet, now, out)
        if self.settings.separation_enabled:
            self._check_separation(fleet, now, out)
        return Reaction(tuple(out.events), tuple(out.commands))

    def forget(self, vehicle_id: str, now: float) -> tuple[Event, ...]:
        """Drop a vehicle removed from the fleet; return its link and battery events, resolved.

        Its airspace and separation events resolve at the next check, which no longer sees it.
        """
        self._held.pop(vehicle_id, None)
        self._acted.discard(("battery", vehicle_id))
        keys = [k for k in self.book.open_keys("link") + self.book.open_keys("battery")
                if vehicle_id in k]
        out = _Collected()
        for key in keys:
            out.emit(self.book.resolve(key, now, f"{vehicle_id} removed from the fleet"))
        return tuple(out.events)

    def command_failed(self, vehicle_id: str, what: str, attempts: int, detail: str,
                       now: float) -> Event:
        """Return the one-shot event of a command refused or never answered."""
        # Nothing stays open (and nothing accumulates in the book).
        return self.book.notice(
            type_=EventType.COMMAND_FAILED, vehicle_ids=(vehicle_id,),
            severity=EventSeverity.CRITICAL, now=now,
            data={"command": what, "attempts": str(attempts)},
            resolution=f"{what} failed: {detail}")

    def _check_links(self, fleet: Mapping[str, VehicleState], now: float,
                     out: _Collected) -> None:
        th = self.settings.liveness
        for vid, v in fleet.items():
            if v.last_seen is None:
                continue  # never heard: nothing was lost
            key = ("link", vid)
            liveness = v.liveness(now, th)
            if liveness is Liveness.LOST:
                out.emit(self.book.open(
                    key, type_=EventType.LINK_LOST, vehicle_ids=(vid,),
                    severity=EventSeverity.CRITICAL, now=now,
                    resolution="waiting for the link to recover",
                    data={"last_seen_s_ago": f"{now - v.last_seen:.1f}"}))
            elif liveness is Liveness.FRESH:
                out.emit(self.book.resolve(key, now, "link restored"))

    def _check_battery(self, fleet: Mapping[str, VehicleState], now: float,
                       out: _Collected) -> None:
        policy = self.settings.battery
        th = self.settings.liveness
        for vid, v in fleet.items():
            if v.maintenance or v.liveness(now, th) is Liveness.LOST:
                continue
            dist = haversine_m(v.position, v.home) if v.position and v.home else 0.0
            action = policy.decide(v.battery_percent, v.airborne, dist, v.spec.max_range_m)
            key = ("battery", vid)
            if action is BatteryAction.NONE:
                out.emit(self.book.resolve(key, now, "battery above the warning level"))
                self._acted.discard(key)
                continue
            data = {"percent": f"{v.battery_percent:.1f}", "distance_home_m": f"{dist:.0f}"}
            if action is BatteryAction.WARN:
                out.emit(self.book.open(key, type_=EventType.LOW_BATTERY, vehicle_ids=(vid,),
                                        severity=EventSeverity.WARNING, now=now, data=data,
                                        resolution="warning only"))
                continue
            rtl = action is BatteryAction.RETURN
            what = "return to launch" if rtl else "land: home out of reach"
            out.emit(self.book.open(key, type_=EventType.LOW_BATTERY, vehicle_ids=(vid,),
                                    severity=EventSeverity.CRITICAL, now=now, data=data,
                                    resolution=f"commanded {what}"))
            # A vehicle already on its way down needs no command (nor would it obey RTL).
            if key not in self._acted and v.mode not in _GOING_DOWN_MODES:
                self._acted.add(key)
                out.commands.append(ReturnToLaunch(vid, what) if rtl else Land(vid, what))

    def _check_airspace(self, fleet: Mapping[str, VehicleState], now: float,
                        out: _Collected) -> None:
        frame = self.airspace.frame
        response = self.settings.response
        hit_keys: set[ProblemKey] = set()
        for vid, v in fleet.items():
            if v.position is None or not v.airborne or v.maintenance:
                continue
            e, n, _ = frame.to_enu(v.position)
            rel = v.relative_altitude if math.isfinite(v.relative_altitude) else 0.0
            for hit in self.airspace.check(vid, east=e, north=n, rel_alt=rel,
                                           velocity=v.velocity_enu,
                                           lookahead_s=self.settings.separation.lookahead_s,
                                           now=now):
                key = ("airspace", vid, hit.zone_id)
                hit_keys.add(key)
                action = (response.airspace_on_inside if hit.inside else
                          response.airspace_on_predicted_entry)
                what = _airspace_what(action, hit)
                out.emit(self.book.open(
                    key, type_=EventType.AIRSPACE_CONFLICT, vehicle_ids=(vid,),
                    severity=EventSeverity.CRITICAL if hit.inside else EventSeverity.WARNING,
                    now=now,
                    data={"zone": hit.zone_id, "inside": str(hit.inside).lower()},
                    resolution=f"commanded {what}"))
                if key not in self._acted:
                    self._acted.add(key)
                    out.commands.append(safety_command(vid, action, what))
        for open_key in self.book.open_keys("airspace"):
            if open_key not in hit_keys:
                out.emit(self.book.resolve(open_key, now, "clear of the zone"))
                self._acted.discard(open_key)

    def _check_separation(self, fleet: Mapping[str, VehicleState], now: float,
                          out: _Collected) -> None:
        frame = self.airspace.frame
        rules = self.settings.separation
        th = self.settings.liveness
        tracks = []
        priority = {}
        for vid, v in fleet.items():
            if v.position is None or not v.airborne or v.liveness(now, th) is Liveness.LOST:
                continue
            e, n, u = frame.to_enu(v.position)
            ve, vn, vu = v.velocity_enu
            tracks.append(Track(vid, e, n, u, ve, vn, vu))
            priority[vid] = _RIGHT_OF_WAY.get(v.mode, 1)
        conflicts = {c.key: c for c in find_conflicts(tracks, rules)}
        for key, c in conflicts.items():
            yielder = yielding_vehicle(c, priority)
            opened = self.book.open(
                ("separation", *key), type_=EventType.COLLISION_AVOIDANCE, vehicle_ids=key,
                severity=EventSeverity.CRITICAL, now=now,
                data={"time_to_closest_s": f"{c.time_to_closest_s:.1f}",
                      "horizontal_m": f"{c.horizontal_m:.1f}", "vertical_m": f"{c.vertical_m:.1f}",
                      "yielding": yielder},
                resolution=f"{yielder} holds position until separation is restored")
            if opened is not None and yielder not in self._held:
                y = fleet[yielder]
                self._held[yielder] = y.mode
                out.commands.append(self._yield(y))
            out.emit(opened)
        by_id = {t.vehicle_id: t for t in tracks}
        for open_key in self.book.open_keys("separation"):
            pair = (open_key[1], open_key[2])
            if pair in conflicts:
                continue
            a, b = by_id.get(pair[0]), by_id.get(pair[1])
            if a is not None and b is not None:
                # The altitude offset is what separates them now: resuming (and descending
                # back) must wait until their paths are clear horizontally.
                _, horizontal, _ = closest_approach(a, b, rules.lookahead_s)
                if horizontal < rules.horizontal_m:
                    continue
            out.emit(self.book.resolve(open_key, now, "separation restored"))
            for vid in pair:
                resume = self._resume(vid, self._held.pop(vid, None))
                if resume is not None:
                    out.commands.append(resume)

    @staticmethod
    def _resume(vehicle_id: str, mode: str | None) -> SafetyCommand | None:
        """What a vehicle that held for separation goes back to: its mission, or home or
        down when it was returning or landing (a vehicle left holding would hover until its
        battery forces a landing wherever it is); nothing for any other mode."""
        if mode == Px4Mode.MISSION:
            return ResumeMission(vehicle_id, "resume after separation hold")
        if mode == Px4Mode.RTL:
            return ReturnToLaunch(vehicle_id, "return home after separation hold")
        if mode == Px4Mode.LAND:
            return Land(vehicle_id, "land after separation hold")
        return None

    def _yield(self, v: VehicleState) -> SafetyCommand:
        """Return how ``v`` holds for separation: where it is, or higher (the strategy)."""
        strategy = self.settings.response.separation_strategy
        if strategy is SeparationStrategy.HOLD or v.position is None:
            return Hold(v.vehicle_id, "hold for separation")
        climb = self.settings.separation_climb_m
        return HoldAt(v.vehicle_id, v.position.altitude + climb,
                      f"hold {climb:.0f} m higher for separation")
