"""Benchmark: fleet_manager under a simulated fleet (default 500 vehicles).

Three processes: fleet_sim (N vehicles, position at 5 Hz, state/battery at 1 Hz),
fleet_manager (discovers them all), and this one, which listens to /fleet/status. After
every vehicle appears in /fleet/status, it measures over a window: the /fleet/status rate,
the age of the newest sample in each status message when it arrives, the median age of
the per-vehicle samples (first vs second half of the window: a growing age would mean a
backlog), the CPU use of all three processes and the load average. The listener is its
own process, so its figures are not delayed by fleet_sim's or fleet_manager's work — only by
the machine's load, which is printed for that reason.

With --discovery-server the three find each other through a Fast DDS discovery server on
127.0.0.1 (started and stopped here; fleet_manager a super client, which it must be to list
the vehicles' topics) instead of simple discovery; the warm-up line is the discovery time to
compare.

    python bench/fleet_manager_load.py [--vehicles 500] [--seconds 60] [--discovery-server]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml
from _common import Spinner, cpu_seconds, discovery_server_env, shipped_config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup-timeout", type=float, default=240.0)
    parser.add_argument("--discovery-server", action="store_true",
                        help="discover through a Fast DDS discovery server on 127.0.0.1")
    args = parser.parse_args()
    # fleet_sim simulates 500 vehicles at most (fleet_core.sim.config.MAX_VEHICLES).
    if not 1 <= args.vehicles <= 500:
        parser.error(f"--vehicles must be 1..500, got {args.vehicles}")
    if not args.seconds > 0 or not args.warmup_timeout > 0:
        parser.error(f"--seconds and --warmup-timeout must be > 0, got {args.seconds:g} and "
                     f"{args.warmup_timeout:g}")
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 50))
    from fleet_bringup.discovery import DiscoveryServerError

    try:
        with discovery_server_env(args.discovery_server) as server:
            locator = server.locator if server is not None else ""
            fm_env = (dict(os.environ, **server.client_env(super_client=True))
                      if server is not None else None)
            return run(args, locator, fm_env)
    except DiscoveryServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace, locator: str, fm_env: dict[str, str] | None) -> int:
    """Start fleet_sim and fleet_manager (fleet_manager with ``fm_env``), measure, stop."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from fleet_interfaces.msg import FleetStatus
    from fleet_manager.node import FLEET_QOS

    tmp = Path(tempfile.mkdtemp(prefix="fm_bench_"))
    sim_doc = shipped_config("fleet_sim.yaml")
    sim_doc["fleet_sim"].update(position_rate_hz=5.0, state_rate_hz=1.0)
    sim_doc["fleet_sim"]["vehicles"] = sim_doc["fleet_sim"]["vehicles"][:1]
    (tmp / "sim.yaml").write_text(yaml.safe_dump(sim_doc))
    fm_doc = shipped_config("fleet.yaml")
    fm_doc["fleet_manager"]["vehicles"] = []
    fm_doc["fleet_manager"]["status_rate_hz"] = 2.0
    (tmp / "fleet.yaml").write_text(yaml.safe_dump(fm_doc))

    procs = [
        subprocess.Popen([sys.executable, "-m", "fleet_sim", "--ros-args",
                          "-p", f"config_file:={tmp / 'sim.yaml'}",
                          "-p", f"vehicle_count:={args.vehicles}", "--log-level", "warn"]),
        subprocess.Popen([sys.executable, "-m", "fleet_manager", "--ros-args",
                          "-p", f"config_file:={tmp / 'fleet.yaml'}", "--log-level", "warn"],
                         env=fm_env),
    ]
    sim, fm = procs
    try:
        rclpy.init()
        node = rclpy.create_node("fm_load_bench")
        lock = threading.Lock()
        rows: list[tuple[float, int, float, float]] = []  # (arrival, n, newest age, median age)

        def on_status(msg: FleetStatus) -> None:
            now = time.time()
            stamps = [v.stamp.sec + v.stamp.nanosec * 1e-9 for v in msg.vehicles
                      if v.stamp.sec > 0]
            if not stamps:
                return
            with lock:
                rows.append((now, len(msg.vehicles), now - max(stamps),
                             now - statistics.median(stamps)))

        node.create_subscription(FleetStatus, "/fleet/status", on_status, FLEET_QOS)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        spinner = Spinner(executor)
        t0 = time.monotonic()
        while True:
            with lock:
                seen = rows[-1][1] if rows else 0
            if seen >= args.vehicles:
                break
            if time.monotonic() - t0 > args.warmup_timeout or any(
                    p.poll() is not None for p in procs):
                print(f"warm-up failed: {seen}/{args.vehicles} vehicles in /fleet/status",
                      file=sys.stderr)
                return 1
            time.sleep(0.5)
        warmup = time.monotonic() - t0
        warmup_load = os.getloadavg()
        time.sleep(5.0)
        with lock:
            rows.clear()
        me = os.getpid()
        c_sim, c_fm, c_me, w0 = (cpu_seconds(sim.pid), cpu_seconds(fm.pid), cpu_seconds(me),
                                 time.monotonic())
        time.sleep(args.seconds)
        c_sim1, c_fm1, c_me1, w1 = (cpu_seconds(sim.pid), cpu_seconds(fm.pid), cpu_seconds(me),
                                    time.monotonic())
        load = os.getloadavg()
        spinner.stop()
        with lock:
            window = list(rows)
        span = w1 - w0
        newest = [r[2] for r in window]
        half = len(window) // 2
        first = statistics.median(r[3] for r in window[:half]) if half else float("nan")
        second = statistics.median(r[3] for r in window[half:]) if half else float("nan")
        print(f"fleet_manager load benchmark: {args.vehicles} vehicles (position 5 Hz, "
              f"state/battery 1 Hz), window {span:.0f} s")
        print(f"  discovery: {'discovery server ' + locator if locator else 'simple (no server)'}")
        print(f"  warm-up until every vehicle was in /fleet/status: {warmup:.1f} s (load average "
              f"{warmup_load[0]:.2f} {warmup_load[1]:.2f} then)")
        print(f"  /fleet/status rate: {len(window) / span:.2f} Hz (target 2)")
        print(f"  age of the newest sample on arrival: median {statistics.median(newest)*1000:.0f}"
              f" ms, p95 {sorted(newest)[int(0.95 * (len(newest) - 1))]*1000:.0f} ms, "
              f"max {max(newest)*1000:.0f} ms (target < 500)")
        print(f"  median per-vehicle sample age: first half {first*1000:.0f} ms, "
              f"second half {second*1000:.0f} ms (growing = backlog)")
        print(f"  CPU: fleet_manager {100 * (c_fm1 - c_fm) / span:.0f}% of one core, "
              f"fleet_sim {100 * (c_sim1 - c_sim) / span:.0f}%, this listener "
              f"{100 * (c_me1 - c_me) / span:.0f}% ({os.cpu_count()} cores; load average "
              f"{load[0]:.2f} {load[1]:.2f} at the end)")
        node.destroy_node()
        rclpy.shutdown()
        return 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
