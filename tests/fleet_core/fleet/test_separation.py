"""Separation conflicts are found now and ahead, with a grid that matches brute force."""

from __future__ import annotations

import itertools
import math
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


def brute_force(tracks: list[Track], rules: SeparationRules) -> list[Conflict]:
    """Check every pair one by one, in track order: the definition the grid must match."""
    found = []
    for t1, t2 in itertools.combinations(tracks, 2):
        now_h = math.hypot(t2.east - t1.east, t2.north - t1.north)
        now_v = abs(t2.up - t1.up)
        if now_h < rules.horizontal_m and now_v < rules.vertical_m:
            found.append(Conflict(t1.vehicle_id, t2.vehicle_id, 0.0, now_h, now_v))
            continue
        t, h, v = closest_approach(t1, t2, rules.lookahead_s)
        if h < rules.horizontal_m and v < rules.vertical_m:
            found.append(Conflict(t1.vehicle_id, t2.vehicle_id, t, h, v))
    return found


def random_fleet(seed: int, n: int, side: float) -> list[Track]:
    rng = random.Random(seed)
    return [Track(f"v{i}", rng.uniform(0, side), rng.uniform(0, side), rng.uniform(20, 60),
                  rng.uniform(-12, 12), rng.uniform(-12, 12), rng.uniform(-2, 2))
            for i in range(n)]


def border_fleet(seed: int, n: int) -> list[Track]:
    """Tracks whose padded boxes start or end exactly on cell borders (cells of 100 m).

    Positions on a cell border or half the minimum off it, speeds that travel whole cells in
    the look-ahead and altitudes 4 m apart give exact ties: box edges on borders, boxes
    touching, pairs exactly 15 m or 8 m apart.
    """
    rng = random.Random(seed)
    offsets = (-7.5, 0.0, 7.5)
    speeds = (-20.0, -10.0, 0.0, 10.0, 20.0, 5.0)
    return [Track(f"b{i}", 100.0 * rng.randrange(0, 12) + rng.choice(offsets),
                  100.0 * rng.randrange(0, 12) + rng.choice(offsets),
                  20.0 + 4.0 * rng.randrange(0, 4), rng.choice(speeds), rng.choice(speeds),
                  rng.choice((-0.4, 0.0, 0.4)))
            for i in range(n)]


def fast_fleet(seed: int, n: int) -> list[Track]:
    """Tracks up to four times max_speed, their boxes over many cells, and a few far faster."""
    rng = random.Random(seed)
    tracks = [Track(f"f{i}", rng.uniform(0, 2000), rng.uniform(0, 2000), rng.uniform(20, 40),
                    rng.uniform(-80, 80), rng.uniform(-80, 80), rng.uniform(-3, 3))
              for i in range(n)]
    # Over 256 cells each: paired with every track instead of entered in the grid.
    tracks += [Track(f"w{i}", rng.uniform(0, 2000), rng.uniform(0, 2000), rng.uniform(20, 40),
                     rng.choice((-1, 1)) * rng.uniform(200, 400),
                     rng.choice((-1, 1)) * rng.uniform(200, 400), 0.0)
               for i in range(4)]
    rng.shuffle(tracks)
    return tracks


