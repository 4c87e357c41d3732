"""A process of the multi-host test, run inside a host's namespace:

    python -m tests.multihost.probe --vehicles a,b --out counts.json [--watch watch.jsonl]
        [--record --spool DIR --fleet-config FILE]

It counts every position fix (NavSatFix with a fix, the samples a telemetry row is made of)
a subscriber of its own receives from each vehicle, keyed as the recorder keys its rows:
(vehicle, time at microsecond precision). With ``--record`` it also runs telemetry_recorder
in the same process and DDS participant, and counts the fixes the recorder's own
subscriptions handed to it: each must become exactly one row. (The two counts can differ
under load: the recorder's best-effort readers keep MAVROS's last 5 samples, and a busy
executor lets older ones be replaced before its callback runs; the counter keeps 10,000.)
With ``--watch`` it appends what fleet_manager says (each vehicle's liveness on
/fleet/status, twice a second, and every /fleet/events message) to a JSON-lines file the
test reads while it runs. On SIGINT it stops the nodes (the recorder writes its last rows)
and writes the counts.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

from fleet_core.mavros_topics import MavrosTopic
from fleet_ros import fleet_topics as topics
from fleet_ros.mavros_convert import fix_position_from_msg, stamp_from_msg
from fleet_ros.mavros_io import message_class
from fleet_ros.qos import mavros_qos
from telemetry_recorder.node import TelemetryRecorderNode

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WITNESS_DEPTH = 10_000  # fixes kept per vehicle for the counter: ~17 min at 10 Hz


def micros(at: datetime) -> int:
    """A row's time as an integer of microseconds since the epoch."""
    return (at - EPOCH) // timedelta(microseconds=1)


class Watch:
    """Appends fleet_manager's view to a JSON-lines file, flushed line by line."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._last_status = 0.0

    def _write(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._out.write(json.dumps({"t": time.time(), **entry}) + "\n")
            self._out.flush()

    def on_status(self, msg: Any) -> None:
        now = time.monotonic()
        if now - self._last_status < 0.5:
            return
        self._last_status = now
        self._write({"status": {str(v.vehicle_id): int(v.liveness) for v in msg.vehicles}})

    def on_event(self, msg: Any) -> None:
        self._write({"event": {"id": str(msg.id), "type": int(msg.type),
                               "state": int(msg.state),
                               "vehicles": [str(v) for v in msg.vehicle_ids]}})


class CountingRecorder(TelemetryRecorderNode):
    """The recorder, counting the fixes its subscriptions deliver before it handles them."""

    def __init__(self, count: Callable[[str, Any], None], **kwargs: Any) -> None:
        self._count = count  # before the base class subscribes
        super().__init__(**kwargs)

    def on_vehicle_message(self, topic: MavrosTopic, vid: str, msg: Any) -> None:
        if topic is MavrosTopic.FIX:
            self._count(vid, msg)
        super().on_vehicle_message(topic, vid, msg)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tests.multihost.probe", description=__doc__)
    parser.add_argument("--vehicles", required=True, help="comma-separated vehicle ids")
    parser.add_argument("--out", required=True, type=Path, help="the counts (JSON), at exit")
    parser.add_argument("--watch", type=Path, help="fleet_manager's view (JSON lines)")
    parser.add_argument("--record", action="store_true", help="run the recorder here too")
    parser.add_argument("--spool", default="", help="the recorder's spool directory")
    parser.add_argument("--fleet-config", default="", help="the recorder's fleet.yaml")
    args = parser.parse_args(argv)
    vehicles = [v for v in args.vehicles.split(",") if v]
    if not vehicles:
        parser.error(f"--vehicles names no vehicle: {args.vehicles!r}")
    fixes: dict[str, set[int]] = {v: set() for v in vehicles}
    handled: dict[str, set[int]] = {v: set() for v in vehicles}
    lock = threading.Lock()
    metrics: dict[str, Any] = {}
    recorder: CountingRecorder | None = None

    def counter_of(into: dict[str, set[int]]) -> Callable[[str, Any], None]:
        def on_fix(vid: str, msg: Any) -> None:
            stamp = stamp_from_msg(msg)
            if stamp is None or fix_position_from_msg(msg) is None:
                return  # no fix: the recorder makes no row of it
            with lock:
                into[vid].add(micros(datetime.fromtimestamp(stamp, tz=UTC)))
        return on_fix

    # The default context (rclpy's SIGINT handler shuts it down, not a context of our own)
    # and the executor the graph tests use (fleet_ros.graph.RosGraph's multi-threaded one;
    # with rclpy's EventsExecutor the recorder's start-up drain never completed in this
    # process), spinning in the main thread until SIGINT; then the nodes are destroyed in
    # order (the recorder writes its last rows).
    signal.signal(signal.SIGINT, lambda _signum, _frame: None)  # rclpy's handler chains here
    rclpy.init()
    context = rclpy.get_default_context()
    nodes: list[Node] = []
    watch_file = args.watch.open("a", encoding="utf-8") if args.watch else None
    try:
        counter = Node("multihost_counter", context=context)
        nodes.append(counter)
        on_fix = counter_of(fixes)
        # The witness keeps far more than MAVROS's 5 samples (best-effort still, so it
        # matches the simulator): on host A it must see every fix published, and a busy
        # executor let a depth-5 history replace one before its callback ran (a CI run
        # stored a row A's counter had missed).
        witness_qos = copy.copy(mavros_qos(MavrosTopic.FIX))
        witness_qos.depth = WITNESS_DEPTH
        for vid in vehicles:
            counter.create_subscription(message_class(MavrosTopic.FIX.msgtype),
                                        MavrosTopic.FIX.under(f"/{vid}/mavros"),
                                        functools.partial(on_fix, vid), witness_qos)
        if watch_file is not None:
            watch = Watch(watch_file)
            topics.subscribe_fleet(counter, {topics.FLEET_STATUS: watch.on_status,
                                             topics.COORDINATION_EVENTS: watch.on_event})
        if args.record:
            recorder = CountingRecorder(counter_of(handled), context=context,
                                        parameter_overrides=[
                                            Parameter("spool_dir", value=args.spool),
                                            Parameter("fleet_config_file",
                                                      value=args.fleet_config),
                                            Parameter("retain_days", value=3650),
                                            # From the start, not once /fleet/status names
                                            # them.
                                            Parameter("vehicles", value=vehicles)])
            nodes.append(recorder)
        executor = MultiThreadedExecutor(num_threads=4, context=context)
        for node in nodes:
            executor.add_node(node)
        print("probe: running", flush=True)
        while context.ok():
            try:
                executor.spin_once(timeout_sec=0.2)
            except Exception:
                if context.ok():
                    raise
                # Shut down under the spinning call (ExternalShutdownException, or an
                # RCLError from the wait set): the stop asked for.
        print("probe: stopping", flush=True)
        if recorder is not None:  # before it closes (its spool is gone after)
            m = recorder.writer.metrics()
            metrics = {"accepted": m.accepted, "written": m.written,
                       "duplicates_skipped": m.duplicates_skipped, "last_error": m.last_error}
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # only ending now
        for node in reversed(nodes):
            node.destroy_node()  # the recorder writes its last rows
        rclpy.try_shutdown(context=context)
        if watch_file is not None:
            watch_file.close()
    with lock:
        counts = {vid: sorted(s) for vid, s in fixes.items()}
        by_recorder = {vid: sorted(s) for vid, s in handled.items()}
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"fixes": counts, "recorder_fixes": by_recorder,
                               "recorder": metrics}), encoding="utf-8")
    tmp.replace(args.out)
    print("probe: counts written", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
