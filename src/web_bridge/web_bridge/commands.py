"""Command acknowledgement: a mission command answers once the planner acknowledged it and
the vehicle acted, as the fleet picture shows it, or raises an error that says why not.

The planner's ``ok`` only says the mission changed state; the vehicle may still refuse or
never hear the mode change (a dead link). So after the planner, the fleet picture is watched
for the vehicle's answer: its autopilot mode (pause → AUTO.LOITER, resume → AUTO.MISSION,
abort and return home → AUTO.RTL or on the ground). Every wait has a deadline; a vehicle whose
link is stale or lost answers at once with that reason instead of waiting out the deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from web_bridge.errors import GraphTimeoutError, NotFoundError, RefusedError
from web_bridge.live import FleetPicture

T = TypeVar("T")

HOLD_MODES = ("AUTO.LOITER",)
MISSION_MODES = ("AUTO.MISSION",)
HOME_MODES = ("AUTO.RTL", "AUTO.LAND", "AUTO.PRECLAND")


@dataclass(frozen=True)
class Expectation:
    """What a command's vehicle must show, and how to say it."""

    modes: tuple[str, ...]
    landed_counts: bool  # on the ground (or disarmed) is as good as the mode
    words: str


# Commands the vehicle must act on; the others (priority, pin) are the planner's alone.
EXPECTED: dict[str, Expectation] = {
    "pause": Expectation(HOLD_MODES, False, "hold (AUTO.LOITER)"),
    "resume": Expectation(MISSION_MODES, False, "fly its mission (AUTO.MISSION)"),
    "modify_waypoints": Expectation(MISSION_MODES, False, "fly the new waypoints "
                                                          "(AUTO.MISSION)"),
    "abort": Expectation(HOME_MODES, True, "return home (AUTO.RTL) or land"),
    "return_home": Expectation(HOME_MODES, True, "return home (AUTO.RTL) or land"),
}
# Commands not sent to a vehicle that cannot hear them: the planner would record a state
# the vehicle never takes. Abort and return home still go (the mission must be freed, and
# the autopilot's own link-loss failsafe brings the vehicle home).
NEEDS_LINK = frozenset({"pause", "resume", "modify_waypoints"})


class PictureWatch:
    """Waits, with a deadline, until a condition on the fleet picture holds."""

    def __init__(self, picture: FleetPicture) -> None:
        self._waiting: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        picture.listen(self._on_update)

    def _on_update(self, kind: str, payload: Any) -> None:
        if kind not in ("fleet", "missions", "zones", "charging_queue"):
            return
        for check, fut in list(self._waiting):
            if fut.done():
                continue
            try:
                value = check()
            except Exception as exc:  # a bug in a check must end its wait, not the feed
                fut.set_exception(exc)
                continue
            if value:
                fut.set_result(value)

    async def until(self, check: Callable[[], T | None], timeout: float) -> T | None:
        """Return the first truthy ``check()`` (now or after an update), None past ``timeout``."""
        value = check()
        if value:
            return value
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = (check, fut)
        self._waiting.append(entry)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return None
        finally:
            self._waiting.remove(entry)


def watch_of(bridge: Any) -> PictureWatch:
    """Return the bridge's picture watch (made on first use)."""
    watch = bridge.extras.get("picture_watch")
    if watch is None:
        watch = bridge.extras["picture_watch"] = PictureWatch(bridge.picture)
    return watch  # type: ignore[no-any-return]


def link_problem(vehicle_id: str, vehicle: dict[str, Any] | None) -> str | None:
    """Return why a vehicle cannot hear or confirm a command now, or None when it can."""
    if vehicle is None:
        return f"vehicle {vehicle_id} is no longer in the fleet picture"
    liveness = vehicle.get("liveness")
    health = vehicle.get("health") or {}
    if liveness in ("stale", "lost") or health.get("link_ok") is False:
        age = ""
        stamp = vehicle.get("stamp")
        if stamp is not None and 0.0 <= time.time() - stamp < 86_400.0:
            age = f", last telemetry {time.time() - stamp:.0f} s ago"
        return f"vehicle {vehicle_id} link lost (liveness {liveness}{age})"
    return None


def acted(expect: Expectation, vehicle: dict[str, Any]) -> bool:
    """Return whether the vehicle shows what the command asked of it."""
    if vehicle.get("mode") in expect.modes:
        return True
    return expect.landed_counts and (vehicle.get("landed_state") == "on_ground"
                                     or not vehicle.get("armed", True))


def refused(mission_id: str, message: str) -> RefusedError | NotFoundError:
    """Return the error of a planner's refusal: unknown mission 404, else 409 (its words)."""
    text = message or "refused without a reason"
    if "unknown mission" in text:
        return NotFoundError(f"mission {mission_id!r} is not known to the planner")
    return RefusedError(text, 409)


def check_link(command: str, vehicle_id: str | None, picture: FleetPicture) -> None:
    """Raise GraphTimeoutError before sending a command its vehicle cannot hear."""
    if command not in NEEDS_LINK or not vehicle_id:
        return
    problem = link_problem(vehicle_id, picture.vehicles.get(vehicle_id))
    if problem is not None:
        raise GraphTimeoutError(f"{command} of the mission was not sent: {problem}")


async def vehicle_ack(bridge: Any, command: str, mission_id: str,
                      vehicle_id: str | None) -> dict[str, Any] | None:
    """Wait until ``vehicle_id`` acted on ``command``; return it as the picture shows it.

    Raises GraphTimeoutError naming why: the link went stale or was lost, or nothing was
    seen within ``ack_timeout_s``. Returns None when no vehicle has to act.
    """
    expect = EXPECTED.get(command)
    if expect is None or not vehicle_id:
        return None
    picture: FleetPicture = bridge.picture

    def outcome() -> tuple[str, Any] | None:
        v = picture.vehicles.get(vehicle_id)
        if v is not None and acted(expect, v):
            return ("acted", v)
        problem = link_problem(vehicle_id, v)
        return ("lost", problem) if problem else None

    timeout = bridge.settings.ack_timeout_s
    seen = await watch_of(bridge).until(outcome, timeout)
    if seen is None:
        v = picture.vehicles.get(vehicle_id) or {}
        raise GraphTimeoutError(
            f"the planner accepted {command} of {mission_id}, but {vehicle_id} did not "
            f"{expect.words} within {timeout:g} s (mode {v.get('mode') or 'unknown'})")
    what, value = seen
    if what == "lost":
        raise GraphTimeoutError(f"the planner accepted {command} of {mission_id}, but the "
                                f"vehicle cannot confirm it: {value}")
    return value  # type: ignore[no-any-return]
