"""Planning for the fleet: which vehicle a plan is made for, from where, with what energy.

The planner's own rules around ``fleet_core.planning``: the context a plan is made in (the
zones in force, a wind report young enough to trust, the stations), the "typical" vehicle a
preview is planned for, and what the dispatcher needs from a plan (a ``Demand``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fleet_core.dispatch.demand import Demand
from fleet_core.execution.model import FleetVehicle
from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.fleet.config import FleetSettings
from fleet_core.fleet.model import VehicleSpec
from fleet_core.geo import GeoPoint
from fleet_core.missions_config import PlannerSettings
from fleet_core.planning import (
    MissionPlan,
    MissionRequest,
    MissionType,
    PlanningContext,
    WaypointKind,
    WindReport,
    plan_mission,
)


@dataclass(slots=True)
class FleetPlanning:
    """The settings, registry, zones, wind and fleet picture plans are made from."""

    settings: PlannerSettings
    fleet_settings: FleetSettings
    specs: dict[str, VehicleSpec] = field(default_factory=dict)
    zones: list[NoFlyZone] = field(default_factory=list)
    wind: WindReport | None = None
    vehicles: dict[str, FleetVehicle] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: PlannerSettings,
                      fleet_settings: FleetSettings) -> FleetPlanning:
        """Start from the configured vehicles and no-fly zones."""
        return cls(settings, fleet_settings,
                   specs={v.vehicle_id: v for v in fleet_settings.vehicles},
                   zones=list(fleet_settings.no_fly_zones))

    def spec(self, vehicle_id: str) -> VehicleSpec:
        """Return a vehicle's registry entry (a default one for a discovered vehicle)."""
        spec = self.specs.get(vehicle_id)
        if spec is None:
            spec = self.specs[vehicle_id] = VehicleSpec(vehicle_id, f"/{vehicle_id}/mavros")
        return spec

    def vehicle(self, vehicle_id: str, *, model: str = "", home_site: str = "") -> FleetVehicle:
        """Return (adding on first sight) a vehicle of the fleet picture.

        A vehicle the configuration does not list but fleet_manager reports with a model was
        discovered there: its registry entry comes from that report.
        """
        v = self.vehicles.get(vehicle_id)
        if v is None:
            if vehicle_id not in self.specs and model:
                self.specs[vehicle_id] = VehicleSpec(vehicle_id, f"/{vehicle_id}/mavros",
                                                     model=model, home_site=home_site)
            v = self.vehicles[vehicle_id] = FleetVehicle(self.spec(vehicle_id))
        return v

    def take_zones(self, zones: list[NoFlyZone]) -> str:
        """Plan around ``zones`` from now on (ValueError for an invalid one, nothing taken);
        return what changed, or "" when they are the zones in force already."""
        for z in zones:
            z.validate()
        news = "" if zones == self.zones else (
            f"{len(zones)} no-fly zones in force "
            f"({', '.join(z.zone_id for z in zones) or 'none'})")
        self.zones = zones
        return news

    # ------------------------------------------------------------------ wind
    def observe_wind(self, speed_mps: float, direction_deg: float, now: float) -> str:
        """Take a wind report; return "" or why it was ignored."""
        if not (math.isfinite(speed_mps) and speed_mps >= 0 and math.isfinite(direction_deg)):
            return f"ignored wind observation: speed {speed_mps}, direction {direction_deg}"
        self.wind = WindReport(speed_mps, direction_deg % 360.0, now)
        return ""

    def current_wind(self, now: float) -> WindReport | None:
        """The last wind report, unless the station has been quiet too long to trust it."""
        w = self.wind
        if w is None or now - w.observed_at > self.settings.wind_max_age_s:
            return None
        return w

    def grounded_by_wind(self, now: float) -> dict[str, str]:
        """The vehicles the reported wind is above the limit of, and why: no new work until
        it drops.

        A storm that arrives after a mission was queued keeps the mission waiting (with the
        reason) instead of failing it when it is planned for a vehicle.
        """
        wind = self.current_wind(now)
        if wind is None:
            return {}
        default = self.settings.max_wind_mps
        why = f"by wind {wind.speed_mps:.1f} m/s"
        return {vid: why for vid, v in self.vehicles.items()
                if wind.speed_mps > (default if v.spec.max_wind_mps is None
                                     else v.spec.max_wind_mps)}

    # ------------------------------------------------------------------ plans
    def context(self, start: GeoPoint, vehicle_id: str | None, now: float,
                home: GeoPoint | None = None, energy_wh: float | None = None, *,
                energy_limit: bool = True, payload_kg: float = 0.0) -> PlanningContext:
        """Build the planning context for a vehicle (or a typical one) at ``start``."""
        spec = self.spec(vehicle_id) if vehicle_id else self.typical_spec(payload_kg)
        s = self.settings
        return PlanningContext(
            start=start, vehicle=spec, home=home, available_energy_wh=energy_wh,
            no_fly_zones=self.zones, now=now, wind=self.current_wind(now), library=s.library,
            charging_stations=[(st.station_id, st.position) for st in s.stations],
            reserve_pct=s.reserve_percent, max_wind_mps=s.max_wind_mps,
            zone_margin_m=s.zone_margin_m, min_waypoint_spacing_m=s.min_waypoint_spacing_m,
            energy_limit=energy_limit)

    def typical_spec(self, payload_kg: float = 0.0) -> VehicleSpec:
        """The registry entry planned for when no vehicle is named: the first one (configured
        first, then discovered) that can carry ``payload_kg``, else the first.

        A delivery only some of the fleet can lift must not be refused because the first
        vehicle is a light one; the dispatcher then gives it to a vehicle that carries it.
        """
        fallback = VehicleSpec("typical", "/typical/mavros")
        for spec in self.specs.values():
            if spec.max_payload_kg >= payload_kg:
                return spec
        return next(iter(self.specs.values()), fallback)

    def preview(self, request: MissionRequest, vehicle_id: str | None, now: float, *,
                energy_limit: bool = True) -> MissionPlan:
        """Plan from a vehicle's position, or from the fleet origin for a typical vehicle."""
        v = self.vehicles.get(vehicle_id or "")
        start = v.position if v is not None and v.position is not None else \
            self.fleet_settings.origin
        home = v.home if v else None
        return plan_mission(request, self.context(start, vehicle_id, now, home,
                                                  energy_limit=energy_limit,
                                                  payload_kg=request.payload_kg))

    def queue_plan(self, request: MissionRequest, pinned: str | None, candidates: int,
                   now: float) -> tuple[MissionPlan, bool]:
        """The plan a mission is queued with, and whether it is to be shared out.

        With ``large_surveys: split`` and two or more ``candidates`` (vehicles the dispatcher
        could give work to), an unpinned survey is planned whole, on one imaginary battery;
        when that is more than a battery holds, it is queued with all of its energy, so that
        the dispatcher splits it into parts that each fit one charge (with or without
        charging stations). Otherwise a vehicle flies it alone, stopping at stations when it
        must.
        """
        if (pinned is None and self.settings.large_surveys == "split"
                and request.mission_type is MissionType.SURVEY and candidates >= 2):
            whole = self.preview(request, None, now, energy_limit=False)
            over = (whole.energy_wh + whole.reserve_wh
                    > self.typical_spec(request.payload_kg).battery_capacity_wh)
            return whole, over
        # A pinned mission is planned for its own vehicle when the fleet knows it yet.
        return self.preview(request, pinned if pinned in self.vehicles else None, now), False


def demand(plan: MissionPlan, request: MissionRequest, *, whole: bool = False) -> Demand:
    """What allocation needs from a plan: where the work starts and what it costs.

    A plan with charging stops needs, per charge, its biggest leg; with ``whole`` it counts
    all of its energy instead, so that the dispatcher, finding no vehicle that carries that
    much, splits the survey among vehicles.
    """
    work = [w for w in plan.waypoints
            if w.kind not in (WaypointKind.TAKEOFF, WaypointKind.TRANSIT)]
    first = work[0].position if work else plan.waypoints[-1].position
    per_leg = bool(plan.legs) and not whole
    # Range, like energy, is needed per charge: a plan with charging stops may fly further
    # in all than one battery reaches.
    energy = max(leg.energy_wh for leg in plan.legs) if per_leg else plan.energy_wh
    distance = max(leg.distance_m for leg in plan.legs) if per_leg else plan.distance_m
    return Demand(start=first, end=plan.waypoints[-1].position,
                  distance_m=distance, duration_s=plan.duration_s,
                  energy_wh=energy, reserve_wh=plan.reserve_wh,
                  payload_kg=request.payload_kg,
                  splittable=request.mission_type is MissionType.SURVEY)
