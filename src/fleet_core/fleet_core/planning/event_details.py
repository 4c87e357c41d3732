"""What a mission event carries besides its transition: the schema of ``details_json``.

mission_planner writes it (the mission's type and priority with every transition; the path,
area, estimates and waypoints when it plans for a vehicle; the new waypoints when an operator
modifies them); telemetry_recorder reads it into the missions and mission_waypoints tables,
and web_bridge passes it to the dashboard. Writer and readers share this one schema:
:func:`planned_details` and :meth:`MissionEventDetails.to_json` write it,
:meth:`MissionEventDetails.from_json` reads it back, and the two round-trip.

Keys other than the ones named here are kept as they came (``extra``), so an older reader
never drops what a newer writer added.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from fleet_core.jsontext import json_object
from fleet_core.planning.items import photo_lines
from fleet_core.planning.request import area_to_geojson
from fleet_core.planning.types import Area, MissionPlan, Waypoint

_KNOWN_KEYS = ("type", "priority", "area", "plan", "waypoints", "waypoints_rejected")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _optional_number(data: Mapping[str, object], key: str, where: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if not _is_number(value):
        raise ValueError(f"{where} {key} {value!r} is not a number")
    return float(value)


def _photo_lines(raw: Mapping[str, object], points: int) -> tuple[tuple[int, int], ...]:
    lines = raw.get("photo_lines") or []
    if not isinstance(lines, list):
        raise ValueError(f"plan photo_lines must be a list, got {type(lines).__name__}")
    out = []
    for i, line in enumerate(lines):
        if not (isinstance(line, list) and len(line) == 2
                and all(isinstance(k, int) and not isinstance(k, bool) for k in line)
                and 0 <= line[0] < line[1] < points):
            raise ValueError(f"plan photo line {i} is not [first, last] indexes into the "
                             f"path of {points} points: {line!r}")
        out.append((line[0], line[1]))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class PlannedRoute:
    """The path a vehicle is about to fly and what the planner estimates it costs.

    A survey also says where its camera takes photos: ``photo_lines`` are (first, last)
    indexes into ``path`` (the camera starts at the first, stops at the last; see
    ``planning.items.photo_lines``), ``photo_count`` how many it takes, ``trigger_distance_m``
    how far apart.
    """

    path: tuple[tuple[float, float], ...]  # (longitude, latitude) of every waypoint
    distance_m: float | None = None
    duration_s: float | None = None
    energy_wh: float | None = None
    trigger_distance_m: float | None = None
    photo_count: int | None = None
    photo_lines: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (``"plan"`` of the details); the photo keys only for a plan
        that takes photos (older readers never see them otherwise)."""
        out: dict[str, Any] = {
            "path": [[lon, lat] for lon, lat in self.path], "distance_m": self.distance_m,
            "duration_s": self.duration_s, "energy_wh": self.energy_wh}
        if self.photo_count is not None:
            out.update(trigger_distance_m=self.trigger_distance_m,
                       photo_count=self.photo_count,
                       photo_lines=[[a, b] for a, b in self.photo_lines])
        return out

    @classmethod
    def from_dict(cls, raw: object) -> PlannedRoute:
        """Read the JSON form; ValueError names the first bad value."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"plan must be an object, got {type(raw).__name__}")
        path = raw.get("path") or []
        if not isinstance(path, list):
            raise ValueError(f"plan path must be a list, got {type(path).__name__}")
        points = []
        for i, p in enumerate(path):
            if not (isinstance(p, list) and len(p) == 2 and all(_is_number(c) for c in p)
                    and all(math.isfinite(c) for c in p)
                    and -180 <= p[0] <= 180 and -90 <= p[1] <= 90):
                raise ValueError(f"plan path point {i} is not a [longitude, latitude]: {p!r}")
            points.append((float(p[0]), float(p[1])))
        count = raw.get("photo_count")
        if count is not None and not (isinstance(count, int) and not isinstance(count, bool)
                                      and count >= 0):
            raise ValueError(f"plan photo_count {count!r} is not a whole number >= 0")
        return cls(tuple(points), _optional_number(raw, "distance_m", "plan"),
                   _optional_number(raw, "duration_s", "plan"),
                   _optional_number(raw, "energy_wh", "plan"),
                   _optional_number(raw, "trigger_distance_m", "plan"), count,
                   _photo_lines(raw, len(points)))


@dataclass(frozen=True, slots=True)
class EventWaypoint:
    """One waypoint as mission events carry it (compact: a survey has hundreds)."""

    longitude: float
    latitude: float
    altitude_m: float  # above home
    kind: str  # the planner's WaypointKind value
    hold_s: float = 0.0

    def to_list(self) -> list[Any]:
        """Return the JSON form: ``[longitude, latitude, altitude, kind, hold_s]``."""
        return [self.longitude, self.latitude, self.altitude_m, self.kind, self.hold_s]


def parse_waypoints(raw: object) -> tuple[EventWaypoint, ...]:
    """Read the JSON form of a list of waypoints; ValueError names the first bad one."""
    if not isinstance(raw, list):
        raise ValueError(f"waypoints must be a list, got {type(raw).__name__}")
    out = []
    for i, w in enumerate(raw):
        if not (isinstance(w, list) and len(w) == 5):
            raise ValueError(f"waypoint {i} is not [lon, lat, alt, kind, hold_s]: {w!r}")
        lon, lat, alt, kind, hold = w
        if not all(_is_number(x) and math.isfinite(x) for x in (lon, lat, alt, hold)) \
                or not (-180 <= lon <= 180 and -90 <= lat <= 90) or hold < 0:
            raise ValueError(f"waypoint {i} has a bad position or hold: {w!r}")
        out.append(EventWaypoint(float(lon), float(lat), float(alt), str(kind), float(hold)))
    return tuple(out)


def event_waypoints(waypoints: Sequence[Waypoint]) -> tuple[EventWaypoint, ...]:
    """Return planned waypoints as mission events carry them."""
    return tuple(EventWaypoint(w.position.longitude, w.position.latitude, w.position.altitude,
                               w.kind.value, w.hold_s) for w in waypoints)


@dataclass(frozen=True, slots=True)
class MissionEventDetails:
    """The ``details_json`` of a fleet_interfaces/MissionEvent.

    ``waypoints_rejected`` says why a reader left out waypoints it could not take (the event
    itself is kept); ``extra`` holds keys this schema does not name.
    """

    mission_type: str | None = None  # JSON key "type"
    priority: int | None = None
    area: Mapping[str, Any] | None = None  # a GeoJSON geometry (see area_to_geojson)
    route: PlannedRoute | None = None  # JSON key "plan"
    waypoints: tuple[EventWaypoint, ...] | None = None
    waypoints_rejected: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form; keys whose value is None are left out."""
        out: dict[str, Any] = {"type": self.mission_type, "priority": self.priority,
                               "area": dict(self.area) if self.area is not None else None,
                               "plan": self.route.to_dict() if self.route else None,
                               "waypoints": None if self.waypoints is None
                               else [w.to_list() for w in self.waypoints],
                               "waypoints_rejected": self.waypoints_rejected}
        return {**{k: v for k, v in out.items() if v is not None}, **self.extra}

    def to_json(self) -> str:
        """Return the text for ``details_json``."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MissionEventDetails:
        """Read the JSON form.

        Waypoints that cannot be read are left out, with the reason in
        ``waypoints_rejected``: the event still counts. Any other bad value raises
        ValueError naming it.
        """
        mission_type = data.get("type")
        if mission_type is not None and not isinstance(mission_type, str):
            raise ValueError(f"mission type {mission_type!r} is not a string")
        priority = data.get("priority")
        if priority is not None and not (isinstance(priority, int)
                                         and not isinstance(priority, bool)):
            raise ValueError(f"priority {priority!r} is not an integer")
        area = data.get("area")
        if area is not None and not isinstance(area, Mapping):
            raise ValueError(f"area must be a GeoJSON object, got {type(area).__name__}")
        plan = data.get("plan")
        rejected = data.get("waypoints_rejected")
        waypoints = None
        if "waypoints" in data:
            try:
                waypoints = parse_waypoints(data["waypoints"])
            except ValueError as exc:
                rejected = str(exc)
        return cls(mission_type=mission_type, priority=priority, area=area,
                   route=PlannedRoute.from_dict(plan) if plan is not None else None,
                   waypoints=waypoints,
                   waypoints_rejected=None if rejected is None else str(rejected),
                   extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS})

    @classmethod
    def from_json(cls, text: str) -> MissionEventDetails:
        """Read ``details_json`` (empty: no details); ValueError names what is wrong."""
        if not text:
            return cls()
        return cls.from_dict(json_object(text, "details_json"))


def planned_details(*, mission_type: str, priority: int, area: Area | None,
                    plan: MissionPlan) -> MissionEventDetails:
    """Return the details of a "planned for <vehicle>" event: what the vehicle will fly."""
    return MissionEventDetails(
        mission_type=mission_type, priority=priority,
        area=area_to_geojson(area) if area is not None else None,
        route=PlannedRoute(tuple((w.position.longitude, w.position.latitude)
                                 for w in plan.waypoints),
                           plan.distance_m, plan.duration_s, plan.energy_wh,
                           plan.trigger_distance_m, plan.photo_count,
                           tuple(photo_lines(plan.waypoints))),
        waypoints=event_waypoints(plan.waypoints))
