"""Running a node as a process: init, spin, and a clean exit on Ctrl-C or shutdown."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from fleet_core.errors import FleetCoreError


def run_node(factory: Callable[[], Node], args: Sequence[str] | None = None) -> int:
    """Create the node with ``factory`` and spin it until shutdown; return an exit code.

    Configuration errors are reported in one line naming the bad value, with exit code 2.
    """
    with rclpy.init(args=list(args) if args is not None else None):
        try:
            node = factory()
        except (FleetCoreError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        try:
            executor.spin()
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            executor.shutdown()
            node.destroy_node()
    return 0
