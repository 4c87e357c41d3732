"""Builders shared by the dispatch tests: points in metres, vehicles, demands, missions."""

from __future__ import annotations

from fleet_core.dispatch.allocation import VehicleCandidate
from fleet_core.dispatch.demand import Demand
from fleet_core.dispatch.state import MissionKind, MissionRecord
from fleet_core.fleet.model import OperatingStatus, VehicleSpec
from fleet_core.geo import GeoPoint, LocalFrame

FRAME = LocalFrame.at(GeoPoint(47.4, 8.5))


def at(east: float, north: float = 0.0) -> GeoPoint:
    """Return the point ``east``, ``north`` metres from the test origin."""
    return FRAME.to_geo(east, north, 0.0)


def vehicle(vehicle_id: str, east: float, north: float = 0.0, *, energy_wh: float = 100.0,
            capacity_wh: float = 100.0, max_range_m: float = 10_000.0, payload_kg: float = 0.0,
            model: str = "multirotor", site: str | None = None,
            status: OperatingStatus = OperatingStatus.IDLE, fresh: bool = True,
            cruise_speed: float = 10.0) -> VehicleCandidate:
    """Return a vehicle candidate; by default 100 Wh for 10 km: 0.01 Wh per metre."""
    spec = VehicleSpec(vehicle_id, f"/{vehicle_id}/mavros", model=model,
                       max_payload_kg=payload_kg, max_range_m=max_range_m,
                       cruise_speed=cruise_speed, battery_capacity_wh=capacity_wh,
                       home_site=site or "")
    return VehicleCandidate(vehicle_id, at(east, north), 100.0 * energy_wh / capacity_wh,
                            energy_wh, spec, status, fresh, site)


def demand(east: float = 0.0, north: float = 0.0, *, energy_wh: float = 10.0,
           distance_m: float = 1000.0, reserve_wh: float = 10.0, payload_kg: float = 0.0,
           site: str | None = None, model: str | None = None,
           splittable: bool = False) -> Demand:
    """Return a demand starting and ending at ``east``, ``north``."""
    return Demand(at(east, north), at(east, north), distance_m, distance_m / 10.0, energy_wh,
                  reserve_wh, payload_kg, site, model, splittable)


def mission(mission_id: str, priority: int = 5, *, kind: MissionKind = MissionKind.SURVEY,
            scheduled_at: float | None = None, not_after: float | None = None,
            need: Demand | None = None) -> MissionRecord:
    """Return a planned mission record."""
    return MissionRecord(mission_id, priority, kind, need or demand(),
                         scheduled_at=scheduled_at, not_after=not_after, created_by="tester")
