"""The planner's fleet: registry entries, wind, zones, the plan a mission is queued with."""

from __future__ import annotations

import math

import pytest

from fleet_core.execution.model import FleetVehicle
from fleet_core.execution.planning import demand
from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.fleet.model import VehicleSpec
from fleet_core.planning import WaypointKind, parse_request

from .helpers import STATION, at, emergency_spec, fleet, patrol_spec, survey_spec


@pytest.mark.parametrize(("pct", "wh"), [(50.0, 111.0), (math.nan, 0.0), (-5.0, 0.0)])
def test_a_vehicles_energy_is_its_share_of_the_battery_and_0_when_unknown(
        pct: float, wh: float) -> None:
    v = FleetVehicle(VehicleSpec("uav0", "/uav0/mavros"), battery_pct=pct)
    assert v.energy_wh == pytest.approx(wh)


def test_a_vehicle_the_configuration_does_not_list_gets_a_default_registry_entry() -> None:
    f = fleet({})
    spec = f.planning.spec("uav7")
    assert (spec.vehicle_id, spec.mavros_prefix) == ("uav7", "/uav7/mavros")
    assert f.planning.specs["uav7"] is spec


def test_a_vehicle_discovered_with_a_model_is_registered_with_it() -> None:
    f = fleet({})
    v = f.planning.vehicle("fw1", model="fixed_wing", home_site="north")
    assert (v.spec.model, v.spec.home_site) == ("fixed_wing", "north")
    assert f.planning.vehicle("fw1") is v
    assert math.isnan(v.battery_pct)


def test_a_configured_vehicle_keeps_its_registry_entry_whatever_is_reported() -> None:
    f = fleet({"uav0": (0.0, 0.0)}, capacity_wh=40.0)
    v = f.planning.vehicle("uav0", model="fixed_wing")
    assert (v.spec.model, v.spec.battery_capacity_wh) == ("multirotor", 40.0)


def test_the_typical_vehicle_is_the_first_that_carries_the_payload() -> None:
    f = fleet({})
    assert f.planning.typical_spec().vehicle_id == "typical"
    f.planning.specs["light"] = VehicleSpec("light", "/light/mavros")
    f.planning.specs["heavy"] = VehicleSpec("heavy", "/heavy/mavros", max_payload_kg=5.0)
    assert f.planning.typical_spec().vehicle_id == "light"
    assert f.planning.typical_spec(2.0).vehicle_id == "heavy"
    assert f.planning.typical_spec(50.0).vehicle_id == "light"  # nobody can: the first


@pytest.mark.parametrize(("speed", "direction"), [(math.nan, 0.0), (-1.0, 0.0),
                                                  (5.0, math.inf)])
def test_an_unusable_wind_report_is_ignored_and_the_last_one_kept(
        speed: float, direction: float) -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    f.planning.observe_wind(3.0, 90.0, f.clock())
    why = f.planning.observe_wind(speed, direction, f.clock())
    assert why.startswith("ignored wind observation: speed")
    wind = f.planning.current_wind(f.clock())
    assert wind is not None
    assert wind.speed_mps == 3.0


def test_a_wind_direction_is_kept_within_a_turn() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    assert f.planning.observe_wind(3.0, 450.0, f.clock()) == ""
    wind = f.planning.current_wind(f.clock())
    assert wind is not None
    assert wind.direction_deg == 90.0


def test_no_vehicle_is_grounded_without_a_wind_report_or_below_the_limit() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    assert f.planning.grounded_by_wind(f.clock()) == {}
    f.planning.observe_wind(12.0, 0.0, f.clock())  # at the limit: still flies
    assert f.planning.grounded_by_wind(f.clock()) == {}
    f.planning.observe_wind(12.5, 0.0, f.clock())
    assert f.planning.grounded_by_wind(f.clock()) == {"uav0": "by wind 12.5 m/s"}


def test_the_planning_context_carries_the_settings_zones_wind_and_stations() -> None:
    f = fleet({"uav0": (0.0, 0.0)}, stations=[STATION],
              planner={"reserve_percent": 25.0, "zone_margin_m": 5.0})
    f.planning.observe_wind(3.0, 90.0, f.clock())
    ctx = f.planning.context(at(0.0), "uav0", f.clock(), energy_wh=50.0)
    assert ctx.vehicle is f.planning.specs["uav0"]
    assert (ctx.reserve_pct, ctx.zone_margin_m, ctx.available_energy_wh) == (25.0, 5.0, 50.0)
    assert ctx.wind is f.planning.wind
    assert [sid for sid, _ in ctx.charging_stations] == ["pad_a"]
    assert ctx.no_fly_zones is f.planning.zones


