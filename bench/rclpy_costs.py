"""Benchmark: what one message costs in rclpy, sending and receiving, typed and serialized.

    python bench/rclpy_costs.py [--topics 200] [--rate 50] [--seconds 20]

Two processes on loopback: a publisher of sensor_msgs/NavSatFix on ``--topics`` topics at
``--rate`` Hz each, and a subscriber on all of them, both spinning rclpy's EventsExecutor as
the fleet's nodes do. Three runs: typed messages both ways (what a plain rclpy node does),
the publisher sending CDR bytes packed by fleet_ros.cdr (fleet_sim), and the subscriber taking
them raw and reading the fields with fleet_ros.cdr (fleet_manager). For each: messages a
second received, CPU of each process, and CPU microseconds per message. These are the
per-message figures of docs/capacity.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def publisher(topics: int, rate: float, seconds: float, packed: bool) -> None:
    import rclpy
    from rclpy.experimental import EventsExecutor  # type: ignore[attr-defined]
    from rclpy.qos import qos_profile_sensor_data
    from rclpy.task import Future
    from sensor_msgs.msg import NavSatFix

    from fleet_ros import cdr

    rclpy.init()
    node = rclpy.create_node("cost_pub")
    pubs = [node.create_publisher(NavSatFix, f"/cost/v{i}/fix", qos_profile_sensor_data)
            for i in range(topics)]
    packer = cdr.NAV_SAT_FIX.packer("base_link")
    msg = NavSatFix()
    msg.header.frame_id = "base_link"
    cov = (0.0,) * 9

    def tick() -> None:
        now = time.time()
        sec, nanosec = int(now), int((now % 1) * 1e9)
        for k, p in enumerate(pubs):
            if packed:
                p.publish(packer.pack(sec, nanosec, 0, 1, 47.0 + k * 1e-4, 8.5, 500.0, *cov, 0))
            else:
                msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
                msg.latitude, msg.longitude, msg.altitude = 47.0 + k * 1e-4, 8.5, 500.0
                p.publish(msg)

    node.create_timer(1.0 / rate, tick)
    executor = EventsExecutor()
    executor.add_node(node)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        executor.spin_until_future_complete(Future(), timeout_sec=0.2)


def subscriber(topics: int, seconds: float, raw: bool, warmup: float) -> None:
    import rclpy
    from rclpy.experimental import EventsExecutor  # type: ignore[attr-defined]
    from rclpy.qos import qos_profile_sensor_data
    from rclpy.task import Future
    from sensor_msgs.msg import NavSatFix

    from fleet_ros import cdr

    rclpy.init()
    node = rclpy.create_node("cost_sub")
    count = [0]
    total = [0.0]

    def on_raw(data: bytes) -> None:
        count[0] += 1
        total[0] += cdr.NAV_SAT_FIX.unpack(data)[4]

    def on_typed(m: NavSatFix) -> None:
        count[0] += 1
        total[0] += m.latitude

    for i in range(topics):
        node.create_subscription(NavSatFix, f"/cost/v{i}/fix", on_raw if raw else on_typed,
                                 qos_profile_sensor_data, raw=raw)
    executor = EventsExecutor()
    executor.add_node(node)

    def spin(span: float) -> None:
        end = time.monotonic() + span
        while time.monotonic() < end:
            executor.spin_until_future_complete(Future(), timeout_sec=0.2)

    spin(warmup)
    c0, t0, w0 = count[0], time.process_time(), time.monotonic()
    spin(seconds)
    n, cpu, wall = count[0] - c0, time.process_time() - t0, time.monotonic() - w0
    print(f"{n / wall:.0f} {cpu / wall * 100:.1f} {cpu / max(n, 1) * 1e6:.1f}", flush=True)


def cpu_of(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--role", choices=["pub", "sub"], help=argparse.SUPPRESS)
    parser.add_argument("--packed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.topics < 1 or args.rate <= 0 or args.seconds <= 0 or args.warmup < 0:
        parser.error("need --topics >= 1, --rate > 0, --seconds > 0, --warmup >= 0")
    if args.role == "pub":
        publisher(args.topics, args.rate, args.seconds + args.warmup + 5, args.packed)
        return 0
    if args.role == "sub":
        subscriber(args.topics, args.seconds, args.raw, args.warmup)
        return 0
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("ROS_DOMAIN_ID", str(210 + os.getpid() % 20))
    offered = args.topics * args.rate
    print(f"rclpy per-message cost: {args.topics} NavSatFix topics x {args.rate:g} Hz = "
          f"{offered:.0f} msg/s offered, {args.seconds:g} s window (EventsExecutor)")
    base = [sys.executable, __file__, "--topics", str(args.topics), "--rate", str(args.rate),
            "--seconds", str(args.seconds), "--warmup", str(args.warmup)]
    for label, packed, raw in (("typed -> typed", False, False),
                               ("bytes (fleet_ros.cdr) -> typed", True, False),
                               ("bytes (fleet_ros.cdr) -> raw + fleet_ros.cdr", True, True)):
        pub = subprocess.Popen([*base, "--role", "pub", *(["--packed"] if packed else [])])
        time.sleep(1.0)
        sub = subprocess.Popen([*base, "--role", "sub", *(["--raw"] if raw else [])],
                               stdout=subprocess.PIPE, text=True)
        time.sleep(args.warmup)
        p0, w0 = cpu_of(pub.pid), time.monotonic()
        out, _ = sub.communicate(timeout=args.seconds + args.warmup + 60)
        p1, w1 = cpu_of(pub.pid), time.monotonic()
        pub.wait(timeout=60)
        received, sub_pct, sub_us = (float(x) for x in out.split())
        pub_pct = (p1 - p0) / (w1 - w0) * 100
        print(f"  {label:<46} received {received:6.0f} msg/s | publisher {pub_pct:5.1f}% "
              f"= {(p1 - p0) / ((w1 - w0) * offered) * 1e6:5.1f} us/msg sent | subscriber "
              f"{sub_pct:5.1f}% = {sub_us:5.1f} us/msg received")
    print(f"  load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
