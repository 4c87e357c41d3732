"""Plans as MAVROS mission items, the way PX4 and fleet_core.sim accept them."""

from __future__ import annotations

from fleet_core.mavlink import MavCmd, MavFrame, MissionItem
from fleet_core.planning.types import MissionPlan, WaypointKind

_FRAME = int(MavFrame.GLOBAL_REL_ALT)
# DO_CHANGE_SPEED param1: 1 = ground speed.
_GROUND_SPEED = 1.0


def _item(command: MavCmd, lat: float = 0.0, lon: float = 0.0, alt: float = 0.0, *,
          p1: float = 0.0, p2: float = 0.0, p3: float = 0.0, p4: float = 0.0) -> MissionItem:
    return MissionItem(frame=_FRAME, command=int(command), is_current=False, autocontinue=True,
                       param1=p1, param2=p2, param3=p3, param4=p4,
                       x_lat=lat, y_long=lon, z_alt=alt)


def _convert(plan: MissionPlan, leg: int | None) -> tuple[list[MissionItem], list[int]]:
    if leg is None:
        if len(plan.legs) > 1:
            raise ValueError(f"the plan has {len(plan.legs)} legs (charging stops): convert "
                             "one leg at a time")
        leg = 0
    if not 0 <= leg < len(plan.legs):
        raise ValueError(f"leg {leg} is outside the plan's {len(plan.legs)} legs")
    part = plan.legs[leg]
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
    first = items[0]
    items[0] = MissionItem(first.frame, first.command, True, first.autocontinue, first.param1,
                           first.param2, first.param3, first.param4, first.x_lat,
                           first.y_long, first.z_alt)
    return items, index


def to_mission_items(plan: MissionPlan, *, leg: int | None = None) -> list[MissionItem]:
    """Return one leg's mission items (NAV_TAKEOFF first; frame GLOBAL_RELATIVE_ALT).

    A plan with charging stops is uploaded one leg at a time (each ends with NAV_LAND at the
    station); ``leg=None`` is allowed for a single-leg plan.
    """
    return _convert(plan, leg)[0]


def mission_item_map(plan: MissionPlan, *, leg: int | None = None) -> list[int]:
    """Return, for each mission item of ``to_mission_items``, its plan waypoint index.

    A DO_CHANGE_SPEED item maps to the waypoint it precedes; MAVROS reports reached items
    by item index, so this turns them back into plan progress.
    """
    return _convert(plan, leg)[1]
