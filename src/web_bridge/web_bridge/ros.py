"""The bridge's ROS side: one node spun on its own thread, awaited from asyncio.

Everything that crosses from the spin thread into the event loop goes through
``loop.call_soon_threadsafe`` (asyncio is not thread-safe); every await on the graph has a
deadline. Messages are converted to dicts (``convert``) on the spin thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from rclpy.action.client import ActionClient
from rclpy.client import Client
from rclpy.node import Node
from rclpy.task import Future

from fleet_interfaces import msg as fm
from fleet_interfaces.action import ExecuteMission, RequestCharge
from fleet_interfaces.srv import (
    AddVehicle,
    ListMissions,
    MissionControl,
    ModifyWaypoints,
    PlanMission,
    RemoveVehicle,
    ScheduleRecurring,
    SetMaintenance,
    SetNoFlyZones,
    SetPriority,
    SetVehiclePin,
)
from fleet_ros import fleet_topics as ft
from fleet_ros.fleet_topics import subscribe_fleet
from fleet_ros.graph import RosGraph
from web_bridge import convert
from web_bridge.errors import GraphTimeoutError, GraphUnavailableError
from web_bridge.settings import Settings

log = logging.getLogger(__name__)

# kind, payload, receive time (monotonic is not needed: wall time stamps the WebSocket).
UpdateSink = Callable[[str, Any], None]

PLANNER_SERVICES: dict[str, Any] = {
    "plan": PlanMission, "pause": MissionControl, "resume": MissionControl,
    "abort": MissionControl, "return_home": MissionControl,
    "modify_waypoints": ModifyWaypoints, "set_priority": SetPriority,
    "set_vehicle_pin": SetVehiclePin, "list_missions": ListMissions,
    "schedule_recurring": ScheduleRecurring, "cancel_recurring": MissionControl,
}
MANAGER_SERVICES: dict[str, Any] = {
    "set_maintenance": SetMaintenance, "set_no_fly_zones": SetNoFlyZones,
    "add_vehicle": AddVehicle, "remove_vehicle": RemoveVehicle,
}


class BridgeNode(Node):
    """Subscribes to the fleet outputs and owns the clients of the nodes' services/actions."""

    def __init__(self, settings: Settings, sink: UpdateSink, **kwargs: Any) -> None:
        super().__init__(f"web_bridge_{settings.instance_id}", **kwargs)
        self._sink = sink
        subscribe_fleet(self, {
            ft.FLEET_STATUS: self.fleet_callback, ft.MISSIONS: self.missions_callback,
            ft.COORDINATION_EVENTS: self.event_callback,
            ft.MISSION_EVENTS: self.mission_event_callback, ft.NO_FLY_ZONES: self.zones_callback,
            ft.CHARGING_SESSIONS: self.charging_callback,
            ft.CHARGING_QUEUE: self.charging_queue_callback})
        self.clients_by_name: dict[str, Client[Any, Any]] = {}
        for name, srv in PLANNER_SERVICES.items():
            self.clients_by_name[name] = self.create_client(
                srv, f"{settings.mission_planner_ns}/{name}")
        for name, srv in MANAGER_SERVICES.items():
            self.clients_by_name[name] = self.create_client(
                srv, f"{settings.fleet_manager_ns}/{name}")

    def _emit(self, kind: str, build: Callable[[], Any]) -> None:
        # A malformed message must never raise into rclpy (it would kill the spin thread).
        try:
            payload = build()
        except Exception:
            log.exception("dropped a malformed %s message", kind)
            return
        self._sink(kind, payload)

    def fleet_callback(self, msg: fm.FleetStatus) -> None:
        """Hand the fleet picture on."""
        self._emit("fleet", lambda: [convert.vehicle(v) for v in msg.vehicles])

    def missions_callback(self, msg: fm.MissionStatusArray) -> None:
        """Hand the planner's mission table on."""
        self._emit("missions", lambda: [convert.mission(m) for m in msg.missions])

    def event_callback(self, msg: fm.CoordinationEvent) -> None:
        """Hand a coordination event on."""
        self._emit("event", lambda: convert.coordination_event(msg))

    def mission_event_callback(self, msg: fm.MissionEvent) -> None:
        """Hand a mission event on."""
        self._emit("mission_event", lambda: convert.mission_event(msg))

    def zones_callback(self, msg: fm.NoFlyZoneArray) -> None:
        """Hand the zones in force on."""
        self._emit("zones", lambda: [convert.zone(z) for z in msg.zones])

    def charging_callback(self, msg: fm.ChargingSession) -> None:
        """Hand a charging session on."""
        self._emit("charging_session", lambda: convert.charging_session(msg))


    def charging_queue_callback(self, msg: fm.ChargingQueue) -> None:
        """Hand the charging stations and queue on."""
        self._emit("charging_queue", lambda: convert.charging_queue(msg))


