"""Running a node as a process: init, spin, and a clean exit on Ctrl-C or shutdown."""

from __future__ import annotations

import gc
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import rclpy
from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.experimental import EventsExecutor  # type: ignore[attr-defined]
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.task import Future

from fleet_core.errors import FleetCoreError


def installed_config(package: str, name: str) -> str:
    """Return ``share/<package>/config/<name>`` of the installed package, or "" if absent."""
    try:
        return str(Path(get_package_share_directory(package)) / "config" / name)
    except PackageNotFoundError:
        return ""


def read_only(description: str) -> ParameterDescriptor:
    """Describe a parameter read once at start-up: a later change is refused, not ignored."""
    return ParameterDescriptor(description=description, read_only=True)


def make_executor(kind: str = "events") -> Executor:
    """Return the executor a node process spins with.

    ``events`` is rclpy's EventsExecutor: it does not rebuild a wait set of every entity on
    each spin, which matters for nodes with thousands of entities (fleet_sim with 500
    vehicles: 45% instead of 100% of a core, measured). ``single`` is the classic executor.
    """
    if kind == "events":
        return EventsExecutor()
    if kind == "single":
        return SingleThreadedExecutor()
    raise ValueError(f"unknown executor kind {kind!r}; expected 'events' or 'single'")


def settle_garbage_collector() -> None:
    """Move everything built so far out of the collector's sight (``gc.freeze``).

    After imports and node set-up a process holds ~100k long-lived objects that are never
    garbage; every full collection scans them all. Measured in bench/history_query.py: one
    such collection stalled a 19 ms query to 70 ms; frozen, the worst of 100 was 21 ms.
    """
    gc.collect()
    gc.freeze()


def _quiet_interrupts() -> None:
    """Make SIGINT stop the spin without a KeyboardInterrupt, however often it arrives.

    rclpy's own handler (installed by ``rclpy.init``) shuts the context down, which ends the
    spin; it then calls the Python handler it found, whose KeyboardInterrupt lands wherever
    the main thread is. Under launch a terminal Ctrl-C arrives twice (from the terminal and
    from launch), so the second one landed in ``destroy_node()`` and cut the recorder's final
    spool sync short. Set before ``rclpy.init``, so that rclpy chains to this no-op. SIGTERM
    needs nothing: rclpy does not chain it to the default handler.
    """
    signal.signal(signal.SIGINT, lambda _signum, _frame: None)


def ignore_stop_signals() -> None:
    """Ignore SIGINT and SIGTERM from here to the end of the process (call it once the
    process's work is done and it is only exiting).

    The interpreter's exit restores the default handlers of every signal Python handled
    (all but ignored ones), and tearing DDS down takes a few hundred ms: a second Ctrl-C then
    killed the process with -2, which launch reports as "process has died".
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def run_node(factory: Callable[[], Node], args: Sequence[str] | None = None,
             executor_kind: str = "events") -> int:
    """Create the node with ``factory`` and spin it until shutdown; return an exit code.

    Meant as a node process's main. Configuration errors are reported in one line naming the
    bad value, with exit code 2. SIGINT or SIGTERM, once or many times, stop the spin;
    ``destroy_node()`` then runs to the end (a recorder's flush) and the exit code is 0. When
    this returns, both signals are ignored: the process is only ending.
    """
    _quiet_interrupts()
    try:
        return _spin_node(factory, args, executor_kind)
    finally:
        ignore_stop_signals()


def _spin_node(factory: Callable[[], Node], args: Sequence[str] | None,
               executor_kind: str) -> int:
    with rclpy.init(args=list(args) if args is not None else None) as init:
        context = init.context
        try:
            node = factory()
        except (FleetCoreError, ValueError, ParameterException) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except Exception:
            if context.ok():
                raise
            # A signal during start-up shut the context down under the constructor; what
            # that made it raise (an invalid context) is the stop asked for, not a fault.
            return 0
        executor = make_executor(executor_kind)
        executor.add_node(node)
        settle_garbage_collector()
        try:
            # Bounded spins, not spin(): EventsExecutor.spin() in rclpy 9.1 keeps a core busy
            # and does not return after shutdown (measured). Not spin_once() either: it runs
            # one callback per call, and the Python loop around it cost ~20 us per message
            # (94 vs 75 us per message received, measured). spin_until_future_complete runs
            # callbacks until the timeout; the future is new each time because the
            # EventsExecutor adds a done-callback to it on every call.
            while context.ok():
                try:
                    executor.spin_until_future_complete(Future(), timeout_sec=0.2)
                except _rclpy.RCLError:
                    if context.ok():
                        raise
                    # The signal shut the context down between the check above and the
                    # wait set being built ("the given context is not valid"): the stop asked
                    # for, not a fault. Raised on, it skipped the clean exit and the
                    # EventsExecutor aborted the process (seen in CI, about one run in 20).
                    break
        except ExternalShutdownException:
            pass
        finally:
            executor.shutdown()
            node.destroy_node()
    return 0
