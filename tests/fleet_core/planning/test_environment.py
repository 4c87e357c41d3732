"""The planning environment refuses unusable contexts and conditions, naming the bad value."""

from __future__ import annotations

import dataclasses
import math

import pytest

from fleet_core.planning import (
    PlaceRef,
    PlanningContext,
    PlanningError,
    WindReport,
    parse_request,
)
from fleet_core.planning.environment import (
    PlanEnvironment,
    active_during,
    check_conditions,
    check_context,
    cruise_speed,
    resolve,
)

from .conftest import FRAME, VEHICLE, rect, zone

CTX = PlanningContext(start=FRAME.to_geo(0, 0, 0), vehicle=VEHICLE, now=1000.0)


@pytest.mark.parametrize(("change", "message"), [
    ({"reserve_pct": 100.0}, "reserve_pct must be 0..100, got 100.0"),
    ({"available_energy_wh": -1.0}, "available_energy_wh must be >= 0, got -1.0"),
    ({"zone_margin_m": math.nan}, "zone_margin_m must be >= 0, got nan"),
    ({"now": math.inf}, "now must be finite, got inf"),
], ids=["reserve", "energy", "margin", "now"])
def test_a_bad_context_is_refused_naming_the_value(change: dict[str, float],
                                                   message: str) -> None:
    with pytest.raises(PlanningError, match=message):
        check_context(dataclasses.replace(CTX, **change))  # type: ignore[arg-type]


@pytest.mark.parametrize(("active", "expected"), [
    ((None, None), True), ((500.0, 1500.0), True), ((2000.0, None), False),
    ((None, 1000.0), False),
], ids=["always", "overlapping", "later", "ended at the start"])
def test_a_zone_counts_when_active_at_any_time_in_the_window(
        active: tuple[float | None, float | None], expected: bool) -> None:
    z = zone("z", rect(0, 0, 10, 10), active_from=active[0], active_until=active[1])
    assert active_during(z, (1000.0, 2000.0)) is expected


def test_an_unknown_place_is_refused_with_the_known_ones() -> None:
    with pytest.raises(PlanningError, match=r"target refers to unknown place .* \(known: none\)"):
        resolve(PlaceRef("depot"), "target", CTX)


def test_a_speed_over_the_vehicles_limit_is_capped_with_a_warning() -> None:
    env = PlanEnvironment(CTX, 40.0, [], (1000.0, 2000.0))
    request = parse_request({"type": "emergency", "altitude_m": 40, "speed_mps": 29.0,
                             "target": {"latitude": 47.3977, "longitude": 8.5456}})
    assert cruise_speed(request, env) == env.model.max_speed
    assert env.warnings == [f"speed 29 m/s reduced to the vehicle's limit of "
                            f"{env.model.max_speed:g} m/s"]


def test_a_zone_above_the_cruise_altitude_is_not_in_the_way() -> None:
    high = zone("high", rect(100, -50, 200, 50), floor_m=60.0, ceiling_m=120.0)
    env = PlanEnvironment(dataclasses.replace(CTX, no_fly_zones=[high]), 40.0, [],
                          (1000.0, 2000.0))
    assert env.band == []
    assert env.column == []


def test_wind_beyond_the_vehicles_limit_is_refused() -> None:
    request = parse_request({"type": "emergency", "altitude_m": 40,
                             "target": {"latitude": 47.3977, "longitude": 8.5456}})
    windy = dataclasses.replace(CTX, wind=WindReport(20.0, 90.0, observed_at=1000.0))
    with pytest.raises(PlanningError, match=r"wind 20.0 m/s exceeds the vehicle's limit"):
        check_conditions(request, windy)
