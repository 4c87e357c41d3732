"""A node process stops cleanly however many SIGINT and SIGTERM arrive: a terminal Ctrl-C
under launch reaches every node twice, and the second one must not cut its shutdown short."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import claimed_domain

pytestmark = pytest.mark.ros

# A node whose shutdown takes a while, as the recorder's final spool sync does: it says when
# its flush began and ended.
SLOW_NODE = """
import sys, time
from rclpy.node import Node
from std_msgs.msg import String
from fleet_ros.entry import run_node

class SlowShutdown(Node):
    def __init__(self):
        super().__init__("slow_shutdown")
        if "--slow-start" in sys.argv:
            print("constructing", file=sys.stderr, flush=True)
            self.busy(1.0)
            # A stop asked for meanwhile shut the context down: this then raises.
            self.create_publisher(String, "~/started", 1)
        print("spinning", file=sys.stderr, flush=True)

    def busy(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            sum(range(1000))  # Python code, where a KeyboardInterrupt would land

    def destroy_node(self):
        print("flush started", file=sys.stderr, flush=True)
        self.busy(1.0)
        print("flush done", file=sys.stderr, flush=True)
        super().destroy_node()

sys.exit(run_node(SlowShutdown))
"""


class WatchedProcess:
    """A process and what it printed (stdout and stderr), line by line, read as it runs."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str],
                 **popen: Any) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, env=dict(env),
                                        **popen)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for_line(self, *texts: str, timeout: float = 30.0) -> None:
        """Wait until a line holding each of ``texts`` was printed."""
        deadline = time.monotonic() + timeout
        while not all(any(t in line for line in self.lines) for t in texts):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"no {texts!r} within {timeout} s:\n{self.output}")
            time.sleep(0.02)

    def signal(self, *signals: signal.Signals, gap_s: float = 0.05) -> None:
        for sig in signals:
            self.process.send_signal(sig)
            time.sleep(gap_s)

    def wait(self, timeout: float = 30.0) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5.0)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)


@contextmanager
def node_process(*command: str) -> Iterator[WatchedProcess]:
    with claimed_domain() as domain:
        node = WatchedProcess([sys.executable, *command],
                              {**os.environ, "ROS_DOMAIN_ID": str(domain)})
        try:
            yield node
        finally:
            if node.process.poll() is None:
                node.process.kill()
                node.process.wait()


def test_fleet_manager_exits_0_without_a_traceback_after_two_quick_sigints(
        tmp_path: Path) -> None:
    config = tmp_path / "fleet.yaml"
    config.write_text(yaml.safe_dump({"fleet_manager": {
        "origin": {"latitude": 47.397742, "longitude": 8.545594, "altitude": 488.0},
        "vehicles": [{"id": "uav0"}], "discovery": {"enabled": False}}}))
    with node_process("-m", "fleet_manager", "--ros-args", "-p",
                      f"config_file:={config}") as node:
        node.wait_for_line("managing 1 configured vehicles")
        node.signal(signal.SIGINT, signal.SIGINT)
        assert node.wait() == 0, node.output
    assert "Traceback" not in node.output
    assert "KeyboardInterrupt" not in node.output


@pytest.mark.parametrize("signals", [
    (signal.SIGINT, signal.SIGINT),
    (signal.SIGINT, signal.SIGINT, signal.SIGINT, signal.SIGINT),
    (signal.SIGINT, signal.SIGTERM),
    (signal.SIGTERM, signal.SIGINT),
], ids=["terminal-and-launch", "many", "then-sigterm", "sigterm-first"])
def test_signals_during_the_final_flush_let_it_finish(signals: tuple[signal.Signals, ...]
                                                      ) -> None:
    with node_process("-c", SLOW_NODE) as node:
        node.wait_for_line("spinning")
        # The first stops the spin; the others arrive while destroy_node() flushes.
        node.signal(*signals, gap_s=0.25)
        assert node.wait() == 0, node.output
    assert "flush done" in node.output
    assert "Traceback" not in node.output


def test_sigints_during_start_up_stop_the_process_with_0_and_no_traceback() -> None:
    with node_process("-c", SLOW_NODE, "--slow-start") as node:
        node.wait_for_line("constructing")
        node.signal(signal.SIGINT, signal.SIGINT)
        assert node.wait() == 0, node.output
    assert "Traceback" not in node.output
    assert "spinning" not in node.output
