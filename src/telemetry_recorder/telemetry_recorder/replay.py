"""Replay a stored telemetry slice onto ROS topics, as the vehicles published it.

    python -m telemetry_recorder.replay --vehicles uav0 --from 2026-05-01T12:00Z \\
        --to 2026-05-01T12:10Z --speed 4
    python -m telemetry_recorder.replay --mission m00042 --prefix replay

The messages are the ones a bag export writes (fleet_db.bags.iter_slice_messages): the
original MAVROS topic names and types, on their MAVROS QoS profiles, paced by their stamps
divided by ``--speed``. ``--prefix`` puts them under ``/<prefix>/...`` so that a replay never
mixes with a live vehicle of the same name. Exit status: 0 done, 1 failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import rclpy
from rclpy.node import Node
from rclpy.publisher import Publisher

from fleet_db.bags import iter_slice_messages
from fleet_db.bagtool import iso_time, vehicle_list
from fleet_db.db import FleetDbError, make_engine
from fleet_ros.mavros_io import message_class
from fleet_ros.qos import MAVROS_TOPIC_QOS, SENSOR_QOS


def _speed(value: str) -> float:
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.01 <= speed <= 1000.0:
        raise argparse.ArgumentTypeError(f"--speed {value} is outside 0.01..1000")
    return speed


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m telemetry_recorder.replay",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", metavar="URL", default=None,
                   help="SQLAlchemy URL (default: $FLEET_DATABASE_URL, else the local database)")
    p.add_argument("--vehicles", type=vehicle_list, metavar="ID[,ID...]", default=None)
    p.add_argument("--from", dest="t0", type=iso_time, metavar="ISO", default=None)
    p.add_argument("--to", dest="t1", type=iso_time, metavar="ISO", default=None)
    p.add_argument("--mission", metavar="ID", default=None,
                   help="replay the mission's vehicle over the mission's time window")
    p.add_argument("--speed", type=_speed, default=1.0, help="replay rate (default 1.0)")
    p.add_argument("--prefix", default="", help="namespace to publish under (default none)")
    return p


def replay(node: Node, messages: Any, *, speed: float, prefix: str) -> int:
    """Publish ``messages`` paced by their stamps; return how many were published."""
    publishers: dict[str, Publisher[Any]] = {}
    start_wall = time.monotonic()
    first_ns: int | None = None
    count = 0
    for m in messages:
        topic = f"/{prefix.strip('/')}{m.topic}" if prefix.strip("/") else m.topic
        pub = publishers.get(topic)
        if pub is None:
            suffix = m.topic.split("/mavros/", 1)[-1]
            qos = MAVROS_TOPIC_QOS.get(suffix, SENSOR_QOS)
            pub = publishers[topic] = node.create_publisher(message_class(m.msgtype), topic,
                                                            qos)
        first_ns = m.time_ns if first_ns is None else first_ns
        due = start_wall + (m.time_ns - first_ns) * 1e-9 / speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        pub.publish(m.cdr())  # rclpy publishes serialized bytes as they are
        count += 1
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay; see the module docstring."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.mission is None and (args.t0 is None or args.t1 is None):
        parser.error("replay needs --from and --to, or --mission")
    if args.t0 is not None and args.t1 is not None and args.t1 < args.t0:
        parser.error(f"--to {args.t1.isoformat()} is before --from {args.t0.isoformat()}")
    try:
        engine = make_engine(args.database_url)
    except FleetDbError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    rclpy.init()
    node = Node("telemetry_replay")
    try:
        with engine.connect() as conn:
            n = replay(node, iter_slice_messages(conn, args.vehicles, args.t0, args.t1,
                                                 mission_id=args.mission),
                       speed=args.speed, prefix=args.prefix)
        print(f"replayed {n} messages")
        return 0
    except (FleetDbError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
