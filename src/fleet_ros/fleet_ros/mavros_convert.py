"""Conversions between mavros_msgs messages and fleet_core types (the one place for them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mavros_msgs.msg import Waypoint

from fleet_core.mavlink import MissionItem


def waypoint_to_item(wp: Waypoint) -> MissionItem:
    """Convert a mavros_msgs/Waypoint to a MissionItem."""
    return MissionItem(
        frame=int(wp.frame), command=int(wp.command), is_current=bool(wp.is_current),
        autocontinue=bool(wp.autocontinue), param1=float(wp.param1), param2=float(wp.param2),
        param3=float(wp.param3), param4=float(wp.param4), x_lat=float(wp.x_lat),
        y_long=float(wp.y_long), z_alt=float(wp.z_alt),
    )


def item_to_waypoint(item: MissionItem, *, is_current: bool | None = None) -> Waypoint:
    """Convert a MissionItem to a mavros_msgs/Waypoint."""
    return Waypoint(
        frame=item.frame, command=item.command,
        is_current=item.is_current if is_current is None else is_current,
        autocontinue=item.autocontinue, param1=item.param1, param2=item.param2,
        param3=item.param3, param4=item.param4, x_lat=item.x_lat, y_long=item.y_long,
        z_alt=item.z_alt,
    )


def items_to_waypoints(items: Sequence[MissionItem], current: int) -> list[Waypoint]:
    """Convert a mission, marking item ``current`` as the current one."""
    return [item_to_waypoint(it, is_current=i == current) for i, it in enumerate(items)]


def waypoints_to_items(waypoints: Iterable[Waypoint]) -> list[MissionItem]:
    """Convert a list of mavros_msgs/Waypoint."""
    return [waypoint_to_item(wp) for wp in waypoints]
