"""The dispatcher: the mission book, the queue, and one allocation pass per tick."""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

import numpy as np

from fleet_core.dispatch.allocation import BoolArray, CostWeights, FleetMatrix, VehicleCandidate
from fleet_core.dispatch.demand import Demand
from fleet_core.dispatch.errors import DispatchError
from fleet_core.dispatch.queue import MissionQueue, QueueOrder
from fleet_core.dispatch.recurrence import RecurringTemplate
from fleet_core.dispatch.state import (
    MissionRecord,
    MissionState,
    MissionTransition,
    Modification,
    check_priority,
    check_vehicle_pin,
)
from fleet_core.fleet.model import OperatingStatus

Splitter = Callable[[MissionRecord, int], Sequence[Demand]]
"""Re-plans a mission as ``k`` parts (the caller's planner); returns one Demand per part."""


@dataclass(frozen=True, slots=True)
class Assign:
    """Fly ``mission_id`` with ``vehicle_id``, starting at waypoint ``resume_from_index``."""

    mission_id: str
    vehicle_id: str
    resume_from_index: int
    cost: float


@dataclass(frozen=True, slots=True)
class Preempt:
    """Take ``vehicle_id`` off ``victim_id`` (requeued) and give it to ``by_mission_id``."""

    victim_id: str
    vehicle_id: str
    by_mission_id: str
    victim_resume_from_index: int


@dataclass(frozen=True, slots=True)
class ChargeFirst:
    """``vehicle_id`` is reserved for ``mission_id`` and must charge to ``target_pct`` first."""

    vehicle_id: str
    mission_id: str
    target_pct: float


@dataclass(frozen=True, slots=True)
class Split:
    """``mission_id`` is too big for any one vehicle and is flown as the missions ``parts``."""

    mission_id: str
    parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Fail:
    """``mission_id`` failed on the dispatcher's side (deadline, pause timeout, no split)."""

    mission_id: str
    vehicle_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Start:
    """A scheduled mission's time has come: it joins the queue."""

    mission_id: str


Decision = Assign | Preempt | ChargeFirst | Split | Fail | Start


class Unavailability(Enum):
    """Why a vehicle gave its mission back."""

    LOST = "lost"
    CRITICAL_BATTERY = "critical_battery"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True, slots=True)
class DispatcherConfig:
    """Dispatcher settings.

    A mission is an emergency (it may preempt) when its kind is emergency or its priority is
    at least ``emergency_priority``. A split makes parts of at most ``split_fill`` of a typical
    free vehicle's usable energy and range, leaving room for the flight to each part. A mission
    pinned to a vehicle the fleet snapshot has not shown for ``pin_grace_s`` fails. A mission
    that no vehicle of a non-empty fleet could fly even fully charged (payload, model, energy
    or range) fails once that has been so for ``unservable_grace_s``: a queue must not hold
    an impossible mission forever, but a vehicle that can may still be being discovered.
    """

    emergency_priority: int = 9
    paused_timeout_s: float = 300.0
    weights: CostWeights = field(default_factory=CostWeights)
    split_fill: float = 0.7
    max_parts: int = 64
    pin_grace_s: float = 60.0
    unservable_grace_s: float = 120.0
    actor: str = "dispatcher"

    def __post_init__(self) -> None:
        check_priority(self.emergency_priority)
        if not (math.isfinite(self.paused_timeout_s) and self.paused_timeout_s > 0):
            raise DispatchError(f"paused_timeout_s must be > 0, got {self.paused_timeout_s!r}")
        if not 0 < self.split_fill <= 1:
            raise DispatchError(f"split_fill must be in (0, 1], got {self.split_fill!r}")
        if self.max_parts < 2:
            raise DispatchError(f"max_parts must be >= 2, got {self.max_parts!r}")
        if not (math.isfinite(self.pin_grace_s) and self.pin_grace_s >= 0):
            raise DispatchError(f"pin_grace_s must be finite and >= 0, got {self.pin_grace_s!r}")
        if not (math.isfinite(self.unservable_grace_s) and self.unservable_grace_s >= 0):
            raise DispatchError(f"unservable_grace_s must be finite and >= 0, got "
                                f"{self.unservable_grace_s!r}")


@dataclass(slots=True)
class _Recurring:
    template: RecurringTemplate
    next_at: float
    missed: int = 0


MissionChange = MissionTransition | Modification


