"""Charging stops are inserted where the battery would fall below the reserve, and only there."""

from __future__ import annotations

import dataclasses

import pytest

from fleet_core.fleet.model import VehicleSpec
from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.planning import (
    MissionPlan,
    PlanningContext,
    PlanningError,
    WaypointKind,
    parse_request,
    plan_mission,
)
from fleet_core.planning.charging_stops import insert_charging_stops
from fleet_core.planning.environment import PlanEnvironment, Step

from .conftest import FRAME

SMALL = VehicleSpec("uav0", "/uav0/mavros", battery_capacity_wh=150.0)
ALTITUDE = 40.0


def environment(**kw: object) -> PlanEnvironment:
    ctx = PlanningContext(start=FRAME.to_geo(0, 0, 0), vehicle=SMALL, now=1000.0)
    ctx = dataclasses.replace(ctx, **kw)  # type: ignore[arg-type]
    return PlanEnvironment(ctx, ALTITUDE, [FRAME.to_geo(6000, 0, 0)], (1000.0, 5000.0))


def route(env: PlanEnvironment, *east: float) -> list[Step]:
    steps = [Step(env.xy(env.ctx.start), ALTITUDE, WaypointKind.TAKEOFF, speed=10.0)]
    for e in east:
        env.goto(steps, env.xy(FRAME.to_geo(e, 0, 0)), WaypointKind.TRANSIT, speed=10.0)
    return steps


def test_a_route_within_reach_is_left_as_it_is() -> None:
    env = environment(charging_stations=[("pad_a", FRAME.to_geo(500, 100, 0))])
    steps = route(env, 300, 600)
    assert insert_charging_stops(env, steps) == (steps, [])


def test_a_route_out_of_reach_lands_at_the_station_charges_and_carries_on() -> None:
    env = environment(charging_stations=[("pad_a", FRAME.to_geo(1500, 200, 0))])
    out, names = insert_charging_stops(env, route(env, 3000, 0, 3000))
    assert names == ["pad_a"]
    kinds = [s.kind for s in out]
    charge = kinds.index(WaypointKind.CHARGE)
    assert kinds[charge + 1] is WaypointKind.TAKEOFF
    assert out[charge].hold_s > 0  # charging takes time
    assert out[-1].xy == pytest.approx(env.xy(FRAME.to_geo(3000, 0, 0)))


def test_without_a_station_the_error_gives_the_energy_numbers() -> None:
    env = environment()
    with pytest.raises(PlanningError, match=r"needs \d+ Wh plus a 30 Wh reserve"):
        insert_charging_stops(env, route(env, 3000, 0, 3000, 0, 3000))


def test_a_station_off_the_reachable_part_of_the_route_is_refused() -> None:
    env = environment(charging_stations=[("far", FRAME.to_geo(0, 9000, 0))])
    with pytest.raises(PlanningError, match="no charging station is reachable"):
        insert_charging_stops(env, route(env, 3000, 0, 3000, 0, 3000))


# Issue #14: a detour flown with the parcel on board must be costed with the parcel.
NEAR_BONN = LocalFrame.at(GeoPoint(50.0, 8.0))
COURIER = VehicleSpec("uav0", "/uav0/mavros", max_payload_kg=2.0)


def courier_plan(payload_kg: float, **kw: object) -> MissionPlan:
    def east(m: float) -> dict[str, float]:
        p = NEAR_BONN.to_geo(m, 0, 0)
        return {"latitude": p.latitude, "longitude": p.longitude}

    spec = {"type": "delivery", "altitude_m": 40, "pickup": east(7000), "dropoff": east(9000),
            "payload_kg": payload_kg}
    ctx = PlanningContext(start=NEAR_BONN.to_geo(0, 0, 0), vehicle=COURIER, now=1000.0,
                          charging_stations=[("pad_east", NEAR_BONN.to_geo(10_000, 0, 0))])
    ctx = dataclasses.replace(ctx, **kw)  # type: ignore[arg-type]
    return plan_mission(parse_request(spec), ctx)


def test_a_detour_flown_with_the_parcel_is_costed_with_the_parcel() -> None:
    plan = courier_plan(1.5)
    kinds = [w.kind for w in plan.waypoints]
    pick, drop = kinds.index(WaypointKind.PICKUP), kinds.index(WaypointKind.DROPOFF)
    # The parcel is on board from the pickup to the drop-off, whatever is flown between.
    assert all(w.payload_kg == 1.5 for w in plan.waypoints[pick + 1:drop + 1])
    assert all(w.payload_kg == 0.0 for w in plan.waypoints[:pick + 1])
    assert all(w.payload_kg == 0.0 for w in plan.waypoints[drop + 1:])
    for leg in plan.legs:
        assert leg.energy_wh + plan.reserve_wh <= COURIER.battery_capacity_wh + 1e-6


def test_a_detour_after_the_drop_off_is_costed_without_the_parcel() -> None:
    plan = courier_plan(1.5)
    kinds = [w.kind for w in plan.waypoints]
    drop = kinds.index(WaypointKind.DROPOFF)
    assert WaypointKind.CHARGE in kinds[drop:]
    assert all(w.payload_kg == 0.0 for w in plan.waypoints[drop + 1:])


def test_the_parcel_on_a_detour_can_make_a_plan_refused_with_the_reason() -> None:
    # Half a battery: with the parcel no station can be reached with the reserve kept.
    with pytest.raises(PlanningError, match="no charging station is reachable"):
        courier_plan(1.5, available_energy_wh=120.0)