def bridge_future(loop: asyncio.AbstractEventLoop, rfut: Future[Any]) -> asyncio.Future[Any]:
    """Return an asyncio future on ``loop`` that settles as the rclpy future ``rfut`` does.

    The outcome is read on the ROS thread as soon as ``rfut`` is done, even when the loop is
    gone by then: a call or goal still pending when the graph closes fails with "cannot use
    Destroyable", and an rclpy future whose exception nobody read prints "The following
    exception was never retrieved" at exit (seen when web_bridge stopped under load).
    """
    afut: asyncio.Future[Any] = loop.create_future()

    def done(f: Future[Any]) -> None:
        exc = f.exception()
        result = f.result() if exc is None else None

        def settle() -> None:
            if afut.done():
                return
            if exc is not None:
                afut.set_exception(exc)
            else:
                afut.set_result(result)
        if not loop.is_closed():
            loop.call_soon_threadsafe(settle)

    rfut.add_done_callback(done)
    return afut


class RosLink:
    """The node in a private context with its executor thread, and awaitable calls into it."""

    def __init__(self, settings: Settings, loop: asyncio.AbstractEventLoop,
                 on_update: Callable[[str, Any], None]) -> None:
        self._settings = settings
        self._loop = loop
        self._on_update = on_update
        self.graph = RosGraph(domain_id=settings.ros_domain_id)
        self.node = BridgeNode(settings, self._from_ros, context=self.graph.context)
        self.execute_client: ActionClient[Any, Any, Any] = ActionClient(
            self.node, ExecuteMission, f"{settings.mission_planner_ns}/execute_mission")
        self.charge_client: ActionClient[Any, Any, Any] = ActionClient(
            self.node, RequestCharge, f"{settings.mission_planner_ns}/request_charge")
        # Made before the node joins the executor (see RosGraph.action_client).
        self.graph.add(self.node)
        # Goals the bridge keeps alive: the planner owns the mission; this keeps the handle so
        # results are logged and cancel works while this instance lives.
        self.goals: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _from_ros(self, kind: str, payload: Any) -> None:
        # Spin thread → event loop: the only crossing.
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._on_update, kind, payload)

    def ok(self) -> bool:
        """Return whether the context is alive."""
        return bool(self.graph.context.ok())

    def _bridge(self, rfut: Future[Any]) -> asyncio.Future[Any]:
        return bridge_future(self._loop, rfut)

    async def call(self, name: str, request: Any, timeout: float | None = None) -> Any:
        """Call service ``name`` (a key of PLANNER_SERVICES/MANAGER_SERVICES) and return it.

        Raises GraphUnavailableError when no server is there, GraphTimeoutError past the
        deadline (the request is then forgotten by the client).
        """
        deadline = timeout if timeout is not None else self._settings.ros_timeout_s
        client = self.node.clients_by_name[name]
        if not client.service_is_ready():
            # Discovery may still be under way: wait a little, off the event loop.
            ready = await asyncio.to_thread(client.wait_for_service, min(deadline, 2.0))
            if not ready:
                raise GraphUnavailableError(
                    f"service {client.srv_name} is not available (is its node running?)")
        rfut = client.call_async(request)
        try:
            return await asyncio.wait_for(self._bridge(rfut), deadline)
        except TimeoutError:
            client.remove_pending_request(rfut)
            raise GraphTimeoutError(
                f"service {client.srv_name} did not answer within {deadline:g} s") from None

    async def send_goal(self, client: ActionClient[Any, Any, Any], goal: Any,
                        feedback: Callable[[Any], None] | None = None,
                        timeout: float | None = None) -> Any:
        """Send an action goal and return its accepted (or rejected) goal handle."""
        deadline = timeout if timeout is not None else self._settings.ros_timeout_s
        if not client.server_is_ready():
            ready = await asyncio.to_thread(client.wait_for_server, min(deadline, 2.0))
            if not ready:
                raise GraphUnavailableError(
                    f"action {client._action_name} is not available (is its node running?)")

        def on_feedback(msg: Any) -> None:
            if feedback is not None:
                self._from_ros_call(feedback, msg.feedback)

        rfut = client.send_goal_async(goal, feedback_callback=on_feedback)
        try:
            return await asyncio.wait_for(self._bridge(rfut), deadline)
        except TimeoutError:
            raise GraphTimeoutError(
                f"action {client._action_name} did not accept the goal within {deadline:g} s"
            ) from None

    def result_future(self, handle: Any) -> asyncio.Future[Any]:
        """Return an asyncio future of a goal's result (resolved on the event loop)."""
        return self._bridge(handle.get_result_async())

    def _from_ros_call(self, fn: Callable[[Any], None], arg: Any) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, arg)

    def close(self) -> None:
        """Destroy the node and shut the context down."""
        self.graph.close()
