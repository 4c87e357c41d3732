"""Allocation picks the cheapest feasible free vehicle and keeps each vehicle for one job."""

from __future__ import annotations

import random

import numpy as np
import pytest

from fleet_core.dispatch.allocation import FleetMatrix
from fleet_core.dispatch.dispatcher import Assign, ChargeFirst, Dispatcher
from fleet_core.dispatch.errors import DispatchError
from fleet_core.fleet.model import OperatingStatus
from fleet_core.geo import haversine_m

from .helpers import at, demand, mission, vehicle


def assigned(decisions: list[object]) -> dict[str, str]:
    return {d.mission_id: d.vehicle_id for d in decisions if isinstance(d, Assign)}


def test_the_nearest_feasible_vehicle_gets_the_mission() -> None:
    d = Dispatcher()
    d.submit(mission("m"), now=0.0)
    fleet = [vehicle("far", 3000), vehicle("near", 200), vehicle("mid", 1000)]
    assert assigned(d.tick(1.0, fleet)) == {"m": "near"}
    assert d.get("m").vehicle_id == "near"


def test_a_vehicle_too_weak_for_the_payload_is_passed_over() -> None:
    d = Dispatcher()
    d.submit(mission("m", need=demand(payload_kg=2.0)), now=0.0)
    fleet = [vehicle("light", 100, payload_kg=1.0), vehicle("lifter", 2000, payload_kg=3.0)]
    assert assigned(d.tick(1.0, fleet)) == {"m": "lifter"}


def test_a_vehicle_that_would_land_below_the_reserve_is_passed_over() -> None:
    d = Dispatcher()
    # 50 Wh mission + 10 Wh reserve; transit 100 m = 1 Wh: "low" has 55 Wh, "ok" 90 Wh.
    d.submit(mission("m", need=demand(energy_wh=50.0)), now=0.0)
    fleet = [vehicle("low", 100, energy_wh=55.0), vehicle("ok", 2000, energy_wh=90.0)]
    assert assigned(d.tick(1.0, fleet)) == {"m": "ok"}


def test_a_vehicle_whose_range_the_transit_and_route_exceed_is_passed_over() -> None:
    d = Dispatcher()
    d.submit(mission("m", need=demand(distance_m=4000.0, energy_wh=1.0)), now=0.0)
    fleet = [vehicle("short", 100, max_range_m=4050.0), vehicle("long", 900)]
    assert assigned(d.tick(1.0, fleet)) == {"m": "long"}


def test_the_required_model_is_respected() -> None:
    d = Dispatcher()
    d.submit(mission("m", need=demand(model="fixedwing")), now=0.0)
    fleet = [vehicle("quad", 10), vehicle("plane", 3000, model="fixedwing")]
    assert assigned(d.tick(1.0, fleet)) == {"m": "plane"}


def test_a_vehicle_at_the_demanded_site_is_preferred_over_a_closer_stranger() -> None:
    d = Dispatcher()
    d.submit(mission("m", need=demand(site="north")), now=0.0)
    fleet = [vehicle("south1", 100, site="south"), vehicle("north1", 1500, site="north")]
    assert assigned(d.tick(1.0, fleet)) == {"m": "north1"}


def test_only_idle_vehicles_with_fresh_telemetry_get_new_work() -> None:
    d = Dispatcher()
    d.submit(mission("m"), now=0.0)
    fleet = [vehicle("charging", 10, status=OperatingStatus.CHARGING),
             vehicle("maint", 20, status=OperatingStatus.MAINTENANCE),
             vehicle("stale", 30, fresh=False),
             vehicle("busy", 40),
             vehicle("ok", 5000)]
    assert assigned(d.tick(1.0, fleet, busy={"busy"})) == {"m": "ok"}


def test_each_vehicle_is_reserved_for_one_mission_across_ticks() -> None:
    d = Dispatcher()
    for mission_id in ["a", "b", "c"]:
        d.submit(mission(mission_id), now=0.0)
    fleet = [vehicle("v1", 100), vehicle("v2", 200)]
    first = assigned(d.tick(1.0, fleet))
    assert first == {"a": "v1", "b": "v2"}
    # v1 and v2 still report idle (not flying yet): they are held by their assignments.
    assert d.tick(2.0, fleet) == []
    assert d.get("c").state.value == "queued"
    assert "no free vehicle" in d.waiting_reasons["c"]


def test_a_mission_no_vehicle_can_fly_now_charges_one_first_and_keeps_it() -> None:
    d = Dispatcher()
    d.submit(mission("m", need=demand(energy_wh=60.0)), now=0.0)
    d.submit(mission("other", 4, need=demand(energy_wh=1.0)), now=0.0)
    fleet = [vehicle("v1", 100, energy_wh=30.0)]
    decisions = d.tick(1.0, fleet)
    [charge] = [x for x in decisions if isinstance(x, ChargeFirst)]
    assert (charge.vehicle_id, charge.mission_id) == ("v1", "m")
    assert charge.target_pct == pytest.approx(71.0, abs=0.01)  # transit 1 + 60 + 10 reserve
    assert assigned(decisions) == {}  # "other" may not take the reserved vehicle
    charging = [vehicle("v1", 100, energy_wh=50.0, status=OperatingStatus.CHARGING)]
    assert d.tick(2.0, charging) == []
    charged = [vehicle("v1", 100, energy_wh=80.0)]
    assert assigned(d.tick(3.0, charged)) == {"m": "v1"}
    assert d.reservation("m") is None


def test_the_vectorised_distance_matches_haversine() -> None:
    rng = random.Random(7)
    fleet = [vehicle(f"v{i}", rng.uniform(-20_000, 20_000), rng.uniform(-20_000, 20_000))
             for i in range(50)]
    matrix = FleetMatrix(fleet)
    target = at(1234.0, -567.0)
    expected = np.array([haversine_m(v.position, target) for v in fleet])
    assert np.allclose(matrix.distances_m(target), expected, rtol=0, atol=1e-6)


def test_a_snapshot_naming_a_vehicle_twice_is_rejected() -> None:
    with pytest.raises(DispatchError, match="'v1' appears twice"):
        FleetMatrix([vehicle("v1", 0), vehicle("v1", 10)])


def test_a_candidate_with_a_bad_battery_level_is_rejected() -> None:
    with pytest.raises(DispatchError, match=r"battery_pct must be 0\.\.100, got 150"):
        vehicle("v1", 0, energy_wh=150.0)
