"""rviz markers of the fleet in a local ENU frame ("fleet_map": x east, y north, z up, metres).

The frame's origin is fleet_manager's configured ``origin``; altitudes are relative to it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import shapely
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.fleet.model import OperatingStatus, VehicleState
from fleet_core.fleet.picture import Trails, VehicleView
from fleet_core.geo import LocalFrame, yaw_to_quaternion
from fleet_core.sim.config import ChargingPad

FRAME_ID = "fleet_map"

STATUS_COLORS: dict[OperatingStatus, tuple[float, float, float]] = {
    OperatingStatus.UNKNOWN: (0.6, 0.6, 0.6),
    OperatingStatus.IDLE: (0.2, 0.6, 1.0),
    OperatingStatus.IN_MISSION: (0.1, 0.85, 0.2),
    OperatingStatus.RETURNING: (1.0, 0.75, 0.0),
    OperatingStatus.CHARGING: (0.7, 0.3, 1.0),
    OperatingStatus.MAINTENANCE: (0.5, 0.35, 0.2),
    OperatingStatus.OFFLINE: (0.9, 0.1, 0.1),
}


def _color(rgb: tuple[float, float, float], alpha: float = 1.0) -> ColorRGBA:
    return ColorRGBA(r=float(rgb[0]), g=float(rgb[1]), b=float(rgb[2]), a=float(alpha))


def _marker(ns: str, mid: int, kind: int, stamp: object) -> Marker:
    m = Marker()
    m.header.frame_id = FRAME_ID
    m.header.stamp = stamp
    m.ns = ns
    m.id = mid
    m.type = kind
    m.action = Marker.ADD
    m.pose.orientation.w = 1.0
    m.lifetime = Duration(sec=5)  # markers of a vehicle that stops updating fade out
    return m


def fleet_markers(vehicles: Sequence[tuple[int, VehicleState, OperatingStatus]],
                  trails: Mapping[str, Iterable[tuple[float, float, float]]],
                  zones: Iterable[NoFlyZone], frame: LocalFrame, stamp: object, *,
                  pads: Iterable[ChargingPad] = (), stale_zones: int = 0) -> MarkerArray:
    """Build the fleet's markers: vehicles, labels, headings, trails, homes, no-fly zones,
    charging pads.

    ``vehicles`` pairs each state with a stable marker id and its status. Zone markers never
    expire (the zones are static), so ``stale_zones``, the number of zones drawn last time,
    says which ids to delete when the set shrank.
    """
    out = MarkerArray()
    zones = list(zones)
    for mid, v, status in vehicles:
        rgb = STATUS_COLORS[status]
        if v.home is not None:
            he, hn, hu = frame.to_enu(v.home)
            home = _marker("homes", mid, Marker.CYLINDER, stamp)
            home.pose.position = Point(x=float(he), y=float(hn), z=float(hu))
            home.scale.x = home.scale.y = 3.0
            home.scale.z = 0.1
            home.color = _color(rgb, 0.35)
            out.markers.append(home)
        if v.position is None:
            continue
        e, n, u = frame.to_enu(v.position)
        body = _marker("vehicles", mid, Marker.SPHERE, stamp)
        body.pose.position = Point(x=float(e), y=float(n), z=float(u))
        body.scale.x = body.scale.y = body.scale.z = 2.0
        body.color = _color(rgb)
        out.markers.append(body)
        label = _marker("labels", mid, Marker.TEXT_VIEW_FACING, stamp)
        label.pose.position = Point(x=float(e), y=float(n), z=float(u) + 3.0)
        battery = "?" if math.isnan(v.battery_percent) else f"{v.battery_percent:.0f}%"
        label.text = f"{v.vehicle_id} {battery} {v.mode or status.name.lower()}"
        label.scale.z = 2.0
        label.color = _color((1.0, 1.0, 1.0))
        out.markers.append(label)
        if math.isfinite(v.heading):
            arrow = _marker("headings", mid, Marker.ARROW, stamp)
            arrow.pose.position = body.pose.position
            x, y, z, w = yaw_to_quaternion(math.radians(90.0 - v.heading))
            o = arrow.pose.orientation
            o.x, o.y, o.z, o.w = x, y, z, w
            arrow.scale.x, arrow.scale.y, arrow.scale.z = 5.0, 0.5, 0.5
            arrow.color = _color(rgb)
            out.markers.append(arrow)
        points = [Point(x=float(a), y=float(b), z=float(c)) for a, b, c in trails.get(
            v.vehicle_id, ())]
        if len(points) >= 2:
            trail = _marker("trails", mid, Marker.LINE_STRIP, stamp)
            trail.points = points
            trail.scale.x = 0.4
            trail.color = _color(rgb, 0.6)
            out.markers.append(trail)
    for zid, zone in enumerate(zones):
        out.markers.append(_zone_marker(zid, zone, frame, stamp))
        out.markers.append(_zone_volume(zid, zone, frame, stamp))
    for zid in range(len(zones), stale_zones):
        for ns in ("no_fly_zones", "no_fly_volumes"):
            gone = _marker(ns, zid, Marker.LINE_LIST, stamp)
            gone.action = Marker.DELETE
            out.markers.append(gone)
    for pid, pad in enumerate(pads):
        e, n, u = frame.to_enu(pad.position)
        disc = _marker("charging_pads", pid, Marker.CYLINDER, stamp)
        disc.lifetime = Duration(sec=0)
        disc.pose.position = Point(x=float(e), y=float(n), z=float(u))
        disc.scale.x = disc.scale.y = float(2.0 * pad.radius_m)
        disc.scale.z = 0.2
        disc.color = _color((0.1, 0.5, 1.0), 0.8)
        out.markers.append(disc)
        name = _marker("charging_labels", pid, Marker.TEXT_VIEW_FACING, stamp)
        name.lifetime = Duration(sec=0)
        name.pose.position = Point(x=float(e), y=float(n), z=float(u) + 1.5)
        name.text = f"{pad.station_id}/{pad.index}"
        name.scale.z = 1.2
        name.color = _color((0.6, 0.8, 1.0))
        out.markers.append(name)
    return out


def _zone_marker(mid: int, zone: NoFlyZone, frame: LocalFrame, stamp: object) -> Marker:
    """Return the zone as a wireframe prism from its floor to its ceiling."""
    m = _marker("no_fly_zones", mid, Marker.LINE_LIST, stamp)
    m.lifetime = Duration(sec=0)
    ring = [frame.to_enu(p)[:2] for p in zone.polygon]
    lo, hi = float(zone.floor_m), float(min(zone.ceiling_m, 500.0))
    for i, (e, n) in enumerate(ring):
        e2, n2 = ring[(i + 1) % len(ring)]
        for z in (lo, hi):
            m.points.extend([Point(x=float(e), y=float(n), z=z),
                             Point(x=float(e2), y=float(n2), z=z)])
        m.points.extend([Point(x=float(e), y=float(n), z=lo), Point(x=float(e), y=float(n), z=hi)])
    m.scale.x = 0.8
    m.color = _color((1.0, 0.1, 0.1), 0.8)
    m.text = zone.name
    return m


def _zone_volume(mid: int, zone: NoFlyZone, frame: LocalFrame, stamp: object) -> Marker:
    """Return the zone as a translucent solid: walls and caps as a triangle list.

    The caps are a constrained Delaunay triangulation (shapely), right for concave zones.
    """
    m = _marker("no_fly_volumes", mid, Marker.TRIANGLE_LIST, stamp)
    m.lifetime = Duration(sec=0)
    ring = [frame.to_enu(p)[:2] for p in zone.polygon]
    lo, hi = float(zone.floor_m), float(min(zone.ceiling_m, 500.0))
    pts = m.points
    for i, (e, n) in enumerate(ring):
        e2, n2 = ring[(i + 1) % len(ring)]
        a, b = Point(x=float(e), y=float(n), z=lo), Point(x=float(e2), y=float(n2), z=lo)
        c, d = Point(x=float(e2), y=float(n2), z=hi), Point(x=float(e), y=float(n), z=hi)
        pts.extend([a, b, c, a, c, d])
    triangles = shapely.constrained_delaunay_triangles(shapely.Polygon(ring))
    for tri in shapely.get_parts(triangles):
        corners = list(tri.exterior.coords)[:3]
        for z in (lo, hi):
            pts.extend(Point(x=float(x), y=float(y), z=z) for x, y in corners)
    m.scale.x = m.scale.y = m.scale.z = 1.0
    m.color = _color((1.0, 0.1, 0.1), 0.25)
    return m


class FleetMarkers:
    """The fleet's markers with what persists between drawings: each vehicle's marker id
    (stable for the node's life), the trails, and how many zones were drawn last time."""

    def __init__(self, frame: LocalFrame, pads: Iterable[ChargingPad] = ()) -> None:
        self.trails = Trails(frame)
        self._pads = tuple(pads)
        self._ids: dict[str, int] = {}
        self._zones_drawn = 0

    def record(self, views: Iterable[VehicleView]) -> None:
        """Extend the trails; done whether or not anyone watches, so that a late rviz
        still sees where the vehicles have been."""
        for view in views:
            self.trails.record(view.state)

    def draw(self, views: Iterable[VehicleView], zones: Sequence[NoFlyZone],
             stamp: object) -> MarkerArray:
        """Build the markers of ``views`` and ``zones``."""
        rows = [(self._ids.setdefault(v.state.vehicle_id, len(self._ids)), v.state, v.status)
                for v in views]
        out = fleet_markers(rows, self.trails.points, zones, self.trails.frame, stamp,
                            pads=self._pads, stale_zones=self._zones_drawn)
        self._zones_drawn = len(zones)
        return out

    def forget(self, vehicle_id: str) -> None:
        """Drop a removed vehicle's trail (its marker id stays reserved)."""
        self.trails.forget(vehicle_id)
