"""Nodes in a private Context spun on a background thread, with deadline-bound waits.

Used by tests, benchmarks and in-process compositions: each RosGraph has its own Context and
DDS domain, so two graphs in one machine never see each other's topics.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import rclpy
from rclpy.action.client import ActionClient
from rclpy.client import Client
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node

T = TypeVar("T")


class GraphTimeoutError(TimeoutError):
    """A wait on the graph passed its deadline."""


_log = logging.getLogger(__name__)
MAX_SPIN_FAILURES = 100  # in a row: the graph is broken, not unlucky
# Every graph not closed yet: a process that ends with one still spinning has a daemon thread
# inside rclpy's C++ wait when the interpreter finalizes, and that thread's forced unwind
# aborts the process ("terminate called without an active exception").
_open_graphs: weakref.WeakSet[RosGraph] = weakref.WeakSet()


def open_graphs() -> list[RosGraph]:
    """Return the graphs of this process that were not closed yet."""
    return list(_open_graphs)


class RosGraph:
    """A private ROS 2 context with a multi-threaded executor spinning in the background."""

    def __init__(self, domain_id: int | None = None, threads: int = 4) -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.executor = MultiThreadedExecutor(num_threads=threads, context=self.context)
        self.nodes: list[Node] = []
        self._thread = threading.Thread(target=self._spin, name="ros-graph", daemon=True)
        self._thread.start()
        _open_graphs.add(self)

    def _spin(self) -> None:
        failures = 0
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
                failures = 0
            except (ExternalShutdownException, rclpy.executors.ShutdownException):
                return
            except Exception:
                # Once close() has shut the context down, rclpy may raise from a wait set or an
                # entity torn down under the spinning call: a shutdown race, not a failure.
                if not self.context.ok():
                    return
                # While it lives, one bad spin (a callback's exception, an entity destroyed
                # under a spinning call when a vehicle is removed at run time; seen in CI as
                # "Exception in thread ros-graph") must not stop the whole graph: web_bridge
                # would never hear from ROS again. Logged with its traceback; a graph that
                # fails on every spin still ends with the error.
                failures += 1
                _log.exception("ros-graph: a spin raised (%d in a row); spinning on", failures)
                if failures >= MAX_SPIN_FAILURES:
                    raise
                time.sleep(0.01)

    def add(self, node: Node) -> Node:
        """Spin ``node`` with this graph's executor (it must use this graph's context)."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def node(self, name: str, **kwargs: Any) -> Node:
        """Create and spin a plain node (a test's client side)."""
        return self.add(Node(name, context=self.context, **kwargs))

    def action_client(self, node_name: str, action: Any,
                      action_name: str) -> ActionClient[Any, Any, Any]:
        """An action client on a new node of its own.

        The client is made before its node joins the spinning executor: rclpy's ActionClient
        registers itself with the node before it creates its lock, so an executor thread that
        collects entities in between dies with "'ActionClient' object has no attribute
        '_lock'" (seen in CI).
        """
        node = Node(node_name, context=self.context)
        client: ActionClient[Any, Any, Any] = ActionClient(node, action, action_name)
        self.add(node)
        return client

    def call(self, client: Client[Any, Any], request: Any, timeout: float = 5.0) -> Any:
        """Call a service and return its response; raise GraphTimeoutError past the deadline."""
        if not client.wait_for_service(timeout_sec=timeout):
            raise GraphTimeoutError(f"service {client.srv_name} not available after {timeout} s")
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout):
            client.remove_pending_request(future)
            raise GraphTimeoutError(f"service {client.srv_name} did not answer within {timeout} s")
        return future.result()

    @staticmethod
    def wait_for(predicate: Callable[[], T], timeout: float, what: str,
                 period: float = 0.02) -> T:
        """Poll ``predicate`` until it is truthy; raise GraphTimeoutError naming ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise GraphTimeoutError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(period)

    def close(self) -> None:
        """Stop spinning, destroy the nodes and shut the context down."""
        _open_graphs.discard(self)
        if self.context.ok():
            rclpy.shutdown(context=self.context)
        self._thread.join(timeout=10.0)
        self.executor.shutdown(timeout_sec=2.0)
        for n in self.nodes:
            n.destroy_node()
        self.nodes.clear()

    def __enter__(self) -> RosGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