class Dispatcher:
    """Owns every mission record; decides who flies what at each tick.

    Methods that change a mission take ``now`` (POSIX seconds), defaulting to the injected
    clock. Every transition and modification also goes to an outbox the node drains with
    :meth:`drain_events` to publish mission events.
    """

    def __init__(self, config: DispatcherConfig | None = None, *,
                 splitter: Splitter | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config or DispatcherConfig()
        self._splitter = splitter
        self._clock = clock
        self._missions: dict[str, MissionRecord] = {}
        self._queue = MissionQueue()
        self._planned: dict[str, MissionRecord] = {}
        self._reserved: dict[str, str] = {}  # mission id -> vehicle id charging for it
        self._recurring: dict[str, _Recurring] = {}
        self._events: list[MissionChange] = []
        self.waiting_reasons: dict[str, str] = {}  # queued mission -> why no vehicle yet
        self._pin_missing_since: dict[str, float] = {}  # mission id -> first tick without it
        self._unservable_since: dict[str, float] = {}  # mission id -> first tick nobody could
        self._grounded_note = ""  # "; 2 grounded by wind 14.0 m/s" during a tick

    # ----------------------------------------------------------------- queries

    def get(self, mission_id: str) -> MissionRecord:
        """Return the record of ``mission_id``."""
        try:
            return self._missions[mission_id]
        except KeyError:
            raise DispatchError(f"unknown mission {mission_id!r}") from None

    @property
    def missions(self) -> dict[str, MissionRecord]:
        """Return every mission the dispatcher knows, by id (do not modify)."""
        return self._missions

    def queued(self) -> list[MissionRecord]:
        """Return the queued missions in dispatch order."""
        return self._queue.ordered()

    def vehicles_in_use(self) -> dict[str, str]:
        """Return vehicle id -> mission id for every vehicle holding or reserved for a mission."""
        used = {r.vehicle_id: r.mission_id for r in self._missions.values()
                if r.state.holds_vehicle and r.vehicle_id is not None}
        for mission_id, vehicle_id in self._reserved.items():
            used.setdefault(vehicle_id, mission_id)
        return used

    def reservation(self, mission_id: str) -> str | None:
        """Return the vehicle charging for ``mission_id``, if any."""
        return self._reserved.get(mission_id)

    def drain_events(self) -> list[MissionChange]:
        """Return the transitions and modifications since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def is_emergency(self, record: MissionRecord) -> bool:
        """Tell whether ``record`` may preempt other missions."""
        return record.is_emergency_kind or record.priority >= self.config.emergency_priority

    # ----------------------------------------------------------------- requests

    def submit(self, record: MissionRecord, *,
               now: float | None = None) -> MissionTransition | None:
        """Take a new mission; it queues now, or stays planned until its scheduled time."""
        t = self._now(now)
        if record.mission_id in self._missions:
            raise DispatchError(f"mission {record.mission_id!r} already exists")
        if "/" in record.mission_id:
            raise DispatchError(f"mission id {record.mission_id!r} may not contain '/': "
                                f"it names the parts of split missions")
        if record.state is not MissionState.PLANNED:
            raise DispatchError(f"mission {record.mission_id!r} must be submitted planned, "
                                f"it is {record.state.value}")
        if record.not_after is not None and record.not_after <= t:
            raise DispatchError(f"mission {record.mission_id!r}: not_after {record.not_after} "
                                f"has already passed (now {t})")
        self._missions[record.mission_id] = record
        if record.scheduled_at is not None and record.scheduled_at > t:
            self._planned[record.mission_id] = record
            return None
        return self._enqueue(record, t, "submitted", record.created_by or self.config.actor)

    def cancel(self, mission_id: str, actor: str, reason: str, *,
               now: float | None = None) -> list[MissionTransition]:
        """Abort a mission (and the parts of a split one) wherever it is in its life."""
        t = self._now(now)
        record = self.get(mission_id)
        if record.state.terminal:
            raise DispatchError(f"mission {mission_id!r} is already {record.state.value}")
        steps: list[MissionTransition] = []
        for child_id in record.children:
            child = self._missions[child_id]
            if not child.state.terminal:
                steps.append(self._end(child, MissionState.ABORTED, t,
                                       f"parent canceled: {reason}", actor))
        if not record.state.terminal:  # a parent settles itself once its parts are over
            steps.append(self._end(record, MissionState.ABORTED, t, reason, actor))
        steps.extend(self._settle_parent(record, t))
        return steps

    def set_priority(self, mission_id: str, priority: int, actor: str, *, reason: str = "",
                     now: float | None = None) -> Modification:
        """Change a mission's priority (its parts too); the queue re-sorts at once.

        Raising a waiting mission to emergency level lets it preempt at the next tick;
        lowering a flying one makes it a candidate victim.
        """
        t = self._now(now)
        record = self.get(mission_id)
        check_priority(priority)
        if record.state.terminal:
            raise DispatchError(f"mission {mission_id!r} is {record.state.value}: "
                                f"its priority can no longer change")
        old = record.priority
        record.priority = priority
        for child_id in record.children:
            self._missions[child_id].priority = priority
        change = record.modify(t, actor, reason, f"priority {old} -> {priority}")
        self._events.append(change)
        return change

    def set_pin(self, mission_id: str, vehicle_id: str | None, actor: str, *,
                reason: str = "", now: float | None = None) -> Modification:
        """Pin a waiting mission to ``vehicle_id``, or unpin it with None (any vehicle again).

        Only while the mission is planned or queued: a vehicle already given the mission
        keeps it until it is handed back. A charge reserved for the mission on another vehicle
        is released.
        """
        t = self._now(now)
        record = self.get(mission_id)
        check_vehicle_pin(vehicle_id)
        if record.state not in (MissionState.PLANNED, MissionState.QUEUED):
            raise DispatchError(f"mission {mission_id!r} is {record.state.value}: its vehicle "
                                f"pin can change only while it is planned or queued")
        old = record.pinned_vehicle_id
        record.pinned_vehicle_id = vehicle_id
        self._pin_missing_since.pop(mission_id, None)
        self.waiting_reasons.pop(mission_id, None)  # it named the old pin; the next tick says
        reserved = self._reserved.get(mission_id)
        if vehicle_id is not None and reserved is not None and reserved != vehicle_id:
            del self._reserved[mission_id]
        change = record.modify(t, actor, reason,
                               f"vehicle pin {old or 'none'} -> {vehicle_id or 'none'}")
        self._events.append(change)
        return change

    def forget(self, mission_id: str) -> MissionRecord:
        """Drop a finished mission (and its parts) from memory once it is persisted."""
        record = self.get(mission_id)
        parent = self._parent(record)
        if not record.state.terminal or (parent is not None and not parent.state.terminal):
            raise DispatchError(f"mission {mission_id!r} is not over: it cannot be forgotten")
        for child_id in record.children:
            self._missions.pop(child_id, None)
            self._queue.forget(child_id)
        self._queue.forget(mission_id)
        return self._missions.pop(mission_id)

    def add_recurring(self, template: RecurringTemplate, *, now: float | None = None) -> float:
        """Register a recurring template; return the POSIX time of its first occurrence."""
        t = self._now(now)
        if template.template_id in self._recurring:
            raise DispatchError(f"recurring template {template.template_id!r} already exists")
        first = _next_occurrence(template, t)
        self._recurring[template.template_id] = _Recurring(template, first)
        return first

    def remove_recurring(self, template_id: str) -> None:
        """Stop spawning missions from a template (missions already spawned stay)."""
        if self._recurring.pop(template_id, None) is None:
            raise DispatchError(f"unknown recurring template {template_id!r}")

    # ----------------------------------------------------------------- execution reports

    def mark_active(self, mission_id: str, *, actor: str = "executor",
                    now: float | None = None) -> list[MissionTransition]:
        """The vehicle took the mission (uploaded, armed, flying)."""
        t = self._now(now)
        record = self.get(mission_id)
        steps = [self._move(record, MissionState.ACTIVE, t, "started", actor)]
        parent = self._parent(record)
        if parent is not None and parent.state is MissionState.ASSIGNED:
            steps.append(self._move(parent, MissionState.ACTIVE, t,
                                    f"part {mission_id} started", actor))
        return steps

    def mark_paused(self, mission_id: str, reason: str = "paused", *, actor: str = "executor",
                    now: float | None = None) -> MissionTransition:
        """The mission is on hold (the vehicle loiters)."""
        return self._move(self.get(mission_id), MissionState.PAUSED, self._now(now),
                          reason, actor)

    def mark_resumed(self, mission_id: str, *, actor: str = "executor",
                     now: float | None = None) -> MissionTransition:
        """A paused mission flies on."""
        record = self.get(mission_id)
        if record.state is not MissionState.PAUSED:
            raise DispatchError(f"mission {mission_id!r} is {record.state.value}, not paused")
        return self._move(record, MissionState.ACTIVE, self._now(now), "resumed", actor)

    def mark_reached(self, mission_id: str, index: int) -> None:
        """The vehicle reached waypoint ``index`` of the mission's original plan."""
        record = self.get(mission_id)
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise DispatchError(f"waypoint index must be an integer >= 0, got {index!r}")
        if record.state not in (MissionState.ACTIVE, MissionState.PAUSED):
            raise DispatchError(f"mission {mission_id!r} is {record.state.value}: "
                                f"no waypoint can be reached")
        record.last_reached_index = max(record.last_reached_index, index)

    def mark_completed(self, mission_id: str, *, actor: str = "executor",
                       now: float | None = None) -> list[MissionTransition]:
        """The mission finished; a split parent completes with its last part."""
        t = self._now(now)
        record = self.get(mission_id)
        steps = [self._end(record, MissionState.COMPLETED, t, "completed", actor)]
        steps.extend(self._settle_parent(record, t))
        return steps

    def mark_failed(self, mission_id: str, reason: str, *, actor: str = "executor",
                    now: float | None = None) -> list[MissionTransition]:
        """The mission failed for good (upload or arming refused, crash, ...)."""
        t = self._now(now)
        record = self.get(mission_id)
        steps = [self._end(record, MissionState.FAILED, t, reason, actor)]
        steps.extend(self._settle_parent(record, t))
        return steps

    def vehicle_unavailable(self, vehicle_id: str, why: Unavailability, *,
                            actor: str = "fleet_manager",
                            now: float | None = None) -> list[MissionTransition]:
        """A vehicle can no longer fly its mission: it goes back to the queue for another.

        The mission resumes after its last reached waypoint; the node re-plans the remainder
        from there when the next tick assigns it. A mission pinned to the vehicle stays pinned
        and waits for it (the transition's reason says so) until the pin is changed.
        """
        t = self._now(now)
        why = Unavailability(why)
        steps: list[MissionTransition] = []
        for record in list(self._missions.values()):
            if record.vehicle_id == vehicle_id and record.state.holds_vehicle:
                steps.append(self._hand_back(record, t, f"vehicle {vehicle_id} {why.value}",
                                             actor))
        for mission_id, reserved in list(self._reserved.items()):
            if reserved == vehicle_id:
                del self._reserved[mission_id]
        return steps

    def hand_back(self, mission_id: str, reason: str, *, actor: str,
                  now: float | None = None) -> MissionTransition:
        """Give an assigned, active or paused mission back to the queue (its vehicle is sent
        home, for example); it resumes after its last reached waypoint on another vehicle, or
        on the same one when it is pinned."""
        record = self.get(mission_id)
        if not record.state.holds_vehicle:
            raise DispatchError(f"mission {mission_id!r} is {record.state.value}: it has no "
                                f"vehicle to hand back")
        return self._hand_back(record, self._now(now), reason, actor)

    # ----------------------------------------------------------------- the tick

    def tick(self, now: float, vehicles: Sequence[VehicleCandidate], *,
             busy: Collection[str] = frozenset(),
             grounded: Mapping[str, str] | None = None) -> list[Decision]:
        """Run one dispatch pass over the fleet snapshot ``vehicles``.

        ``busy`` names vehicles taken by something else (queued for or on a charging pad).
        ``grounded`` maps vehicles that may take no new work to why ("by wind 20.0 m/s"):
        busy too, and a mission left waiting says how many are grounded and why.
        Returns the decisions in the order they were taken.
        """
        grounded = grounded or {}
        busy = set(busy) | set(grounded)
        self._grounded_note = "".join(f"; {n} grounded {why}"
                                      for why, n in Counter(grounded.values()).items())
        decisions: list[Decision] = []
        self._spawn_recurring(now)
        decisions.extend(self._expire(now))
        decisions.extend(self._start_due(now))
        matrix = FleetMatrix(vehicles, self.config.weights)
        self._drop_stale_reservations(matrix)
        taken = np.zeros(len(matrix), dtype=np.bool_)
        for vehicle_id in self.vehicles_in_use():
            i = matrix.index.get(vehicle_id)
            if i is not None:
                taken[i] = True
        for vehicle_id in busy:
            i = matrix.index.get(vehicle_id)
            if i is not None:
                taken[i] = True
        free: BoolArray = matrix.available & ~taken
        self.waiting_reasons = {}
        pending = deque(self._queue.due(now))
        while pending:
            record = pending.popleft()
            if record.state is not MissionState.QUEUED:
                continue  # preempted earlier in this pass: it waits for the next tick
            decided = self._allocate(record, matrix, free, now, busy)
            decisions.extend(decided)
            for d in decided:
                if isinstance(d, Split):
                    pending.extendleft(reversed([self._missions[p] for p in d.parts]))
        return decisions

    def _allocate(self, record: MissionRecord, matrix: FleetMatrix, free: BoolArray,
                  now: float, busy: Collection[str]) -> list[Decision]:
        if record.pinned_vehicle_id is not None:
            return self._allocate_pinned(record, matrix, free, now, busy)
        demand = record.demand
        mask = free
        reserved = self._reserved.get(record.mission_id)
        r = matrix.index.get(reserved) if reserved is not None else None
        if r is not None and matrix.available[r] and reserved not in busy:
            mask = free.copy()
            mask[r] = True  # its own reserved vehicle, back from the charger
        costs = matrix.costs(demand, mask)
        best = int(np.argmin(costs)) if len(costs) else -1
        if best >= 0 and math.isfinite(costs[best]):
            if r is not None:
                del self._reserved[record.mission_id]
                free[r] = matrix.available[r] and reserved not in busy and r != best
            free[best] = False
            vehicle_id = matrix.vehicles[best].vehicle_id
            self._assign(record, vehicle_id, now, f"cost {costs[best]:.1f}")
            return [Assign(record.mission_id, vehicle_id, record.resume_from_index,
                           float(costs[best]))]
        if self.is_emergency(record):
            preempt = self._preempt(record, matrix, now)
            if preempt is not None:
                return [preempt]
        # Split only when the snapshot shows a fleet and nobody in it could ever fly it whole.
        if (record.parent_id is None and demand.splittable and self._splitter is not None
                and len(matrix) and not matrix.fits_alone(demand).any()):
            return self._split(record, matrix, free, now)
        if reserved is not None:
            self.waiting_reasons[record.mission_id] = f"waiting for {reserved} to charge"
            return []
        if len(matrix) and not matrix.fits_alone(demand).any():
            return self._unservable(record, matrix, now)
        self._unservable_since.pop(record.mission_id, None)
        full = matrix.costs(demand, free, full_charge=True)
        best = int(np.argmin(full)) if len(full) else -1
        if best >= 0 and math.isfinite(full[best]):
            free[best] = False
            vehicle_id = matrix.vehicles[best].vehicle_id
            self._reserved[record.mission_id] = vehicle_id
            need = matrix.energy_needed_wh(demand, best)
            target = min(100.0, 100.0 * need / float(matrix.capacity_wh[best]))
            self.waiting_reasons[record.mission_id] = f"waiting for {vehicle_id} to charge"
            return [ChargeFirst(vehicle_id, record.mission_id, target)]
        self.waiting_reasons[record.mission_id] = self._why_not(demand, matrix, free)
        return []

    def _allocate_pinned(self, record: MissionRecord, matrix: FleetMatrix, free: BoolArray,
                         now: float, busy: Collection[str]) -> list[Decision]:
        """Give a pinned mission its vehicle, charge that vehicle first, or say why it waits.

        Never another vehicle and never a split: the operator chose this one.
        """
        pin = record.pinned_vehicle_id
        assert pin is not None
        mission_id = record.mission_id
        demand = record.demand
        i = matrix.index.get(pin)
        if i is None:
            since = self._pin_missing_since.setdefault(mission_id, now)
            grace = self.config.pin_grace_s
            if now - since > grace:
                return self._fail(record, now, (
                    f"pinned vehicle {pin} has not been in the fleet for {now - since:.0f} s "
                    f"(grace {grace:g} s)"))
            return self._wait_pinned(record, pin, f"is not in the fleet picture (the mission "
                                                  f"fails after {grace:g} s without it)")
        self._pin_missing_since.pop(mission_id, None)
        gap = matrix.full_battery_gap(demand, i)
        if gap is not None:
            return self._fail(record, now, f"pinned vehicle {pin} can never fly it: {gap}")
        gap = matrix.capability_gap(demand, i)
        if gap is not None:
            return self._wait_pinned(record, pin, gap)
        own = self._reserved.get(mission_id) == pin  # charging for this mission
        vehicle = matrix.vehicles[i]
        usable = vehicle.available and pin not in busy if own else bool(free[i])
        if not usable:
            return self._pinned_blocked(record, pin, matrix, i, own=own, busy=busy, now=now)
        only = np.zeros(len(matrix), dtype=np.bool_)
        only[i] = True
        cost = float(matrix.costs(demand, only)[i])
        if math.isfinite(cost):
            free[i] = False
            self._assign(record, pin, now, f"pinned, cost {cost:.1f}")
            return [Assign(mission_id, pin, record.resume_from_index, cost)]
        if math.isfinite(matrix.costs(demand, only, full_charge=True)[i]):
            # Also when its reserved vehicle came back short: it charges again.
            free[i] = False
            self._reserved[mission_id] = pin
            need = matrix.energy_needed_wh(demand, i)
            target = min(100.0, 100.0 * need / float(matrix.capacity_wh[i]))
            self._wait_pinned(record, pin, "is charging for this mission first")
            return [ChargeFirst(pin, mission_id, target)]
        distance = float(matrix.distances_m(demand.start)[i])
        return self._wait_pinned(record, pin, f"is {distance / 1000:.1f} km from the start: "
                                              f"too far even fully charged")

    def _pinned_blocked(self, record: MissionRecord, pin: str, matrix: FleetMatrix, i: int, *,
                        own: bool, busy: Collection[str], now: float) -> list[Decision]:
        """Preempt the pinned vehicle for an emergency if allowed, else say why it waits."""
        vehicle = matrix.vehicles[i]
        holder = None if own else self._holder_of(pin)
        if holder is not None and holder.state.holds_vehicle:
            if (self.is_emergency(record) and vehicle.fresh
                    and holder.state in (MissionState.ASSIGNED, MissionState.ACTIVE)
                    and holder.priority < record.priority):
                only = np.zeros(len(matrix), dtype=np.bool_)
                only[i] = True
                if math.isfinite(matrix.costs(record.demand, only)[i]):
                    self._hand_back(holder, now, f"preempted by {record.mission_id}",
                                    self.config.actor)
                    self._assign(record, pin, now, f"pinned, preempted {holder.mission_id}")
                    return [Preempt(holder.mission_id, pin, record.mission_id,
                                    holder.resume_from_index)]
            return self._wait_pinned(record, pin, f"is busy with mission {holder.mission_id}")
        if holder is not None:
            return self._wait_pinned(record, pin, f"is reserved for mission "
                                                  f"{holder.mission_id} (charging for it)")
        if pin in busy:
            return self._wait_pinned(record, pin, "is charging for this mission first" if own
                                     else "is at or queued for a charging pad")
        if not vehicle.fresh:
            return self._wait_pinned(record, pin, "is lost (no fresh telemetry)")
        return self._wait_pinned(record, pin, _STATUS_WORDS[vehicle.status])

    def _holder_of(self, vehicle_id: str) -> MissionRecord | None:
        """Return the mission holding ``vehicle_id``, or the one it charges for."""
        for other in self._missions.values():
            if other.vehicle_id == vehicle_id and other.state.holds_vehicle:
                return other
        for mission_id, reserved in self._reserved.items():
            if reserved == vehicle_id:
                return self._missions[mission_id]
        return None

    def _unservable(self, record: MissionRecord, matrix: FleetMatrix,
                    now: float) -> list[Decision]:
        """Wait, then fail, a mission that no vehicle of the fleet could ever fly."""
        demand = record.demand
        capable = matrix.capable(demand)
        if not capable.any():
            model = f" of model {demand.required_model}" if demand.required_model else ""
            why = f"no vehicle{model} of the {len(matrix)} in the fleet carries " \
                  f"{demand.payload_kg:g} kg"
        else:
            i = int(np.flatnonzero(capable)[np.argmax(matrix.capacity_wh[capable])])
            why = (f"no vehicle of the {len(matrix)} in the fleet could fly it even fully "
                   f"charged (the largest battery, {matrix.vehicles[i].vehicle_id}'s: "
                   f"{matrix.full_battery_gap(demand, i)})")
        since = self._unservable_since.setdefault(record.mission_id, now)
        grace = self.config.unservable_grace_s
        if now - since >= grace:
            del self._unservable_since[record.mission_id]
            return self._fail(record, now, f"{why} for {now - since:.0f} s")
        self.waiting_reasons[record.mission_id] = f"{why} (fails after {grace:g} s)"
        return []

    def _wait_pinned(self, record: MissionRecord, pin: str, why: str) -> list[Decision]:
        self.waiting_reasons[record.mission_id] = f"pinned to {pin}, which {why}"
        return []

    def _fail(self, record: MissionRecord, now: float, reason: str) -> list[Decision]:
        self._end(record, MissionState.FAILED, now, reason, self.config.actor)
        self._settle_parent(record, now)
        return [Fail(record.mission_id, None, reason)]

    def _preempt(self, record: MissionRecord, matrix: FleetMatrix,
                 now: float) -> Preempt | None:
        by_priority: dict[int, list[tuple[int, MissionRecord]]] = {}
        for other in self._missions.values():
            # A paused mission's vehicle is holding in the air: the first to take.
            if (other.state in (MissionState.ASSIGNED, MissionState.ACTIVE, MissionState.PAUSED)
                    and other.priority < record.priority and other.vehicle_id is not None):
                i = matrix.index.get(other.vehicle_id)
                if i is not None and matrix.vehicles[i].fresh:
                    by_priority.setdefault(other.priority, []).append((i, other))
        for priority in sorted(by_priority):
            mask = np.zeros(len(matrix), dtype=np.bool_)
            owner: dict[int, MissionRecord] = {}
            for i, other in by_priority[priority]:
                mask[i] = True
                owner[i] = other
            costs = matrix.costs(record.demand, mask)
            best = int(np.argmin(costs))
            if not math.isfinite(costs[best]):
                continue
            victim = owner[best]
            vehicle_id = matrix.vehicles[best].vehicle_id
            self._hand_back(victim, now, f"preempted by {record.mission_id}", self.config.actor)
            self._assign(record, vehicle_id, now, f"preempted {victim.mission_id}")
            return Preempt(victim.mission_id, vehicle_id, record.mission_id,
                           victim.resume_from_index)
        return None

    def _split(self, record: MissionRecord, matrix: FleetMatrix, free: BoolArray,
               now: float) -> list[Decision]:
        assert self._splitter is not None
        demand = record.demand
        k = self._parts_needed(demand, matrix, free)
        try:
            parts = list(self._splitter(record, k))
        except ValueError as exc:
            step = self._end(record, MissionState.FAILED, now, f"cannot split in {k}: {exc}",
                             self.config.actor)
            return [Fail(record.mission_id, None, step.reason)]
        if not parts or not all(isinstance(p, Demand) for p in parts):
            raise DispatchError(f"splitter returned no Demand list for mission "
                                f"{record.mission_id!r} in {k} parts: {parts!r}")
        order = self._queue.order_of(record.mission_id)
        self._queue.remove(record.mission_id)
        ids = tuple(f"{record.mission_id}/{i}" for i in range(1, len(parts) + 1))
        record.children = ids
        record.modify(now, self.config.actor, "too large for any one vehicle",
                      f"split into {len(parts)} parts")
        self._events.append(record.modifications[-1])
        self._events.append(record.transition(MissionState.ASSIGNED, now,
                                              f"split into {len(parts)} parts",
                                              self.config.actor))
        for i, (child_id, part) in enumerate(zip(ids, parts, strict=True), start=1):
            child = MissionRecord(child_id, record.priority, record.kind, part,
                                  not_after=record.not_after, created_by=record.created_by,
                                  parent_id=record.mission_id)
            self._missions[child_id] = child
            self._enqueue(child, now, f"part {i} of {len(parts)} of {record.mission_id}",
                          self.config.actor, QueueOrder(order.since, order.seq, i))
        return [Split(record.mission_id, ids)]

    def _parts_needed(self, demand: Demand, matrix: FleetMatrix, free: BoolArray) -> int:
        """Return how many parts make each fit a typical free vehicle's usable energy."""
        capable = matrix.capable(demand)
        pool = capable & free
        if pool.any():
            energy = float(np.median(matrix.energy_wh[pool]))
        else:  # nobody free now: size the parts for charged vehicles of the fleet
            pool = capable if capable.any() else np.ones(len(matrix), dtype=np.bool_)
            energy = float(np.median(matrix.capacity_wh[pool]))
        fill = self.config.split_fill
        usable = (energy - demand.reserve_wh) * fill
        reach = float(np.median(matrix.max_range_m[pool])) * fill
        if usable <= 0:
            return self.config.max_parts
        k = max(2, math.ceil(demand.energy_wh / usable), math.ceil(demand.distance_m / reach))
        return min(k, self.config.max_parts)

    def _why_not(self, demand: Demand, matrix: FleetMatrix, free: BoolArray) -> str:
        if not free.any():
            why = "no free vehicle"
        elif not (matrix.capable(demand) & free).any():
            model = f", model {demand.required_model}" if demand.required_model else ""
            why = f"no free vehicle carries {demand.payload_kg:g} kg{model}"
        else:
            why = "no free vehicle has the energy or range, even after charging"
        return why + self._grounded_note

    # ----------------------------------------------------------------- housekeeping

    def _spawn_recurring(self, now: float) -> None:
        for entry in self._recurring.values():
            if entry.next_at > now:
                continue
            # Occurrences missed while nothing ticked are skipped: one mission for the latest.
            occurrence = entry.next_at
            following = _next_occurrence(entry.template, occurrence)
            while following <= now:
                entry.missed += 1
                occurrence, following = following, _next_occurrence(entry.template, following)
            entry.next_at = following
            tpl = entry.template
            stamp = datetime.fromtimestamp(occurrence, UTC)
            mission_id = f"{tpl.template_id}@{stamp:%Y%m%dT%H%M%SZ}"
            if mission_id in self._missions:
                continue
            not_after = occurrence + tpl.window_s if tpl.window_s is not None else None
            if not_after is not None and not_after <= now:
                continue
            record = MissionRecord(mission_id, tpl.priority, tpl.kind, tpl.demand,
                                   scheduled_at=occurrence, not_after=not_after,
                                   created_by=tpl.created_by or self.config.actor,
                                   pinned_vehicle_id=tpl.pinned_vehicle_id)
            self.submit(record, now=now)

    def _expire(self, now: float) -> list[Decision]:
        decisions: list[Decision] = []
        for record in list(self._missions.values()):
            reason = None
            if (record.state is MissionState.PAUSED and record.paused_since is not None
                    and now - record.paused_since > self.config.paused_timeout_s):
                reason = (f"paused for {now - record.paused_since:.0f} s, longer than "
                          f"{self.config.paused_timeout_s:g} s")
            elif (record.state in (MissionState.PLANNED, MissionState.QUEUED,
                                   MissionState.ASSIGNED)
                  and not record.children
                  and record.not_after is not None and now > record.not_after):
                reason = f"not started by its deadline {record.not_after:.0f}"
            if reason is not None:
                vehicle_id = record.vehicle_id
                self._end(record, MissionState.FAILED, now, reason, self.config.actor)
                decisions.append(Fail(record.mission_id, vehicle_id, reason))
                self._settle_parent(record, now)
        return decisions

    def _start_due(self, now: float) -> list[Decision]:
        due = sorted((r for r in self._planned.values()
                      if r.scheduled_at is None or r.scheduled_at <= now),
                     key=lambda r: (r.scheduled_at or 0.0, r.mission_id))
        decisions: list[Decision] = []
        for record in due:
            del self._planned[record.mission_id]
            self._enqueue(record, now, "scheduled time reached", self.config.actor)
            decisions.append(Start(record.mission_id))
        return decisions

    def _drop_stale_reservations(self, matrix: FleetMatrix) -> None:
        for mission_id, vehicle_id in list(self._reserved.items()):
            i = matrix.index.get(vehicle_id)
            gone = i is None or matrix.vehicles[i].status in (
                OperatingStatus.MAINTENANCE, OperatingStatus.OFFLINE, OperatingStatus.UNKNOWN)
            if gone or self._missions[mission_id].state is not MissionState.QUEUED:
                del self._reserved[mission_id]

    # ----------------------------------------------------------------- moves

    def _now(self, now: float | None) -> float:
        t = self._clock() if now is None else now
        if not math.isfinite(t):
            raise DispatchError(f"time must be finite, got {t!r}")
        return t

    def _enqueue(self, record: MissionRecord, now: float, reason: str, actor: str,
                 order: QueueOrder | None = None) -> MissionTransition:
        step = self._move(record, MissionState.QUEUED, now, reason, actor)
        self._queue.push(record, now, order=order)
        return step

    def _assign(self, record: MissionRecord, vehicle_id: str, now: float, reason: str) -> None:
        self._queue.remove(record.mission_id)
        self._reserved.pop(record.mission_id, None)
        record.vehicle_id = vehicle_id
        self._move(record, MissionState.ASSIGNED, now, reason, self.config.actor)

    def _hand_back(self, record: MissionRecord, now: float, reason: str,
                   actor: str) -> MissionTransition:
        if record.pinned_vehicle_id is not None:
            # An operator who named the vehicle expects the mission back on it, not on another.
            reason = f"{reason}; stays pinned to {record.pinned_vehicle_id}, waiting for it"
        step = self._move(record, MissionState.QUEUED, now, reason, actor)
        record.vehicle_id = None
        record.resume_from_index = record.last_reached_index + 1
        self._queue.push(record, now)
        return step

    def _move(self, record: MissionRecord, to_state: MissionState, now: float, reason: str,
              actor: str) -> MissionTransition:
        step = record.transition(to_state, now, reason, actor)
        self._events.append(step)
        return step

    def _end(self, record: MissionRecord, to_state: MissionState, now: float, reason: str,
             actor: str) -> MissionTransition:
        step = self._move(record, to_state, now, reason, actor)
        self._queue.forget(record.mission_id)
        self._planned.pop(record.mission_id, None)
        self._reserved.pop(record.mission_id, None)
        self.waiting_reasons.pop(record.mission_id, None)
        self._pin_missing_since.pop(record.mission_id, None)
        return step

    def _parent(self, record: MissionRecord) -> MissionRecord | None:
        return None if record.parent_id is None else self._missions.get(record.parent_id)

    def _settle_parent(self, record: MissionRecord, now: float) -> list[MissionTransition]:
        """End a split parent once all its parts are over: completed only if all completed."""
        parent = self._parent(record)
        if parent is None or parent.state.terminal:
            return []
        states = [self._missions[c].state for c in parent.children]
        if not all(s.terminal for s in states):
            return []
        if all(s is MissionState.COMPLETED for s in states):
            return [self._end(parent, MissionState.COMPLETED, now, "all parts completed",
                              self.config.actor)]
        if any(s is MissionState.FAILED for s in states):
            return [self._end(parent, MissionState.FAILED, now, "a part failed",
                              self.config.actor)]
        return [self._end(parent, MissionState.ABORTED, now, "a part was aborted",
                          self.config.actor)]


# Why an idle-looking pinned vehicle is not free: worded to follow "which".
_STATUS_WORDS: dict[OperatingStatus, str] = {
    OperatingStatus.UNKNOWN: "reports no status yet",
    OperatingStatus.IDLE: "is idle but not free",
    OperatingStatus.IN_MISSION: "is flying a mission the dispatcher did not give it",
    OperatingStatus.RETURNING: "is returning home",
    OperatingStatus.CHARGING: "is charging",
    OperatingStatus.MAINTENANCE: "is in maintenance",
    OperatingStatus.OFFLINE: "is offline",
}


def _next_occurrence(template: RecurringTemplate, after: float) -> float:
    moment = datetime.fromtimestamp(after, UTC)
    return template.recurrence.next_after(moment).timestamp()

