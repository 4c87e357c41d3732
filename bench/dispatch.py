"""Benchmark: one dispatch tick (greedy allocation) and the charging queue at fleet scale.

    python bench/dispatch.py [--vehicles 1000] [--missions 200] [--box-km 20] [--repeat 20]
                             [--stations 10] [--requests 100]

Each repeat builds a dispatcher with the queued missions and times one tick over the fleet
snapshot (building the arrays, costing every mission over every vehicle, assigning).
Prints the median and worst tick, then the same for the charging queue's request + tick +
estimates with the given requests over the given stations.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from fleet_core.charging.errors import ChargingError
from fleet_core.charging.model import ChargeRequest, ChargingPolicy, ChargingStation, Urgency
from fleet_core.charging.queue import ChargingQueue
from fleet_core.dispatch.allocation import VehicleCandidate
from fleet_core.dispatch.demand import Demand
from fleet_core.dispatch.dispatcher import Assign, ChargeFirst, Dispatcher, Preempt
from fleet_core.dispatch.state import MissionKind, MissionRecord
from fleet_core.fleet.model import OperatingStatus, VehicleSpec
from fleet_core.geo import GeoPoint, LocalFrame

FRAME = LocalFrame.at(GeoPoint(47.4, 8.5))
# (model, payload kg, range m, cruise m/s, battery Wh)
CLASSES = [("multirotor", 0.0, 12_000.0, 10.0, 222.0), ("multirotor", 2.0, 9_000.0, 8.0, 400.0),
           ("heavy", 6.0, 7_000.0, 7.0, 800.0), ("fixedwing", 0.5, 40_000.0, 18.0, 500.0)]


def fleet(rng: random.Random, n: int, side: float) -> list[VehicleCandidate]:
    """Return ``n`` vehicles of mixed classes at random in a square of ``side`` metres."""
    out = []
    for i in range(n):
        model, payload, reach, cruise, wh = rng.choice(CLASSES)
        spec = VehicleSpec(f"uav{i}", f"/uav{i}/mavros", model=model, max_payload_kg=payload,
                           max_range_m=reach, cruise_speed=cruise, battery_capacity_wh=wh,
                           home_site=f"site{i % 4}")
        pct = rng.uniform(20.0, 100.0)
        status = OperatingStatus.IDLE if rng.random() < 0.8 else OperatingStatus.IN_MISSION
        out.append(VehicleCandidate(spec.vehicle_id, FRAME.to_geo(rng.uniform(0, side),
                                                                  rng.uniform(0, side), 0.0),
                                    pct, wh * pct / 100.0, spec, status, True))
    return out


def missions(rng: random.Random, n: int, side: float) -> list[MissionRecord]:
    """Return ``n`` missions of mixed demand at random in the same square."""
    out = []
    for i in range(n):
        start = FRAME.to_geo(rng.uniform(0, side), rng.uniform(0, side), 0.0)
        distance = rng.uniform(500.0, 5000.0)
        need = Demand(start, start, distance, distance / 8.0, distance * 0.015, 20.0,
                      payload_kg=rng.choice([0.0, 0.0, 0.0, 1.0, 4.0]),
                      site=rng.choice([None, None, "site1", "site2"]),
                      required_model=rng.choice([None] * 9 + ["fixedwing"]))
        kind = MissionKind.EMERGENCY if i % 50 == 0 else MissionKind.SURVEY
        out.append(MissionRecord(f"m{i}", rng.randint(1, 10), kind, need))
    return out


def bench_dispatch(args: argparse.Namespace) -> None:
    """Time one dispatch tick per repeat and print the figures."""
    rng = random.Random(1)
    side = args.box_km * 1000.0
    vehicles = fleet(rng, args.vehicles, side)
    times = []
    counts = (0, 0, 0)
    for r in range(args.repeat):
        dispatcher = Dispatcher(clock=lambda: 0.0)
        for record in missions(random.Random(100 + r), args.missions, side):
            dispatcher.submit(record, now=0.0)
        t0 = time.perf_counter()
        decisions = dispatcher.tick(1.0, vehicles)
        times.append(time.perf_counter() - t0)
        counts = (sum(isinstance(d, Assign) for d in decisions),
                  sum(isinstance(d, Preempt) for d in decisions),
                  sum(isinstance(d, ChargeFirst) for d in decisions))
    median = statistics.median(times) * 1000
    print(f"dispatch tick: {args.missions} queued missions over {args.vehicles} vehicles "
          f"({args.box_km:g} x {args.box_km:g} km, {len(CLASSES)} vehicle classes)")
    print(f"  median {median:.1f} ms, worst {max(times) * 1000:.1f} ms over {args.repeat} ticks;"
          f" last tick: {counts[0]} assigned, {counts[1]} preempted, {counts[2]} charge-first")
    print(f"  target < 1000 ms: {'yes' if max(times) < 1.0 else 'NO'}")


def bench_charging(args: argparse.Namespace) -> None:
    """Time request + tick + estimates for the charging queue and print the figures."""
    rng = random.Random(2)
    side = args.box_km * 1000.0
    stations = [ChargingStation(f"st{i}", FRAME.to_geo(rng.uniform(0, side),
                                                       rng.uniform(0, side), 0.0),
                                rng.randint(1, 4), rng.choice([200.0, 400.0, 800.0]))
                for i in range(args.stations)]
    times = []
    assigned = refused = 0
    waits: list[float] = []
    for r in range(args.repeat):
        local = random.Random(200 + r)
        requests = []
        for i in range(args.requests):
            pct = local.uniform(5.0, 70.0)
            urgency = Urgency.CRITICAL if pct < 15 else Urgency.NORMAL
            requests.append(ChargeRequest(
                f"uav{i}", 95.0, urgency, pct, 222.0,
                FRAME.to_geo(local.uniform(0, side), local.uniform(0, side), 0.0),
                local.uniform(side * 0.3, side * 1.5), float(i)))
        t0 = time.perf_counter()
        queue = ChargingQueue(stations, ChargingPolicy.LEAST_TOTAL_WAIT)
        refused = 0
        for request in requests:
            try:
                queue.request(request, now=float(args.requests))
            except ChargingError:  # no station within its range: it would land in place
                refused += 1
        assigned = len(queue.tick(float(args.requests)))
        estimates = queue.estimates(float(args.requests))
        times.append(time.perf_counter() - t0)
        waits = [e.wait_s for e in estimates]
    pads = sum(s.pads for s in stations)
    median = statistics.median(times) * 1000
    print(f"charging queue: {args.requests} requests over {args.stations} stations "
          f"({pads} pads), least-total-wait policy")
    print(f"  request+tick+estimates: median {median:.2f} ms, worst {max(times) * 1000:.2f} ms;"
          f" {assigned} pads assigned, {len(waits)} waiting, longest estimated wait "
          f"{max(waits, default=0.0) / 60:.0f} min, {refused} refused (no station in range)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--missions", type=int, default=200)
    parser.add_argument("--box-km", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--stations", type=int, default=10)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    if min(args.vehicles, args.missions, args.repeat, args.stations, args.requests) < 1 \
            or args.box_km <= 0:
        parser.error("counts must be >= 1 and --box-km > 0")
    bench_dispatch(args)
    bench_charging(args)


if __name__ == "__main__":
    main()
