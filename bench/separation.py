"""Benchmark: the separation check over N airborne vehicles (grid vs brute force).

    python bench/separation.py [--vehicles 1000] [--area-km 5] [--repeat 50]

Prints the median and worst time of one full check with the spatial grid, the same for an
all-pairs baseline measured in the same run, and the ratio.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import time

from fleet_core.fleet.separation import SeparationRules, Track, closest_approach, find_conflicts


def brute_force(tracks: list[Track], rules: SeparationRules) -> int:
    """Count conflicting pairs by checking every pair (the O(n^2) baseline)."""
    n = 0
    for t1, t2 in itertools.combinations(tracks, 2):
        _, h, v = closest_approach(t1, t2, rules.lookahead_s)
        if h < rules.horizontal_m and v < rules.vertical_m:
            n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--area-km", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    if args.vehicles < 2 or args.area_km <= 0 or args.repeat < 1:
        parser.error("need --vehicles >= 2, --area-km > 0, --repeat >= 1")
    rng = random.Random(1)
    side = args.area_km * 1000
    tracks = [Track(f"v{i}", rng.uniform(0, side), rng.uniform(0, side), rng.uniform(20, 120),
                    rng.uniform(-12, 12), rng.uniform(-12, 12), rng.uniform(-2, 2))
              for i in range(args.vehicles)]
    rules = SeparationRules()
    times = []
    conflicts = 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        conflicts = len(find_conflicts(tracks, rules))
        times.append(time.perf_counter() - t0)
    base = []
    base_conflicts = 0
    for _ in range(max(1, args.repeat // 10)):
        t0 = time.perf_counter()
        base_conflicts = brute_force(tracks, rules)
        base.append(time.perf_counter() - t0)
    grid_ms = statistics.median(times) * 1000
    base_ms = statistics.median(base) * 1000
    print(f"separation check: {args.vehicles} airborne vehicles over "
          f"{args.area_km:g} x {args.area_km:g} km, look-ahead {rules.lookahead_s:g} s")
    print(f"  grid:        median {grid_ms:.2f} ms, worst {max(times) * 1000:.2f} ms "
          f"({conflicts} conflicts)")
    print(f"  all pairs:   median {base_ms:.2f} ms ({base_conflicts} predicted conflicts)")
    print(f"  speed-up:    {base_ms / grid_ms:.1f}x; target < 5 ms: "
          f"{'yes' if grid_ms < 5.0 else 'NO'}")


if __name__ == "__main__":
    main()