def straddling_fleet(seed: int, n: int) -> list[Track]:
    """Pairs that come just inside (or just outside) the minimum across a cell border.

    Each pair is built from its closest approach: at a time in [0, 10] s the two are
    ``d`` apart across a border (or a corner) of the 100 m cells, with ``d`` a hair under
    or over 15 m, some closing so slowly that only the look-ahead finds them.
    """
    rng = random.Random(seed)
    tracks: list[Track] = []
    for k in range(n // 2):
        tc = rng.choice((0.0, 10.0, rng.uniform(0.0, 10.0)))
        d = 15.0 + rng.choice((-1e-5, -0.01, -0.5, 1e-5, 0.01))
        angle = rng.choice((0.0, 90.0, 180.0, 270.0, rng.uniform(0.0, 360.0)))
        ux, uy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        # Closing across the separation: the relative velocity is square to it.
        w = rng.choice((0.01, 1.0, 8.0)) * rng.choice((-1, 1))
        wx, wy = -uy * w, ux * w
        # Moving along the border only, so the boxes' edges across it are the positions.
        along = rng.uniform(-10, 10)
        vax, vay = -uy * along, ux * along
        # On a border, or a hair off it so that only one of the two boxes crosses it.
        shift = rng.choice((0.0, 1e-5, -1e-5, 0.005, -0.005))
        # Apart along x: across a border in x; along y: in y; any other way: at a corner.
        mx = 100.0 * rng.randrange(0, 30) + shift
        my = 100.0 * rng.randrange(0, 30) + shift
        if angle in (0.0, 180.0):
            my = rng.uniform(0, 3000)
        elif angle in (90.0, 270.0):
            mx = rng.uniform(0, 3000)
        alt = rng.uniform(20, 40)
        tracks.append(Track(f"s{k}a", mx - ux * d / 2 - vax * tc, my - uy * d / 2 - vay * tc,
                            alt, vax, vay, 0.0))
        tracks.append(Track(f"s{k}b", mx + ux * d / 2 - (vax + wx) * tc,
                            my + uy * d / 2 - (vay + wy) * tc, alt + rng.uniform(-7.9, 7.9),
                            vax + wx, vay + wy, 0.0))
    return tracks


FLEETS = {
    "spread": lambda seed: random_fleet(seed, 400, 2000.0),
    "dense": lambda seed: random_fleet(seed, 300, 300.0),
    "cell-borders": lambda seed: border_fleet(seed, 400),
    "fast": lambda seed: fast_fleet(seed, 300),
    "straddling": lambda seed: straddling_fleet(seed, 400),
}


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("fleet", list(FLEETS))
def test_the_grid_finds_exactly_what_brute_force_finds(fleet: str, seed: int) -> None:
    tracks = FLEETS[fleet](seed)
    expected = brute_force(tracks, RULES)
    assert find_conflicts(tracks, RULES) == expected  # same pairs, order and figures
    assert expected  # the data set has conflicts to find


def test_the_grid_matches_brute_force_whatever_max_speed_says() -> None:
    tracks = fast_fleet(7, 200) + border_fleet(7, 200)
    for max_speed in (0.5, 5.0, 20.0, 500.0):
        rules = SeparationRules(horizontal_m=15.0, vertical_m=8.0, lookahead_s=10.0,
                                max_speed=max_speed)
        assert find_conflicts(tracks, rules) == brute_force(tracks, rules), max_speed


def test_a_fast_pair_is_predicted_many_cells_before_it_meets() -> None:
    a = Track("a", 0, 0, 30, ve=60.0, vn=30.0)
    b = Track("b", 900, 450, 30, ve=-60.0, vn=-30.0)
    [c] = find_conflicts([a, b], RULES)
    assert c.time_to_closest_s == pytest.approx(7.5)


def test_pairs_on_the_threshold_are_no_conflict() -> None:
    assert find_conflicts([Track("a", 92.5, 0, 20), Track("b", 107.5, 0, 20)], RULES) == []
    assert find_conflicts([Track("a", 100, 0, 20), Track("b", 100, 0, 28)], RULES) == []


def test_pairs_one_ulp_inside_the_threshold_are_in_conflict() -> None:
    inside_h = [Track("a", 92.5, 0, 20), Track("b", math.nextafter(107.5, 0), 0, 20)]
    inside_v = [Track("a", 100, 0, 20), Track("b", 100, 0, math.nextafter(28, 0))]
    assert [c.key for c in find_conflicts(inside_h, RULES)] == [("a", "b")]
    assert [c.key for c in find_conflicts(inside_v, RULES)] == [("a", "b")]


def test_tracks_far_from_the_rest_are_still_compared() -> None:
    far = [Track("x", 1e15, -1e15, 30), Track("y", 1e15 + 5, -1e15, 30)]
    tracks = random_fleet(1, 50, 500.0) + far + [Track("z", -1e300, 1e300, 30)]
    assert find_conflicts(tracks, RULES) == brute_force(tracks, RULES)
    assert ("x", "y") in {c.key for c in find_conflicts(tracks, RULES)}


def test_conflicts_come_in_track_order() -> None:
    tracks = [Track("c", 500, 0, 20), Track("b", 0, 0, 20), Track("a", 505, 0, 20),
              Track("d", 5, 0, 20)]
    found = find_conflicts(tracks, RULES)
    assert [(c.a, c.b) for c in found] == [("c", "a"), ("b", "d")]


def test_fewer_than_two_tracks_have_no_conflict() -> None:
    assert find_conflicts([], RULES) == []
    assert find_conflicts([Track("a", 0, 0, 20)], RULES) == []


@pytest.mark.parametrize("field", [0, 1, 2, 3, 4, 5],
                         ids=["east", "north", "up", "ve", "vn", "vu"])
def test_a_track_with_a_non_finite_value_is_refused_by_name(field: int) -> None:
    values = [10.0, 0.0, 20.0, 0.0, 0.0, 0.0]
    values[field] = math.inf if field % 2 else math.nan
    bad = Track("uav7", *values)
    with pytest.raises(ValueError, match="uav7"):
        find_conflicts([Track("uav1", 0, 0, 20), bad], RULES)


def test_the_lower_priority_vehicle_yields_and_ties_break_by_id() -> None:
    c = Conflict("uav1", "uav2", 0.0, 5.0, 1.0)
    assert yielding_vehicle(c, {"uav1": 5, "uav2": 1}) == "uav2"
    assert yielding_vehicle(c, {}) == "uav2"


def test_bad_rules_are_rejected() -> None:
    with pytest.raises(ValueError, match="horizontal_m"):
        SeparationRules(horizontal_m=0.0)
