"""What the launch files in launch/ share: their arguments read as the types they stand for
(an error names the argument), node parameters as command-line rules, and the rule that a
node ending while the launch runs ends the launch with an error.

Free of the launch packages, which no registry here carries, so that it is tested without
them: the launch files pass in ``context.launch_configurations`` and their exit events.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Protocol

from fleet_core.sim.config import MAX_VEHICLES, TIME_FACTORS

LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")
"""The severities ``--log-level`` of a ROS node takes."""

_NAMESPACE = re.compile(r"^(/[A-Za-z_][A-Za-z0-9_]*)*$")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
# web_bridge logs through Python's logging (uvicorn's names), which has no warn or fatal.
_PYTHON_LEVELS = {"debug": "debug", "info": "info", "warn": "warning", "error": "error",
                  "fatal": "error"}


class LaunchArgumentError(ValueError):
    """A launch argument has a value the launch cannot use; the message names it."""

    def __init__(self, name: str, value: str, expected: str) -> None:
        super().__init__(f"launch argument {name}:={value!r} must be {expected}")


class LaunchArguments:
    """The launch arguments of one launch (``context.launch_configurations``), typed."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def text(self, name: str) -> str:
        """Return the argument as given, without surrounding blanks."""
        return str(self._values[name]).strip()

    def flag(self, name: str) -> bool:
        """Return a true/false argument (also 1/0, yes/no, on/off)."""
        value = self.text(name)
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise LaunchArgumentError(name, value, "true or false")

    def integer(self, name: str, low: int, high: int, expected: str = "") -> int:
        """Return an integer argument in ``low..high``."""
        value = self.text(name)
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise LaunchArgumentError(name, value, expected or f"an integer {low}..{high}")
        return number

    def choice(self, name: str, options: tuple[str, ...]) -> str:
        """Return an argument that is one of ``options`` (case-insensitive)."""
        value = self.text(name)
        if value.lower() not in options:
            raise LaunchArgumentError(name, value, "one of " + ", ".join(options))
        return value.lower()

    def vehicle_count(self, name: str = "vehicle_count") -> int:
        """Return how many vehicles to simulate; 0 leaves it to fleet_sim's config file."""
        return self.integer(name, 0, MAX_VEHICLES, f"an integer 1..{MAX_VEHICLES}, or 0 for "
                            "the config file's count")

    def time_factor(self, name: str = "time_factor") -> float:
        """Return simulated seconds per wall second; 0 leaves it to fleet_sim's config file."""
        value = self.text(name)
        low, high = TIME_FACTORS
        try:
            factor = float(value)
        except ValueError:
            factor = math.nan
        if factor != 0.0 and not low <= factor <= high:
            raise LaunchArgumentError(name, value, f"a number {low:g}..{high:g}, or 0 for the "
                                      "config file's")
        return factor

    def log_level(self, name: str = "log_level") -> str:
        """Return a ROS log severity (``--log-level`` of every node)."""
        return self.choice(name, LOG_LEVELS)

    def namespace(self, name: str = "namespace") -> str:
        """Return a ROS namespace as an absolute name without a trailing '/', or ""."""
        value = self.text(name)
        absolute = "/" + value.strip("/") if value.strip("/") else ""
        if not _NAMESPACE.match(absolute):
            raise LaunchArgumentError(name, value, "a ROS namespace such as 'site_a' or "
                                      "'/fleet/site_a' (letters, digits and '_')")
        return absolute


def python_log_level(ros_level: str) -> str:
    """Return the Python logging level (web_bridge's --log-level) nearest a ROS severity."""
    return _PYTHON_LEVELS[ros_level]


def param(name: str, value: bool | int | float | str) -> list[str]:
    """Return the ``-p name:=value`` rule that gives a node the parameter with this type.

    A parameter dictionary makes launch_ros write a /tmp/launch_params_* file per node, which
    it never deletes. rcl reads the value as YAML: a float keeps its decimal point (``2.0``,
    not ``2``, which rclpy refuses for a double) and text is quoted, so that a path or URL
    such as ``on`` or ``123`` stays text.
    """
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"parameter {name}: {value} is not a finite number")
        text = repr(value)
    else:
        text = "'" + value.replace("'", "''") + "'"
    return ["-p", f"{name}:={text}"]


class ExitEvent(Protocol):
    """What launch's ProcessExited tells (launch.events.process.ProcessExited)."""

    @property
    def process_name(self) -> str: ...

    @property
    def returncode(self) -> int: ...


class RunningLaunch(Protocol):
    """What a LaunchContext tells of the launch."""

    @property
    def is_shutdown(self) -> bool: ...


class ProcessEndedError(RuntimeError):
    """A process the launch needs ended while the launch was running."""


def end_launch_on_exit(event: ExitEvent, context: RunningLaunch) -> None:
    """Stop the launch with an error when a process ends while the launch runs.

    Given as ``on_exit`` of every process the graph needs. A Shutdown action would stop the
    launch too, but with exit code 0: a node that died of a bad argument then looked like a
    clean run to a script. launch logs the error, shuts everything down and returns 1.
    Exits after a shutdown began (Ctrl-C, the end of a test) are the shutdown itself.
    """
    if context.is_shutdown:
        return
    raise ProcessEndedError(
        f"{event.process_name} ended with exit code {event.returncode} while the launch was "
        "running (its output above says why); stopping the launch")
