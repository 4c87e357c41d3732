"""Benchmark: what starting a simulated fleet costs its own process and every other process
of the graph, with simple discovery and with a Fast DDS discovery server.

    python bench/discovery_cost.py [--vehicles 100] [--others 19] [--domain 152]

``--others`` idle rclpy processes (one node each, nothing else: the planner, the recorder, a
probe, fleet_manager shards look like this to the simulator) join a ROS domain; then one
fleet_sim with ``--vehicles`` vehicles (14 publishers and 9 services each) is constructed in a
process of its own. Printed for each discovery mode, against a run without the other
processes (the baseline, measured in the same run): the simulator's construction time (wall
and CPU) and the CPU the other processes spent meanwhile. This is the figure behind running
many small processes with a discovery server (docs/capacity.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from _common import check_ranges, cpu_seconds, discovery_server_env, held_domain

_IDLE = ("import rclpy, signal, threading\n"
         "rclpy.init()\n"
         "node = rclpy.create_node('idle_{k}')\n"
         "stop = threading.Event()\n"
         "signal.signal(signal.SIGTERM, lambda *_: stop.set())\n"
         "print('up', flush=True)\n"
         "stop.wait(600)\n"
         "node.destroy_node()\n"
         "rclpy.shutdown()\n")

_SIM = ("import sys, time\n"
        "import rclpy\n"
        "from rclpy.parameter import Parameter\n"
        "rclpy.init()\n"
        "from fleet_sim.node import FleetSimNode\n"
        "from fleet_ros.entry import installed_config\n"
        "wall, cpu = time.monotonic(), time.process_time()\n"
        "node = FleetSimNode(parameter_overrides=[Parameter('config_file', value=installed_config("
        "'fleet_sim', 'fleet_sim.yaml')), Parameter('vehicle_count', value={n})])\n"
        "print(f'{{time.monotonic() - wall:.2f}} {{time.process_time() - cpu:.2f}}', flush=True)\n"
        "node.destroy_node()\n"
        "rclpy.shutdown()\n")


def run(vehicles: int, others: int, env: dict[str, str]) -> tuple[float, float, float]:
    """Return (construction wall s, construction CPU s, the others' CPU s meanwhile)."""
    idle = [subprocess.Popen([sys.executable, "-c", _IDLE.format(k=k)], env=env,
                             stdout=subprocess.PIPE, text=True) for k in range(others)]
    try:
        for p in idle:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "up":
                raise RuntimeError(f"an idle process exited with {p.wait()}")
        time.sleep(2.0)  # they discover each other first: not the simulator's cost
        before = sum(cpu_seconds(p.pid) for p in idle)
        out = subprocess.run([sys.executable, "-c", _SIM.format(n=vehicles)], env=env,
                             capture_output=True, text=True, timeout=900, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"the simulator failed: {out.stderr[-2000:]}")
        after = sum(cpu_seconds(p.pid) for p in idle)
        wall, cpu = (float(x) for x in out.stdout.split()[-2:])
        return wall, cpu, after - before
    finally:
        for p in idle:
            p.terminate()
        for p in idle:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=100)
    parser.add_argument("--others", type=int, default=19)
    parser.add_argument("--domain", type=int, default=152, help="ROS_DOMAIN_ID (default 152)")
    args = parser.parse_args()
    check_ranges(parser, vehicles=(args.vehicles, 1, 500), others=(args.others, 0, 64),
                 domain=(args.domain, 0, 232))
    with held_domain(args.domain) as held:
        if not held:
            return 2
        print(f"one fleet_sim of {args.vehicles} vehicles constructed beside {args.others} idle "
              f"rclpy processes (load average {os.getloadavg()[0]:.2f})")
        print(f"  {'discovery':<18}{'others':>7}{'wall s':>8}{'CPU s':>7}{'others CPU s':>14}")
        for server_on in (False, True):
            with discovery_server_env(server_on):
                env = {**os.environ, "ROS_DOMAIN_ID": str(args.domain),
                       "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
                for others in (0, args.others):
                    wall, cpu, theirs = run(args.vehicles, others, env)
                    mode = "discovery server" if server_on else "simple"
                    print(f"  {mode:<18}{others:>7}{wall:>8.1f}{cpu:>7.1f}{theirs:>14.1f}",
                          flush=True)
        print(f"  load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
