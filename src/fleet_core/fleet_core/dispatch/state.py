"""The mission lifecycle: states, the legal moves between them, and each mission's record."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import Enum

from fleet_core.dispatch.demand import Demand
from fleet_core.dispatch.errors import DispatchError, IllegalTransitionError


class MissionState(Enum):
    """Where a mission is in its life (fleet_interfaces/MissionStatus.state)."""

    PLANNED = "planned"  # submitted, waiting for its scheduled time
    QUEUED = "queued"  # waiting for a vehicle
    ASSIGNED = "assigned"  # a vehicle is chosen; upload and arming not yet confirmed
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    ABORTED = "aborted"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        """Tell whether nothing can happen to the mission any more."""
        return self in _TERMINAL

    @property
    def holds_vehicle(self) -> bool:
        """Tell whether a mission in this state owns its vehicle."""
        return self in _HOLDING


_TERMINAL = frozenset({MissionState.COMPLETED, MissionState.ABORTED, MissionState.FAILED})
_HOLDING = frozenset({MissionState.ASSIGNED, MissionState.ACTIVE, MissionState.PAUSED})


class MissionKind(Enum):
    """What a mission is for (fleet_interfaces/MissionStatus.type)."""

    SURVEY = "survey"
    INSPECTION = "inspection"
    PATROL = "patrol"
    DELIVERY = "delivery"
    EMERGENCY = "emergency"


_S = MissionState
# Back to QUEUED from a vehicle-holding state: the vehicle handed the mission back (lost,
# critical battery, maintenance) or was preempted; the remainder is flown by another one.
# PLANNED and QUEUED may fail too: a mission that did not start before its deadline.
TRANSITIONS: dict[MissionState, frozenset[MissionState]] = {
    _S.PLANNED: frozenset({_S.QUEUED, _S.ABORTED, _S.FAILED}),
    _S.QUEUED: frozenset({_S.ASSIGNED, _S.ABORTED, _S.FAILED}),
    _S.ASSIGNED: frozenset({_S.ACTIVE, _S.QUEUED, _S.ABORTED, _S.FAILED}),
    _S.ACTIVE: frozenset({_S.PAUSED, _S.COMPLETED, _S.QUEUED, _S.ABORTED, _S.FAILED}),
    _S.PAUSED: frozenset({_S.ACTIVE, _S.QUEUED, _S.ABORTED, _S.FAILED}),
    _S.COMPLETED: frozenset(),
    _S.ABORTED: frozenset(),
    _S.FAILED: frozenset(),
}


def check_transition(mission_id: str, from_state: MissionState, to_state: MissionState) -> None:
    """Raise IllegalTransitionError unless the lifecycle allows ``from_state`` -> ``to_state``."""
    if to_state not in TRANSITIONS[from_state]:
        raise IllegalTransitionError(mission_id, from_state.value, to_state.value)


@dataclass(frozen=True, slots=True)
class MissionTransition:
    """One state change, as published on the mission event topic."""

    mission_id: str
    time: float
    from_state: MissionState
    to_state: MissionState
    reason: str
    actor: str
    vehicle_id: str | None = None


@dataclass(frozen=True, slots=True)
class Modification:
    """A change made to a mission without a state change (priority, plan, schedule)."""

    mission_id: str
    time: float
    actor: str
    reason: str
    summary: str


@dataclass(slots=True)
class MissionRecord:
    """Everything the dispatcher knows about one mission.

    ``vehicle_id`` is the vehicle flying (or assigned) the mission now; ``pinned_vehicle_id``,
    when set, is the only vehicle the dispatcher will ever give it to.

    Waypoint indices (``last_reached_index``, ``resume_from_index``) count in the mission's
    original plan, so they stay meaningful across hand-backs and re-plans of the remainder.
    """

    mission_id: str
    priority: int
    kind: MissionKind
    demand: Demand
    scheduled_at: float | None = None
    not_after: float | None = None
    created_by: str = ""
    pinned_vehicle_id: str | None = None
    state: MissionState = MissionState.PLANNED
    vehicle_id: str | None = None
    resume_from_index: int = 0
    last_reached_index: int = -1
    paused_since: float | None = None
    parent_id: str | None = None
    children: tuple[str, ...] = ()
    history: list[MissionTransition] = field(default_factory=list)
    modifications: list[Modification] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.mission_id or self.mission_id != self.mission_id.strip():
            raise DispatchError(
                f"mission_id must be non-empty without outer spaces, got {self.mission_id!r}"
            )
        check_priority(self.priority)
        check_vehicle_pin(self.pinned_vehicle_id)
        if not isinstance(self.kind, MissionKind):
            raise DispatchError(f"mission kind must be a MissionKind, got {self.kind!r}")
        for name in ("scheduled_at", "not_after"):
            value: float | None = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise DispatchError(f"mission {name} must be finite or None, got {value!r}")
        if (self.scheduled_at is not None and self.not_after is not None
                and self.not_after <= self.scheduled_at):
            raise DispatchError(
                f"mission {self.mission_id!r}: not_after {self.not_after} is not after "
                f"scheduled_at {self.scheduled_at}"
            )

    @property
    def is_emergency_kind(self) -> bool:
        """Tell whether the mission is an emergency by its kind."""
        return self.kind is MissionKind.EMERGENCY

    def transition(self, to_state: MissionState, now: float, reason: str,
                   actor: str) -> MissionTransition:
        """Move to ``to_state``, record the move in the history and return it."""
        check_transition(self.mission_id, self.state, to_state)
        step = MissionTransition(self.mission_id, now, self.state, to_state, reason, actor,
                                 self.vehicle_id)
        self.state = to_state
        self.paused_since = now if to_state is MissionState.PAUSED else None
        self.history.append(step)
        return step

    def modify(self, now: float, actor: str, reason: str, summary: str) -> Modification:
        """Log a change made to the mission and return it."""
        change = Modification(self.mission_id, now, actor, reason, summary)
        self.modifications.append(change)
        return change


def check_priority(priority: object) -> int:
    """Return ``priority`` if it is an int in 1..10 (10 is the most urgent), else raise."""
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 10:
        raise DispatchError(f"mission priority must be an integer 1..10, got {priority!r}")
    return priority


# A vehicle id is a ROS name component (its MAVROS namespace, configured or discovered):
# letters, digits and '_', not starting with a digit. fleet.yaml is stricter (a letter first).
_VEHICLE_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def check_vehicle_pin(vehicle_id: object) -> str | None:
    """Return ``vehicle_id`` if it is None (no pin) or a valid vehicle id, else raise."""
    if vehicle_id is None:
        return None
    if not isinstance(vehicle_id, str) or not _VEHICLE_ID_RE.fullmatch(vehicle_id):
        raise DispatchError(
            f"pinned vehicle id must be None or match {_VEHICLE_ID_RE.pattern} (like uav3), "
            f"got {vehicle_id!r}"
        )
    return vehicle_id
