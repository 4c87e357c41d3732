"""Payload, wind, battery range with charging stops, and time windows."""

from __future__ import annotations

import dataclasses

import pytest

from fleet_core.fleet.model import VehicleSpec
from fleet_core.planning import (
    PlanningContext,
    PlanningError,
    WaypointKind,
    WindReport,
    parse_request,
    plan_mission,
)
from fleet_core.planning.energy import EnergyModel
from fleet_core.sim.config import BatterySpec

from .conftest import FRAME, VEHICLE, pos


def delivery(payload: float = 1.0, far: float = 1500.0, **kw: object) -> dict[str, object]:
    spec: dict[str, object] = {"type": "delivery", "altitude_m": 40, "pickup": pos(0, 100),
                               "dropoff": pos(far, 100), "payload_kg": payload}
    spec.update(kw)
    return spec


def context(**kw: object) -> PlanningContext:
    base = PlanningContext(start=FRAME.to_geo(0, 0, 0), vehicle=VEHICLE, now=1000.0)
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_a_delivery_over_the_vehicles_payload_limit_is_rejected() -> None:
    with pytest.raises(PlanningError, match=r"payload 2.5 kg exceeds vehicle 'uav0'.*2 kg"):
        plan_mission(parse_request(delivery(2.5)), context())


def test_wind_over_the_limit_is_rejected() -> None:
    ctx = context(wind=WindReport(14.0, 270.0, 990.0))
    with pytest.raises(PlanningError, match=r"wind 14.0 m/s exceeds .* 12.0 m/s"):
        plan_mission(parse_request(delivery()), ctx)


def test_a_vehicle_with_its_own_wind_limit_is_judged_by_it() -> None:
    short = delivery(far=200.0)
    gusty = WindReport(12.5, 270.0, 990.0)
    with pytest.raises(PlanningError, match=r"wind 12.5 m/s exceeds .* 12.0 m/s"):
        plan_mission(parse_request(short), context(wind=gusty))  # the planner's default
    sturdy = dataclasses.replace(VEHICLE, max_wind_mps=16.0)
    assert plan_mission(parse_request(short), context(vehicle=sturdy, wind=gusty)).legs
    light = dataclasses.replace(VEHICLE, max_wind_mps=6.0)
    with pytest.raises(PlanningError, match=r"wind 8.0 m/s exceeds the vehicle's limit of 6.0"):
        plan_mission(parse_request(short),
                     context(vehicle=light, wind=WindReport(8.0, 270.0, 990.0)))


def test_a_headwind_costs_more_energy_than_calm_air() -> None:
    calm = plan_mission(parse_request(delivery()), context())
    # The dropoff is east: a wind from the east is a headwind out and a tailwind back,
    # which costs more than calm air overall (drag grows with the square of airspeed).
    windy = plan_mission(parse_request(delivery()),
                         context(wind=WindReport(8.0, 90.0, 990.0)))
    assert windy.energy_wh > calm.energy_wh * 1.05
    model = EnergyModel()
    t_head, e_head = model.cruise(1000.0, 0.0, 8.0, 0.0, WindReport(8.0, 90.0, 0.0))
    t_tail, e_tail = model.cruise(1000.0, 0.0, 8.0, 0.0, WindReport(8.0, 270.0, 0.0))
    assert e_head > e_tail
    assert t_head > t_tail  # airspeed capped at 12 m/s: 8 m/s over ground is not reachable


def test_the_energy_model_matches_the_simulated_battery() -> None:
    b = BatterySpec()
    model = EnergyModel.from_vehicle_spec(VEHICLE, b)
    assert model.power_w(8.0, 1.0) == pytest.approx(b.hover_power_w + b.payload_w_per_kg
                                                    + b.drag_w_per_speed2 * 64)
    assert model.capacity_wh == VEHICLE.battery_capacity_wh


def test_payload_is_counted_only_between_pickup_and_dropoff() -> None:
    plan = plan_mission(parse_request(delivery(1.5)), context())
    carried = [w.payload_kg for w in plan.waypoints]
    drop = [w.kind for w in plan.waypoints].index(WaypointKind.DROPOFF)
    assert carried[drop] == 1.5
    assert all(c == 0.0 for c in carried[drop + 1:])
    light = plan_mission(parse_request(delivery(0.0)), context())
    assert plan.energy_wh > light.energy_wh


