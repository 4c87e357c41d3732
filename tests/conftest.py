"""Test-wide settings: DDS stays on loopback and every ROS test gets its own domain."""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Set before anything imports rclpy: Fast DDS reads these when a participant is created.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")

# Distinct domains per test, and across concurrent pytest runs on one machine: each test
# claims its domain id with an exclusive lock file, so two runs (say a developer's and a
# helper's) never put two fleet_sims with the same vehicle ids in one domain. Fast DDS on Linux
# accepts ids 0..232; 1..200 are used.
_DOMAINS = 200
_LOCK_DIR = Path(tempfile.gettempdir()) / "fleet-ros-domains"
_start = itertools.count(random.randrange(_DOMAINS))


@contextlib.contextmanager
def claimed_domain() -> Iterator[int]:
    """Yield a DDS domain id that no other test on this machine holds, and hold it."""
    _LOCK_DIR.mkdir(exist_ok=True)
    first = next(_start)
    for k in range(_DOMAINS):
        domain = 1 + (first + k) % _DOMAINS
        with open(_LOCK_DIR / f"{domain}.lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            next(_start)  # the next test starts further on: DDS may still linger here
            yield domain
            return
    raise RuntimeError(f"all {_DOMAINS} DDS domains are held by other tests ({_LOCK_DIR})")


@pytest.fixture
def graph() -> Iterator[object]:
    """Yield a RosGraph in a private Context and domain, closed after the test."""
    from fleet_ros.graph import RosGraph

    with claimed_domain() as domain:
        g = RosGraph(domain_id=domain)
        g.domain_id = domain  # type: ignore[attr-defined]  # for processes joining this graph
        try:
            yield g
        finally:
            g.close()


_EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Close what a test left spinning, and say what it was."""
    session.config.stash[_EXIT_STATUS] = int(exitstatus)
    import sys
    import threading

    if "fleet_ros.graph" in sys.modules:
        from fleet_ros.graph import open_graphs

        for g in open_graphs():
            print(f"\nconftest: a RosGraph was left open (domain {g.context.get_domain_id()}); "
                  "closing it", file=sys.stderr)
            g.close()
    left = [t.name for t in threading.enumerate()
            if t is not threading.main_thread() and t.is_alive()]
    if left:
        print(f"\nconftest: threads alive at the end of the session: {sorted(left)}",
              file=sys.stderr)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the process here, with the session's status, once pytest has reported everything.

    The interpreter's own finalization is skipped on purpose: daemon threads of the libraries
    under test (DDS, rclpy executors, uvicorn servers) may still be inside C++ calls then, and
    a thread that comes back into a finalizing interpreter is unwound by force, which aborts
    the process after every test passed ("terminate called without an active exception" in
    CI). Every node process the tests start exits on its own path, which the tests check.
    """
    import sys

    status = config.stash.get(_EXIT_STATUS, None)
    if status is None:  # no session ran (a usage error): pytest's own exit says why
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
