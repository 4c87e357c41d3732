"""Charging stops are inserted where the battery would fall below the reserve, and only there."""

from __future__ import annotations

import dataclasses

import pytest

from fleet_core.fleet.model import VehicleSpec
from fleet_core.planning import PlanningContext, PlanningError, WaypointKind
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
