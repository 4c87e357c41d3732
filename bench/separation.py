"""Benchmark: the separation check over N airborne vehicles (grid vs brute force).

    python bench/separation.py [--vehicles 500 1000 2000] [--area-km 5] [--repeat 200]
                               [--warmup 20] [--baseline-repeat 3]

For each fleet size: the median, 95th percentile and worst time of one full check with the
grid over --repeat runs (after --warmup runs), an all-pairs baseline measured in the same
run, the ratio of the medians, and the conflicts each found (they must be the same pairs).
The issue's target is the worst time under 5 ms at 1,000 vehicles. The same figures in CPU
time of the thread tell the check's own cost from time lost to other processes.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import statistics
import time

from fleet_core.fleet.separation import SeparationRules, Track, closest_approach, find_conflicts

TARGET_MS = 5.0


def brute_force(tracks: list[Track], rules: SeparationRules) -> set[tuple[str, str]]:
    """Return the conflicting pairs by checking every pair (the O(n^2) baseline)."""
    found = set()
    for t1, t2 in itertools.combinations(tracks, 2):
        now_h = math.hypot(t2.east - t1.east, t2.north - t1.north)
        if now_h < rules.horizontal_m and abs(t2.up - t1.up) < rules.vertical_m:
            found.add((t1.vehicle_id, t2.vehicle_id))
            continue
        _, h, v = closest_approach(t1, t2, rules.lookahead_s)
        if h < rules.horizontal_m and v < rules.vertical_m:
            found.add((t1.vehicle_id, t2.vehicle_id))
    return found


def fleet(n: int, side_m: float) -> list[Track]:
    """Return n vehicles spread uniformly over a square, cruising at up to 17 m/s."""
    rng = random.Random(1)
    return [Track(f"v{i}", rng.uniform(0, side_m), rng.uniform(0, side_m), rng.uniform(20, 120),
                  rng.uniform(-12, 12), rng.uniform(-12, 12), rng.uniform(-2, 2))
            for i in range(n)]


def spread_ms(seconds: list[float]) -> tuple[float, float, float]:
    """Return the median, 95th percentile and worst of the times, in milliseconds."""
    p95 = statistics.quantiles(seconds, n=100)[94] if len(seconds) > 1 else seconds[0]
    return statistics.median(seconds) * 1000, p95 * 1000, max(seconds) * 1000


def bench(n: int, args: argparse.Namespace) -> None:
    """Time the grid and the baseline over one fleet of n vehicles and print the figures."""
    tracks = fleet(n, args.area_km * 1000)
    rules = SeparationRules()
    for _ in range(args.warmup):
        find_conflicts(tracks, rules)
    times = []
    cpu_times = []
    conflicts = []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.thread_time()
        conflicts = find_conflicts(tracks, rules)
        cpu_times.append(time.thread_time() - c0)
        times.append(time.perf_counter() - t0)
    base = []
    base_pairs: set[tuple[str, str]] = set()
    for _ in range(args.baseline_repeat):
        t0 = time.perf_counter()
        base_pairs = brute_force(tracks, rules)
        base.append(time.perf_counter() - t0)
    grid_pairs = {(c.a, c.b) for c in conflicts}
    median_ms, p95_ms, worst_ms = spread_ms(times)
    base_ms = statistics.median(base) * 1000
    print(f"separation check: {n} airborne vehicles over {args.area_km:g} x {args.area_km:g} km, "
          f"look-ahead {rules.lookahead_s:g} s, {args.repeat} runs after {args.warmup} warm-up")
    print(f"  grid:        median {median_ms:.2f} ms, p95 {p95_ms:.2f} ms, "
          f"worst {worst_ms:.2f} ms ({len(conflicts)} conflicts)")
    print("  grid (CPU):  median {:.2f} ms, p95 {:.2f} ms, worst {:.2f} ms".format(
        *spread_ms(cpu_times)))
    print(f"  all pairs:   median {base_ms:.1f} ms over {args.baseline_repeat} runs "
          f"({len(base_pairs)} conflicts; same pairs as the grid: "
          f"{'yes' if grid_pairs == base_pairs else 'NO'})")
    print(f"  speed-up:    {base_ms / median_ms:.0f}x (medians); worst < {TARGET_MS:g} ms: "
          f"{'yes' if worst_ms < TARGET_MS else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--area-km", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--baseline-repeat", type=int, default=3)
    args = parser.parse_args()
    if (min(args.vehicles) < 2 or args.area_km <= 0 or args.repeat < 1 or args.warmup < 0
            or args.baseline_repeat < 1):
        parser.error("need --vehicles >= 2, --area-km > 0, --repeat >= 1, --warmup >= 0, "
                     "--baseline-repeat >= 1")
    for n in args.vehicles:
        bench(n, args)


if __name__ == "__main__":
    main()
