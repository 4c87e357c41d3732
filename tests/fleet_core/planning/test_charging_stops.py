"""Charging stops are inserted where the battery would fall below the reserve, and only there."""

from __future__ import annotations

import dataclasses
import math
import re

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


# Issue #14, defect 3: stations reachable between waypoints, and refusals that say why.
def delivery_plan(pickup: tuple[float, float], dropoff: tuple[float, float],
                  stations: dict[str, tuple[float, float]], payload_kg: float = 1.5,
                  ) -> MissionPlan:
    """Plan a delivery by COURIER from (0, 0); positions in metres east, north."""
    def at(e: float, n: float) -> dict[str, float]:
        p = NEAR_BONN.to_geo(e, n, 0)
        return {"latitude": p.latitude, "longitude": p.longitude}

    spec = {"type": "delivery", "altitude_m": 40, "pickup": at(*pickup),
            "dropoff": at(*dropoff), "payload_kg": payload_kg}
    ctx = PlanningContext(start=NEAR_BONN.to_geo(0, 0, 0), vehicle=COURIER, now=1000.0,
                          charging_stations=[(name, NEAR_BONN.to_geo(e, n, 0))
                                             for name, (e, n) in stations.items()])
    return plan_mission(parse_request(spec), ctx)


def east_north(plan: MissionPlan, kind: WaypointKind) -> list[tuple[float, float]]:
    return [(round(e), round(n)) for w in plan.waypoints if w.kind is kind
            for e, n, _ in [NEAR_BONN.to_enu(w.position)]]


# Station a is near the pickup, b just short of the drop-off. Flying on from a to the
# drop-off leaves too little to reach b afterwards (the old code then refused with "no
# charging station is reachable", though a was reached): a → b, a stop on the way from a
# to the drop-off, is what fits.
PICKUP, DROPOFF = (500.0, 0.0), (9500.0, 3000.0)
ALONG_THE_WAY = {"a": (2300.0, 600.0), "b": (9300.0, 2800.0)}


def test_a_long_leg_is_split_at_stations_between_the_waypoints() -> None:
    plan = delivery_plan(PICKUP, DROPOFF, ALONG_THE_WAY)
    assert [leg.charge_station for leg in plan.legs] == ["a", "b", None]
    assert east_north(plan, WaypointKind.CHARGE) == [(2300, 600), (9300, 2800)]
    for leg in plan.legs:
        assert leg.energy_wh + plan.reserve_wh <= COURIER.battery_capacity_wh + 1e-6


def test_the_parcel_is_carried_on_a_detour_between_pickup_and_drop_off() -> None:
    plan = delivery_plan(PICKUP, DROPOFF, ALONG_THE_WAY)
    kinds = [w.kind for w in plan.waypoints]
    pick, drop = kinds.index(WaypointKind.PICKUP), kinds.index(WaypointKind.DROPOFF)
    # Both stops (landing, take-off and the way between) lie between pickup and drop-off.
    assert kinds[pick + 1:drop].count(WaypointKind.CHARGE) == 2
    assert all(w.payload_kg == 1.5 for w in plan.waypoints[pick + 1:drop + 1])
    assert all(w.payload_kg == 0.0 for w in plan.waypoints[drop + 1:])


def test_a_station_on_the_way_keeps_the_route_as_short_as_the_direct_one() -> None:
    # 14 km there and back; "far" lies beyond the drop-off and is nearer to it than "mid"
    # (the old code took it, from the drop-off, and flew 21.7 km).
    plan = delivery_plan((500.0, 0.0), (7000.0, 0.0),
                         {"mid": (2500.0, 0.0), "far": (10_000.0, 3000.0)}, payload_kg=1.0)
    assert "far" not in [leg.charge_station for leg in plan.legs]
    assert plan.distance_m == pytest.approx(14_000.0, rel=0.01)


def test_a_refusal_names_the_leg_and_the_energy_the_closest_station_needs() -> None:
    # A heavier parcel: from a the drop-off is out of reach and b too, by a few Wh. The
    # old code said station a was "too far from the route to come back".
    with pytest.raises(PlanningError) as err:
        delivery_plan(PICKUP, DROPOFF, ALONG_THE_WAY, payload_kg=2.0)
    found = re.search(r"the flight from charging station 'a' cannot reach the drop-off .*: "
                      r"it needs ([\d.]+) Wh plus the 44\.4 Wh reserve, but sets off with "
                      r"222\.0 Wh; .*'b', is 7\.3 km from charging station 'a' and needs "
                      r"([\d.]+) Wh to reach, but only ([\d.]+) Wh are left", str(err.value))
    assert found is not None, str(err.value)
    need, to_b, left = (float(x) for x in found.groups())
    assert need + 44.4 > 222.0
    assert to_b > left


def test_a_station_in_reach_is_never_called_unreachable() -> None:
    # The station is reached from the start; it is the 11 km from it that no charge flies.
    env = environment(charging_stations=[("pad_a", FRAME.to_geo(1000, 0, 0))])
    with pytest.raises(PlanningError) as err:
        insert_charging_stops(env, route(env, 12_000))
    message = str(err.value)
    assert "no charging station is reachable" not in message
    assert re.search(r"the flight from charging station 'pad_a' cannot reach .*: it needs "
                     r"[\d.]+ Wh plus the 30\.0 Wh reserve, but sets off with 150\.0 Wh",
                     message), message


def test_a_survey_line_longer_than_a_charge_is_left_part_way_and_resumed_there() -> None:
    env = environment(charging_stations=[("side", FRAME.to_geo(6000, 500, 0))])
    steps = route(env)
    for e, n in ((12_000, 0), (12_000, 300)):
        env.goto(steps, env.xy(FRAME.to_geo(e, n, 0)), WaypointKind.SURVEY, speed=10.0)
    out, names = insert_charging_stops(env, steps)
    assert names == ["side"]
    charge = [s.kind for s in out].index(WaypointKind.CHARGE)
    left_at = out[charge - 1]
    # The line is left where it passes the station, not at its start, and resumed there.
    assert left_at.kind is WaypointKind.SURVEY
    assert math.dist(left_at.xy, env.xy(FRAME.to_geo(6000, 0, 0))) < 5.0
    assert out[charge + 1].kind is WaypointKind.TAKEOFF
    assert out[charge + 2].xy == pytest.approx(left_at.xy)
    assert [s.kind for s in out[charge + 3:]] == [WaypointKind.SURVEY] * 2