def test_too_long_for_one_charge_is_rejected_with_the_numbers() -> None:
    with pytest.raises(PlanningError, match=r"needs \d+ Wh plus a 44 Wh reserve .* 60 Wh are "
                                            r"available"):
        plan_mission(parse_request(delivery(far=3000)), context(available_energy_wh=60.0))


def test_too_long_for_one_charge_is_split_at_a_charging_station() -> None:
    station = FRAME.to_geo(1500, 400, 0)
    small = VehicleSpec("uav0", "/uav0/mavros", max_payload_kg=2.0, battery_capacity_wh=150.0)
    ctx = context(vehicle=small, charging_stations=[("pad_a", station)])
    spec = {"type": "patrol", "altitude_m": 40, "route": [pos(0, 300), pos(3000, 300)],
            "repeat": 2}
    plan = plan_mission(parse_request(spec), ctx)
    assert len(plan.legs) >= 2
    first = plan.legs[0]
    assert first.charge_station == "pad_a"
    assert plan.waypoints[first.end_index].kind is WaypointKind.CHARGE
    assert plan.waypoints[first.end_index + 1].kind is WaypointKind.TAKEOFF
    for leg in plan.legs:
        assert leg.energy_wh + plan.reserve_wh <= small.battery_capacity_wh + 1e-6
    assert plan.legs[-1].charge_station is None
    assert plan.energy_wh == pytest.approx(sum(leg.energy_wh for leg in plan.legs))
    # The charging time is part of the duration.
    assert plan.duration_s > sum(leg.duration_s for leg in plan.legs) + 60


def test_without_an_energy_limit_a_mission_is_planned_whole_on_one_imaginary_battery() -> None:
    station = FRAME.to_geo(1500, 400, 0)
    small = VehicleSpec("uav0", "/uav0/mavros", max_payload_kg=2.0, battery_capacity_wh=150.0)
    spec = {"type": "patrol", "altitude_m": 40, "route": [pos(0, 300), pos(3000, 300)],
            "repeat": 2}
    with_stops = plan_mission(parse_request(spec),
                              context(vehicle=small, charging_stations=[("pad_a", station)]))
    whole = plan_mission(parse_request(spec), context(vehicle=small, energy_limit=False))
    assert len(whole.legs) == 1
    assert all(w.kind is not WaypointKind.CHARGE for w in whole.waypoints)
    assert whole.energy_wh + whole.reserve_wh > small.battery_capacity_wh  # no refusal
    # The same flying, without the detours to the station.
    assert whole.energy_wh < with_stops.energy_wh
    with pytest.raises(PlanningError, match="needs"):
        plan_mission(parse_request(spec), context(vehicle=small))


def test_a_mission_that_cannot_finish_before_not_after_is_rejected() -> None:
    with pytest.raises(PlanningError, match="after not_after"):
        plan_mission(parse_request(delivery(not_after=1100.0)), context())
    plan = plan_mission(parse_request(delivery(not_after=10_000.0)), context())
    assert plan.finish_time < 10_000.0


def test_a_scheduled_start_sets_the_plan_start_and_a_past_one_is_rejected() -> None:
    plan = plan_mission(parse_request(delivery(scheduled_start=5000.0)), context())
    assert plan.start_time == 5000.0
    with pytest.raises(PlanningError, match="in the past"):
        plan_mission(parse_request(delivery(scheduled_start=500.0)), context())


def test_duration_counts_climb_turns_and_holds() -> None:
    plan = plan_mission(parse_request(delivery(far=800.0, handling_s=60.0)), context())
    flat = plan.distance_m / 8.0
    assert plan.duration_s > flat + 2 * 60 + 40 / 3.0


def test_an_emergency_can_land_at_the_target_without_going_home() -> None:
    spec = {"type": "emergency", "altitude_m": 30, "target": pos(300, 0), "land": True}
    plan = plan_mission(parse_request(spec), context())
    assert [w.kind for w in plan.waypoints] == [WaypointKind.TAKEOFF, WaypointKind.LOITER,
                                                WaypointKind.LAND]
    assert plan.return_index is None
