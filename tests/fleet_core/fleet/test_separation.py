"""Separation conflicts are found now and ahead, with a grid that matches brute force."""

from __future__ import annotations

import itertools
import random

import pytest

from fleet_core.fleet.separation import (
    Conflict,
    SeparationRules,
    Track,
    closest_approach,
    find_conflicts,
    yielding_vehicle,
)

RULES = SeparationRules(horizontal_m=15.0, vertical_m=8.0, lookahead_s=10.0, max_speed=20.0)


def test_two_vehicles_closer_than_the_minimum_are_in_conflict_now() -> None:
    [c] = find_conflicts([Track("a", 0, 0, 20), Track("b", 10, 0, 22)], RULES)
    assert (c.key, c.predicted) == (("a", "b"), False)


def test_vertical_separation_alone_is_enough() -> None:
    assert find_conflicts([Track("a", 0, 0, 20), Track("b", 5, 0, 30)], RULES) == []


def test_a_head_on_pair_is_predicted_before_it_meets() -> None:
    a = Track("a", 0, 0, 30, ve=8.0)
    b = Track("b", 120, 0, 30, ve=-8.0)
    [c] = find_conflicts([a, b], RULES)
    assert c.predicted
    assert c.time_to_closest_s == pytest.approx(7.5)
    assert c.horizontal_m == pytest.approx(0.0, abs=1e-9)


def test_a_pair_flying_apart_is_no_conflict() -> None:
    a = Track("a", 0, 0, 30, ve=-8.0)
    b = Track("b", 40, 0, 30, ve=8.0)
    assert find_conflicts([a, b], RULES) == []


def test_closest_approach_is_clamped_to_the_horizon() -> None:
    t, h, _ = closest_approach(Track("a", 0, 0, 0, ve=1.0), Track("b", 1000, 0, 0), 10.0)
    assert (t, h) == (10.0, 990.0)


def test_the_grid_finds_exactly_what_brute_force_finds() -> None:
    rng = random.Random(3)
    tracks = [Track(f"v{i}", rng.uniform(0, 2000), rng.uniform(0, 2000), rng.uniform(20, 60),
                    rng.uniform(-12, 12), rng.uniform(-12, 12), rng.uniform(-2, 2))
              for i in range(400)]
    brute = set()
    for t1, t2 in itertools.combinations(tracks, 2):
        _, h, v = closest_approach(t1, t2, RULES.lookahead_s)
        now_h = ((t1.east - t2.east) ** 2 + (t1.north - t2.north) ** 2) ** 0.5
        if (now_h < RULES.horizontal_m and abs(t1.up - t2.up) < RULES.vertical_m) or (
                h < RULES.horizontal_m and v < RULES.vertical_m):
            brute.add(tuple(sorted((t1.vehicle_id, t2.vehicle_id))))
    grid = {c.key for c in find_conflicts(tracks, RULES)}
    assert grid == brute
    assert len(brute) > 0  # the data set has conflicts to find


def test_the_lower_priority_vehicle_yields_and_ties_break_by_id() -> None:
    c = Conflict("uav1", "uav2", 0.0, 5.0, 1.0)
    assert yielding_vehicle(c, {"uav1": 5, "uav2": 1}) == "uav2"
    assert yielding_vehicle(c, {}) == "uav2"


def test_bad_rules_are_rejected() -> None:
    with pytest.raises(ValueError, match="horizontal_m"):
        SeparationRules(horizontal_m=0.0)
