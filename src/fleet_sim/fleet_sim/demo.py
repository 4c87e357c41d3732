"""A short demo of the simulated fleet, driven only through MAVROS topics and services.

Starts fleet_sim with the shipped config, pushes a square survey to uav0 and flies it in
AUTO.MISSION, takes uav1 off and brings it back with RTL, and prints what a MAVROS client
sees. Runs faster than real time (``--time-factor``) and ends by itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

from mavros_msgs.msg import State, Waypoint
from mavros_msgs.srv import CommandBool, CommandLong, CommandTOL, SetMode, WaypointPush
from rclpy.parameter import Parameter
from sensor_msgs.msg import BatteryState

from fleet_core.geo import LocalFrame
from fleet_core.mavlink import MavCmd
from fleet_core.mavros_topics import MavrosTopic
from fleet_ros.graph import RosGraph
from fleet_ros.mavros_io import subscribe
from fleet_sim.node import FleetSimNode


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--time-factor", type=float, default=5.0,
                        help="simulated seconds per wall second (default 5)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="give up after this many wall seconds (default 120)")
    args = parser.parse_args(argv)
    if not 0.1 <= args.time_factor <= 50:
        parser.error(f"--time-factor must be 0.1..50, got {args.time_factor}")
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

    with RosGraph() as graph:
        sim = FleetSimNode(context=graph.context, parameter_overrides=[
            Parameter("time_factor", value=float(args.time_factor))])
        graph.add(sim)
        client = graph.node("demo_client")
        lock = threading.Lock()
        states: dict[str, State] = {}
        batteries: dict[str, float] = {}

        def on_state(vid: str):  # type: ignore[no-untyped-def]
            def cb(msg: State) -> None:
                with lock:
                    old = states.get(vid)
                    states[vid] = msg
                if old is None or (old.mode, old.armed) != (msg.mode, msg.armed):
                    print(f"  [{vid}] mode {msg.mode:<13} armed={msg.armed}")
            return cb

        def on_text(vid: str):  # type: ignore[no-untyped-def]
            return lambda msg: print(f"  [{vid}] autopilot: {msg.text}")

        def on_battery(vid: str):  # type: ignore[no-untyped-def]
            def cb(msg: BatteryState) -> None:
                with lock:
                    batteries[vid] = msg.percentage * 100
            return cb

        for vid in ("uav0", "uav1"):
            subscribe(client, f"/{vid}/mavros", {
                MavrosTopic.STATE: on_state(vid), MavrosTopic.STATUS_TEXT: on_text(vid),
                MavrosTopic.BATTERY: on_battery(vid)})
        subscribe(client, "/uav0/mavros", {
            MavrosTopic.REACHED: lambda m: print(f"  [uav0] mission item {m.wp_seq} reached")})

        uav0 = sim.by_id["uav0"].config.home
        frame = LocalFrame.at(uav0)
        square = [(0, 0, MavCmd.NAV_TAKEOFF), (80, 0, MavCmd.NAV_WAYPOINT),
                  (80, 80, MavCmd.NAV_WAYPOINT), (0, 80, MavCmd.NAV_WAYPOINT),
                  (0, 0, MavCmd.NAV_LAND)]
        waypoints = []
        for east, north, cmd in square:
            g = frame.to_geo(float(east), float(north), 0.0)
            waypoints.append(Waypoint(frame=Waypoint.FRAME_GLOBAL_REL_ALT, command=int(cmd),
                                      autocontinue=True, x_lat=g.latitude, y_long=g.longitude,
                                      z_alt=25.0))
        print(f"fleet_sim: {len(sim.vehicles)} vehicles, time factor {args.time_factor:g}")
        print("uav0: push a 5-item square mission, AUTO.MISSION, arm")
        push = graph.call(client.create_client(WaypointPush, "/uav0/mavros/mission/push"),
                          WaypointPush.Request(waypoints=waypoints))
        print(f"  mission/push -> success={push.success} transferred={push.wp_transfered}")
        graph.call(client.create_client(SetMode, "/uav0/mavros/set_mode"),
                   SetMode.Request(custom_mode="AUTO.MISSION"))
        graph.call(client.create_client(CommandBool, "/uav0/mavros/cmd/arming"),
                   CommandBool.Request(value=True))
        print("uav1: takeoff to 20 m, then RTL")
        home1 = sim.by_id["uav1"].config.home
        graph.call(client.create_client(CommandTOL, "/uav1/mavros/cmd/takeoff"),
                   CommandTOL.Request(altitude=float(home1.altitude + 20.0)))
        graph.call(client.create_client(CommandBool, "/uav1/mavros/cmd/arming"),
                   CommandBool.Request(value=True))
        graph.wait_for(lambda: (s := states.get("uav1")) and s.mode == "AUTO.LOITER"
                       and s.armed, args.timeout, "uav1 takeoff")
        rtl = graph.call(client.create_client(CommandLong, "/uav1/mavros/cmd/command"),
                         CommandLong.Request(command=int(MavCmd.NAV_RETURN_TO_LAUNCH)))
        print(f"  uav1 cmd/command NAV_RETURN_TO_LAUNCH -> result={rtl.result}")
        deadline = time.monotonic() + args.timeout

        def landed(vid: str) -> bool:
            with lock:
                s = states.get(vid)
            return s is not None and not s.armed and s.mode in ("AUTO.MISSION", "AUTO.RTL")

        graph.wait_for(lambda: landed("uav0") and landed("uav1"),
                       max(1.0, deadline - time.monotonic()), "both vehicles to land")
        with lock:
            print("done: both vehicles landed and disarmed; battery "
                  + ", ".join(f"{k} {v:.1f}%" for k, v in sorted(batteries.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
