"""Benchmark: one fleet_sim process with N vehicles keeps its position rate.

Starts fleet_sim as its own process (N vehicles, position at R Hz), subscribes from this
process to every vehicle's global_position/global with the MAVROS sensor QoS, and after a
warm-up counts messages over a measurement window. Prints the achieved rate per vehicle
(mean, min, max) against the target and the simulator's CPU use, total and per vehicle.

    python bench/sim_rate.py [--vehicles 200] [--rate 10] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from _common import Spinner, cpu_seconds, shipped_config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="position rate, Hz")
    parser.add_argument("--seconds", type=float, default=60.0, help="measurement window")
    parser.add_argument("--warmup-timeout", type=float, default=120.0)
    args = parser.parse_args()
    if not 1 <= args.vehicles <= 500 or args.rate <= 0 or args.seconds <= 0:
        parser.error("need 1 <= --vehicles <= 500, --rate > 0 and --seconds > 0")

    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("ROS_DOMAIN_ID", str(150 + os.getpid() % 50))
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import NavSatFix

    from fleet_ros.qos import SENSOR_QOS

    base = shipped_config("fleet_sim.yaml")
    base["fleet_sim"]["position_rate_hz"] = args.rate
    base["fleet_sim"]["vehicles"] = base["fleet_sim"]["vehicles"][:1]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(base, f)
        config = f.name

    sim = subprocess.Popen(
        [sys.executable, "-m", "fleet_sim", "--ros-args", "-p", f"config_file:={config}",
         "-p", f"vehicle_count:={args.vehicles}", "--log-level", "warn"],
        env=os.environ.copy())
    try:
        rclpy.init()
        node = rclpy.create_node("sim_rate_bench")
        counts = [0] * args.vehicles
        lock = threading.Lock()

        def counter(i: int) -> Callable[[NavSatFix], None]:
            def callback(_msg: NavSatFix) -> None:
                with lock:
                    counts[i] += 1
            return callback

        for i in range(args.vehicles):
            node.create_subscription(NavSatFix, f"/uav{i}/mavros/global_position/global",
                                     counter(i), SENSOR_QOS)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        spinner = Spinner(executor)

        t0 = time.monotonic()
        while True:
            with lock:
                heard = sum(1 for c in counts if c > 0)
            if heard == args.vehicles:
                break
            if time.monotonic() - t0 > args.warmup_timeout or sim.poll() is not None:
                print(f"warm-up failed: heard {heard}/{args.vehicles} vehicles", file=sys.stderr)
                return 1
            time.sleep(0.2)
        discovery_s = time.monotonic() - t0
        time.sleep(2.0)  # let matching settle

        with lock:
            start_counts = list(counts)
        cpu0, w0 = cpu_seconds(sim.pid), time.monotonic()
        time.sleep(args.seconds)
        with lock:
            end_counts = list(counts)
        cpu1, w1 = cpu_seconds(sim.pid), time.monotonic()
        spinner.stop()

        window = w1 - w0
        rates = [(e - s) / window for s, e in zip(start_counts, end_counts, strict=True)]
        mean = sum(rates) / len(rates)
        cpu_pct = 100.0 * (cpu1 - cpu0) / window
        deviation = 100.0 * (mean - args.rate) / args.rate
        print(f"fleet_sim rate benchmark: {args.vehicles} vehicles, target {args.rate:g} Hz, "
              f"window {window:.1f} s")
        print(f"  discovery: all vehicles heard after {discovery_s:.1f} s")
        print(f"  achieved position rate per vehicle: mean {mean:.2f} Hz "
              f"({deviation:+.1f}% vs target), min {min(rates):.2f}, max {max(rates):.2f}")
        print(f"  total position messages/s: {sum(rates):.0f}")
        print(f"  simulator CPU: {cpu_pct:.1f}% of one core, "
              f"{cpu_pct / args.vehicles:.3f}% per vehicle "
              f"({10.0 * cpu_pct / args.vehicles:.2f} ms CPU per vehicle-second)")
        within = abs(deviation) <= 5.0
        print(f"  within 5% of target: {'yes' if within else 'NO'}")
        node.destroy_node()
        rclpy.shutdown()
        return 0
    finally:
        sim.terminate()
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
        Path(config).unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