def zone(zone_id: str) -> NoFlyZone:
    return NoFlyZone(zone_id, zone_id, (at(100, -60), at(160, -60), at(160, 60), at(100, 60)))


def test_zones_are_taken_and_a_change_is_told() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    assert f.planning.take_zones([zone("fire")]) == "1 no-fly zones in force (fire)"
    assert f.planning.take_zones([zone("fire")]) == ""
    assert f.planning.take_zones([]) == "0 no-fly zones in force (none)"


def test_an_invalid_zone_is_refused_and_the_zones_in_force_kept() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    f.planning.take_zones([zone("fire")])
    with pytest.raises(ValueError, match="id"):
        f.planning.take_zones([zone("")])
    assert [z.zone_id for z in f.planning.zones] == ["fire"]


def test_a_plan_goes_around_a_zone_in_force_and_refuses_a_target_inside_it() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    straight = f.executor.preview(emergency_spec(300.0, 0.0), None)
    f.planning.take_zones([zone("fire")])
    around = f.executor.preview(emergency_spec(300.0, 0.0), None)
    assert around.distance_m > straight.distance_m + 20.0
    with pytest.raises(Exception, match="fire"):
        f.executor.preview(emergency_spec(130.0, 0.0), None)


def test_a_preview_plans_from_the_vehicle_or_else_from_the_fleet_origin() -> None:
    f = fleet({"uav0": (200.0, 0.0)})
    request = parse_request(emergency_spec(200.0, 50.0))
    near = f.planning.preview(request, "uav0", f.clock())
    typical = f.planning.preview(request, None, f.clock())
    assert near.distance_m < typical.distance_m


def test_a_big_unpinned_survey_is_queued_whole_to_be_split_when_two_vehicles_could_share(
        ) -> None:
    f = fleet({"uav0": (0.0, 0.0), "uav1": (0.0, 10.0)}, capacity_wh=40.0,
              stations=[STATION])
    request = parse_request(survey_spec(size=200.0, east=20.0))
    plan, whole = f.planning.queue_plan(request, None, 2, f.clock())
    assert whole
    assert len(plan.legs) == 1  # one imaginary battery: no charging stops
    alone_plan, alone = f.planning.queue_plan(request, None, 1, f.clock())
    assert not alone
    assert len(alone_plan.legs) >= 2
    pinned_plan, pinned = f.planning.queue_plan(request, "uav0", 2, f.clock())
    assert not pinned
    assert len(pinned_plan.legs) >= 2  # its own vehicle, charging on the way


def test_a_big_survey_is_not_split_when_large_surveys_charge() -> None:
    f = fleet({"uav0": (0.0, 0.0), "uav1": (0.0, 10.0)}, capacity_wh=40.0,
              stations=[STATION], planner={"large_surveys": "charge"})
    request = parse_request(survey_spec(size=200.0, east=20.0))
    plan, whole = f.planning.queue_plan(request, None, 2, f.clock())
    assert not whole
    assert len(plan.legs) >= 2  # charging stops on the way


def test_a_small_survey_is_not_split() -> None:
    f = fleet({"uav0": (0.0, 0.0), "uav1": (0.0, 10.0)})
    _, whole = f.planning.queue_plan(parse_request(survey_spec()), None, 2, f.clock())
    assert not whole


def test_a_demand_starts_at_the_first_work_waypoint_and_needs_per_charge_its_biggest_leg(
        ) -> None:
    f = fleet({"uav0": (0.0, 0.0)}, capacity_wh=25.0, max_range_m=1500.0, stations=[STATION])
    request = parse_request(patrol_spec([(0.0, 100.0), (400.0, 100.0)], repeat=2))
    plan = f.planning.preview(request, "uav0", f.clock())
    assert len(plan.legs) >= 2
    first_work = next(w for w in plan.waypoints
                      if w.kind not in (WaypointKind.TAKEOFF, WaypointKind.TRANSIT))
    per_leg = demand(plan, request)
    assert per_leg.start == first_work.position
    assert per_leg.end == plan.waypoints[-1].position
    assert per_leg.energy_wh == max(leg.energy_wh for leg in plan.legs)
    assert per_leg.distance_m == max(leg.distance_m for leg in plan.legs)
    assert not per_leg.splittable
    whole = demand(plan, request, whole=True)
    assert (whole.energy_wh, whole.distance_m) == (plan.energy_wh, plan.distance_m)


def test_a_survey_demand_is_splittable() -> None:
    f = fleet({"uav0": (0.0, 0.0)})
    request = parse_request(survey_spec())
    assert demand(f.planning.preview(request, None, f.clock()), request).splittable
