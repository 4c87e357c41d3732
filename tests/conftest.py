"""Test-wide settings: DDS stays on loopback and every ROS test gets its own domain."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

# Set before anything imports rclpy: Fast DDS reads these when a participant is created.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")

# Distinct domains per test, offset by the process id so that concurrent pytest runs on one
# machine do not share a domain either (Fast DDS on Linux accepts ids 0..232).
_domains = itertools.count((os.getpid() % 20) * 10 + 1)


def next_domain_id() -> int:
    """Return a DDS domain id no other test in this run uses."""
    return 1 + (next(_domains) - 1) % 200


@pytest.fixture
def graph() -> Iterator[object]:
    """Yield a RosGraph in a private Context and domain, closed after the test."""
    from fleet_ros.graph import RosGraph

    g = RosGraph(domain_id=next_domain_id())
    try:
        yield g
    finally:
        g.close()
