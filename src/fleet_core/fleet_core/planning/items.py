"""Plans as MAVROS mission items, the way PX4 and fleet_core.sim accept them.

A survey's photo lines are bracketed the way QGroundControl's survey does it: on reaching a
line's first waypoint, DO_SET_CAM_TRIGG_DIST with the photo spacing (and "shoot once now");
on reaching its last, DO_SET_CAM_TRIGG_DIST 0. Transits, and connecting legs around holes,
take no photos.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fleet_core.mavlink import MavCmd, MavFrame, MissionItem
from fleet_core.planning.types import MissionPlan, Waypoint, WaypointKind

_FRAME = int(MavFrame.GLOBAL_REL_ALT)
# DO_CHANGE_SPEED param1: 1 = ground speed.
_GROUND_SPEED = 1.0
# A line whose length is a whole number of photo spacings (to rounding) gets its last photo.
_WHOLE = 1e-9


def photo_lines(waypoints: Sequence[Waypoint]) -> list[tuple[int, int]]:
    """Return each photo line as (first, last) waypoint indexes, in flight order.

    A line is a run of consecutive waypoints whose way there is photographed
    (``Waypoint.photo``), with the waypoint before the run: the camera starts on reaching
    ``first`` and stops on reaching ``last``.
    """
    lines: list[tuple[int, int]] = []
    k = 0
    while k < len(waypoints):
        if not waypoints[k].photo:
            k += 1
            continue
        if k == 0:
            raise ValueError("waypoint 0 is marked as a photo leg, but no leg leads to it")
        first = k - 1
        while k + 1 < len(waypoints) and waypoints[k + 1].photo:
            k += 1
        lines.append((first, k))
        k += 1
    return lines


def photos_on_line(length_m: float, trigger_distance_m: float) -> int:
    """Return the photos a line of ``length_m`` takes at ``trigger_distance_m`` spacing.

    One at its start (DO_SET_CAM_TRIGG_DIST's "shoot once now"), then one each time the
    distance flown since the last photo reaches the spacing.
    """
    if not (math.isfinite(trigger_distance_m) and trigger_distance_m > 0):
        raise ValueError(f"trigger distance {trigger_distance_m!r} m is not a positive "
                         "distance")
    if not (math.isfinite(length_m) and length_m >= 0):
        raise ValueError(f"photo line length {length_m!r} m is not a distance >= 0")
    return 1 + math.floor(length_m / trigger_distance_m + _WHOLE)


def _item(command: MavCmd, lat: float = 0.0, lon: float = 0.0, alt: float = 0.0, *,
          p1: float = 0.0, p2: float = 0.0, p3: float = 0.0, p4: float = 0.0) -> MissionItem:
    return MissionItem(frame=_FRAME, command=int(command), is_current=False, autocontinue=True,
                       param1=p1, param2=p2, param3=p3, param4=p4,
                       x_lat=lat, y_long=lon, z_alt=alt)


def photo_count(xy: Sequence[tuple[float, float]], lines: Sequence[tuple[int, int]],
                trigger_distance_m: float) -> int:
    """Return the photos taken on ``lines`` of waypoints at ``xy`` (metres, a metric frame)."""
    return sum(photos_on_line(sum(math.dist(xy[k - 1], xy[k]) for k in range(a + 1, b + 1)),
                              trigger_distance_m) for a, b in lines)


def _trigger(distance_m: float) -> MissionItem:
    # param3 = 1: shoot once at once, as QGroundControl's survey asks at a line's start.
    return _item(MavCmd.DO_SET_CAM_TRIGG_DIST, p1=distance_m,
                 p3=1.0 if distance_m > 0 else 0.0)


def _convert(plan: MissionPlan, leg: int | None) -> tuple[list[MissionItem], list[int]]:
    if leg is None:
        if len(plan.legs) > 1:
            raise ValueError(f"the plan has {len(plan.legs)} legs (charging stops): convert "
                             "one leg at a time")
        leg = 0
    if not 0 <= leg < len(plan.legs):
        raise ValueError(f"leg {leg} is outside the plan's {len(plan.legs)} legs")
    part = plan.legs[leg]
    lines = photo_lines(plan.waypoints)
    trigger = plan.trigger_distance_m
    if lines and not (trigger is not None and math.isfinite(trigger) and trigger > 0):
        raise ValueError(f"waypoints {lines[0][0]}..{lines[0][1]} are a photo line but the "
                         f"plan's trigger distance is {trigger!r}, not a positive distance")
    starts = {first for first, _ in lines}
    ends = {last for _, last in lines}
    items: list[MissionItem] = []
    index: list[int] = []
    speed: float | None = None
    for k in range(part.start_index, part.end_index + 1):
        w = plan.waypoints[k]
        p = w.position
        if k == part.start_index and w.kind is not WaypointKind.TAKEOFF:
            raise ValueError(f"leg {leg} does not start with a take-off (waypoint {k} is "
                             f"{w.kind.value})")
        if w.kind is WaypointKind.TAKEOFF:
            items.append(_item(MavCmd.NAV_TAKEOFF, p.latitude, p.longitude, p.altitude))
            index.append(k)
            _camera(items, index, k, starts=starts, ends=ends, trigger=trigger)
            continue
        if w.speed_mps is not None and w.speed_mps != speed:
            speed = w.speed_mps
            items.append(_item(MavCmd.DO_CHANGE_SPEED, p1=_GROUND_SPEED, p2=speed, p3=-1.0))
            index.append(k)
        if w.kind in (WaypointKind.LAND, WaypointKind.CHARGE):
            items.append(_item(MavCmd.NAV_LAND, p.latitude, p.longitude, 0.0))
        elif w.kind is WaypointKind.LOITER:
            items.append(_item(MavCmd.NAV_LOITER_TIME, p.latitude, p.longitude, p.altitude,
                               p1=w.hold_s))
        else:
            items.append(_item(MavCmd.NAV_WAYPOINT, p.latitude, p.longitude, p.altitude,
                               p1=w.hold_s))
        index.append(k)
        _camera(items, index, k, starts=starts, ends=ends, trigger=trigger)
    first = items[0]
    items[0] = MissionItem(first.frame, first.command, True, first.autocontinue, first.param1,
                           first.param2, first.param3, first.param4, first.x_lat,
                           first.y_long, first.z_alt)
    return items, index


def _camera(items: list[MissionItem], index: list[int], k: int, *, starts: set[int],
            ends: set[int], trigger: float | None) -> None:
    """After waypoint ``k``'s item: stop the camera at a line's end, start it at a start.

    The camera items map to waypoint ``k``: reaching them means ``k`` was reached.
    """
    if k in ends:
        items.append(_trigger(0.0))
        index.append(k)
    if k in starts:
        assert trigger is not None
        items.append(_trigger(trigger))
        index.append(k)


def to_mission_items(plan: MissionPlan, *, leg: int | None = None) -> list[MissionItem]:
    """Return one leg's mission items (NAV_TAKEOFF first; frame GLOBAL_RELATIVE_ALT).

    A plan with charging stops is uploaded one leg at a time (each ends with NAV_LAND at the
    station); ``leg=None`` is allowed for a single-leg plan.
    """
    return _convert(plan, leg)[0]


def mission_item_map(plan: MissionPlan, *, leg: int | None = None) -> list[int]:
    """Return, for each mission item of ``to_mission_items``, its plan waypoint index.

    A DO_CHANGE_SPEED item maps to the waypoint it precedes, a DO_SET_CAM_TRIGG_DIST to the
    waypoint it follows; MAVROS reports reached items by item index, so this turns them back
    into plan progress.
    """
    return _convert(plan, leg)[1]
