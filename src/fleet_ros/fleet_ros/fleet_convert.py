"""Conversions between fleet_interfaces messages and fleet_core.fleet types."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from diagnostic_msgs.msg import KeyValue as DiagnosticValue
from geographic_msgs.msg import GeoPoint as GeoPointMsg
from geographic_msgs.msg import GeoPoseStamped, KeyValue

from fleet_core.dispatch.state import MissionState
from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.fleet.events import Event
from fleet_core.fleet.model import Liveness, VehicleState
from fleet_core.fleet.picture import DiagnosticReport, VehicleView, counts_by_status
from fleet_core.geo import GeoPoint, yaw_to_quaternion
from fleet_interfaces.msg import (
    CoordinationEvent,
    FleetStatus,
    HealthFlags,
    MissionStatusArray,
    NoFlyZoneArray,
    VehicleStatus,
)
from fleet_interfaces.msg import NoFlyZone as NoFlyZoneMsg


def to_time(seconds: float) -> Time:
    """Convert POSIX seconds to builtin_interfaces/Time."""
    sec = math.floor(seconds)
    return Time(sec=int(sec), nanosec=int((seconds - sec) * 1e9))


def from_time(t: Time) -> float:
    """Convert builtin_interfaces/Time to POSIX seconds."""
    return float(t.sec) + float(t.nanosec) * 1e-9


def geo_msg(p: GeoPoint | None) -> GeoPointMsg:
    """Convert a GeoPoint (None → all NaN, the geographic_msgs convention for unknown)."""
    if p is None:
        return GeoPointMsg(latitude=math.nan, longitude=math.nan, altitude=math.nan)
    return GeoPointMsg(latitude=float(p.latitude), longitude=float(p.longitude),
                       altitude=float(p.altitude))


def vehicle_status_msg(view: VehicleView) -> VehicleStatus:
    """Convert a vehicle's state to fleet_interfaces/VehicleStatus."""
    v, status, liveness, gps_ok = view.state, view.status, view.liveness, view.gps_ok
    return VehicleStatus(
        vehicle_id=v.vehicle_id, stamp=to_time(v.last_seen or 0.0), status=int(status),
        liveness=int(liveness), autopilot_mode=v.mode, armed=v.armed,
        landed_state=int(v.landed_state), battery_percent=float(v.battery_percent),
        battery_voltage=float(v.battery_voltage), battery_current=float(v.battery_current),
        position=geo_msg(v.position), relative_altitude=float(v.relative_altitude),
        heading=float(v.heading), ground_speed=float(v.ground_speed), home=geo_msg(v.home),
        current_mission_id=v.current_mission_id, last_reached_item=int(v.last_reached_item),
        model=v.spec.model, home_site=v.spec.home_site,
        health=HealthFlags(gps_ok=gps_ok, estimator_ok=v.estimator_ok,
                           sensors_ok=v.sensors_ok, motors_ok=v.motors_ok,
                           battery_ok=not (v.battery_percent <= 5.0),
                           link_ok=liveness is Liveness.FRESH, warnings=list(v.warnings)),
    )


def fleet_status_msg(views: Sequence[VehicleView], statuses: Sequence[VehicleStatus],
                     stamp: Time) -> FleetStatus:
    """Build /fleet/status from each vehicle's view and its VehicleStatus message."""
    return FleetStatus(stamp=stamp, vehicles=list(statuses),
                       counts_by_status=counts_by_status(views))


def diagnostics_msg(reports: Iterable[DiagnosticReport], stamp: Time) -> DiagnosticArray:
    """Convert health reports to diagnostic_msgs/DiagnosticArray."""
    diag = DiagnosticArray()
    diag.header.stamp = stamp
    diag.status = [DiagnosticStatus(
        level=bytes([r.level]), name=r.name, hardware_id=r.hardware_id,
        message=r.message, values=[DiagnosticValue(key=k, value=v) for k, v in r.values])
        for r in reports]
    return diag


def current_missions_from_msg(msg: MissionStatusArray) -> dict[str, str]:
    """Return vehicle id -> the mission that holds it, from /fleet/missions."""
    current = {}
    for m in msg.missions:
        try:
            state = MissionState(m.state)
        except ValueError:
            continue  # a state this code does not know holds no vehicle it could name
        if m.vehicle_id and state.holds_vehicle:
            current[m.vehicle_id] = m.mission_id
    return current


def geopose_msg(v: VehicleState, frame_id: str = "earth") -> GeoPoseStamped | None:
    """Convert a vehicle's position and heading to GeoPoseStamped (None without a fix)."""
    if v.position is None:
        return None
    msg = GeoPoseStamped()
    msg.header.stamp = to_time(v.position_time or 0.0)
    msg.header.frame_id = frame_id
    msg.pose.position = geo_msg(v.position)
    yaw = math.radians(90.0 - v.heading) if math.isfinite(v.heading) else 0.0
    x, y, z, w = yaw_to_quaternion(yaw)
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = x, y, z, w
    return msg


def event_msg(e: Event) -> CoordinationEvent:
    """Convert a domain Event to fleet_interfaces/CoordinationEvent."""
    return CoordinationEvent(
        id=e.event_id, type=int(e.type), stamp=to_time(e.stamp), vehicle_ids=list(e.vehicle_ids),
        severity=int(e.severity),
        state=CoordinationEvent.STATE_RESOLVED if e.resolved else CoordinationEvent.STATE_OPEN,
        resolution=e.resolution, data=[KeyValue(key=k, value=v) for k, v in e.data])


def zone_from_msg(m: NoFlyZoneMsg) -> NoFlyZone:
    """Convert fleet_interfaces/NoFlyZone (a zero time means no bound)."""
    start = from_time(m.active_from)
    end = from_time(m.active_until)
    return NoFlyZone(
        zone_id=m.id, name=m.name or m.id,
        polygon=tuple(GeoPoint(p.latitude, p.longitude, p.altitude) for p in m.polygon),
        floor_m=float(m.altitude_floor), ceiling_m=float(m.altitude_ceiling),
        active_from=start or None, active_until=end or None)


def zone_msg(z: NoFlyZone) -> NoFlyZoneMsg:
    """Convert a domain NoFlyZone to fleet_interfaces/NoFlyZone (no bound → zero time)."""
    return NoFlyZoneMsg(
        id=z.zone_id, name=z.name,
        polygon=[GeoPointMsg(latitude=float(p.latitude), longitude=float(p.longitude),
                             altitude=float(p.altitude)) for p in z.polygon],
        altitude_floor=float(z.floor_m), altitude_ceiling=float(z.ceiling_m),
        active_from=to_time(z.active_from or 0.0), active_until=to_time(z.active_until or 0.0))


def zones_msg(zones: list[NoFlyZone], now: float) -> NoFlyZoneArray:
    """Build the /fleet/no_fly_zones message of the zones in force."""
    return NoFlyZoneArray(stamp=to_time(now), zones=[zone_msg(z) for z in zones])


def zones_from_msg(m: NoFlyZoneArray) -> list[NoFlyZone]:
    """Convert /fleet/no_fly_zones; a bad zone raises ValueError naming it."""
    return [zone_from_msg(z) for z in m.zones]
