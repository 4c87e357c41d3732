"""The charging queue: urgency first, then the policy; each vehicle to the nearest free pad."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from fleet_core.charging.errors import ChargingError
from fleet_core.charging.model import (
    ChargeRequest,
    ChargingPolicy,
    ChargingStation,
    PadAssignment,
    PadSession,
    Urgency,
    WaitEstimate,
)
from fleet_core.geo import haversine_m


@dataclass(slots=True)
class _Waiting:
    request: ChargeRequest
    requested_at: float
    seq: int
    reach: tuple[tuple[int, float], ...]  # (station index, distance m), nearest first


@dataclass(slots=True)
class _OnPad:
    waiting: _Waiting
    station: int
    pad: int
    assigned_at: float
    started_at: float | None = None
    start_pct: float = math.nan
    current_pct: float = math.nan


class ChargingQueue:
    """Pads of several stations shared by the vehicles that ask for them.

    A vehicle is busy for the dispatcher from its request until its release or cancel.
    """

    def __init__(self, stations: Sequence[ChargingStation],
                 policy: ChargingPolicy = ChargingPolicy.LOWEST_BATTERY, *,
                 critical_pct: float = 20.0) -> None:
        # No stations is allowed (a fleet without chargers): every request is then refused.
        ids = [s.station_id for s in stations]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ChargingError(f"station ids must be unique, repeated: {dup}")
        if not isinstance(policy, ChargingPolicy):
            raise ChargingError(f"policy must be a ChargingPolicy, got {policy!r}")
        if not (math.isfinite(critical_pct) and 0 <= critical_pct <= 100):
            raise ChargingError(f"critical_pct must be 0..100, got {critical_pct!r}")
        self.stations: tuple[ChargingStation, ...] = tuple(stations)
        self.policy = policy
        self.critical_pct = critical_pct
        self._pads: list[list[str | None]] = [[None] * s.pads for s in self.stations]
        self._waiting: dict[str, _Waiting] = {}
        self._on_pad: dict[str, _OnPad] = {}
        self._seq = itertools.count()

    # ----------------------------------------------------------------- queries

    def busy_vehicles(self) -> frozenset[str]:
        """Return the vehicles queued for, flying to or on a pad: not free for missions."""
        return frozenset(self._waiting) | frozenset(self._on_pad)

    def is_busy(self, vehicle_id: str) -> bool:
        """Tell whether ``vehicle_id`` is queued for or holds a pad."""
        return vehicle_id in self._waiting or vehicle_id in self._on_pad

    def waiting(self) -> list[str]:
        """Return the waiting vehicles in service order."""
        return [w.request.vehicle_id for w in self._ordered()]

    def assignment_of(self, vehicle_id: str) -> PadAssignment | None:
        """Return the pad held for ``vehicle_id``, or None if it has none."""
        held = self._on_pad.get(vehicle_id)
        if held is None:
            return None
        return self._assignment(held)

    def free_pads(self) -> int:
        """Return how many pads are free over all stations."""
        return sum(p is None for pads in self._pads for p in pads)

    # ----------------------------------------------------------------- requests

    def request(self, req: ChargeRequest, now: float) -> None:
        """Queue a vehicle for a pad at a station within its range."""
        _check_time(now)
        v = req.vehicle_id
        if self.is_busy(v):
            raise ChargingError(f"vehicle {v!r} already has a charging request")
        reach = sorted(
            ((i, haversine_m(req.position, s.position)) for i, s in enumerate(self.stations)),
            key=lambda item: item[1])
        in_reach = tuple((i, d) for i, d in reach if d <= req.range_m)
        if not reach:
            raise ChargingError(f"vehicle {v!r}: no charging station is configured")
        if not in_reach:
            i, d = reach[0]
            raise ChargingError(f"vehicle {v!r}: no station within its range {req.range_m:.0f} m"
                                f" (nearest {self.stations[i].station_id} at {d:.0f} m)")
        requested_at = now if req.requested_at is None else req.requested_at
        self._waiting[v] = _Waiting(req, requested_at, next(self._seq), in_reach)

    def cancel(self, vehicle_id: str) -> None:
        """Withdraw a request, or give back a pad the vehicle has not started charging on."""
        if self._waiting.pop(vehicle_id, None) is not None:
            return
        held = self._on_pad.get(vehicle_id)
        if held is None:
            raise ChargingError(f"vehicle {vehicle_id!r} has no charging request")
        if held.started_at is not None:
            raise ChargingError(f"vehicle {vehicle_id!r} is charging: release it with its "
                                f"battery level to close the session")
        self._free(held)

    # ----------------------------------------------------------------- the tick

    def tick(self, now: float) -> list[PadAssignment]:
        """Give free pads to waiting vehicles in service order; return the new assignments."""
        _check_time(now)
        assignments: list[PadAssignment] = []
        for waiting in self._ordered():
            for station, _distance in waiting.reach:
                pads = self._pads[station]
                if None in pads:
                    pad = pads.index(None)
                    vehicle_id = waiting.request.vehicle_id
                    pads[pad] = vehicle_id
                    del self._waiting[vehicle_id]
                    held = _OnPad(waiting, station, pad, now,
                                  current_pct=waiting.request.battery_pct)
                    self._on_pad[vehicle_id] = held
                    assignments.append(self._assignment(held))
                    break
        return assignments

    def estimates(self, now: float) -> list[WaitEstimate]:
        """Estimate, for every waiting vehicle in order, its wait and its time to target.

        Pads free up when their vehicle reaches its target at the station's rate; each
        waiting vehicle then takes the reachable pad that frees first.
        """
        _check_time(now)
        free_at = [[now] * len(pads) for pads in self._pads]
        for held in self._on_pad.values():
            req = held.waiting.request
            pct = held.current_pct if held.started_at is not None else req.battery_pct
            free_at[held.station][held.pad] = now + self.stations[held.station].charge_time_s(
                pct, req.target_pct, req.capacity_wh)
        out: list[WaitEstimate] = []
        for position, waiting in enumerate(self._ordered(), start=1):
            req = waiting.request
            best = min(((free_at[s][p], d, s, p) for s, d in waiting.reach
                        for p in range(len(free_at[s]))))
            start, _, s, p = best
            charge = self.stations[s].charge_time_s(req.battery_pct, req.target_pct,
                                                    req.capacity_wh)
            free_at[s][p] = start + charge
            out.append(WaitEstimate(req.vehicle_id, position, self.stations[s].station_id,
                                    start - now, start - now + charge))
        return out

    # ----------------------------------------------------------------- pad reports

    def charging_started(self, vehicle_id: str, battery_pct: float, now: float) -> None:
        """The vehicle is on its pad and charging."""
        held = self._held(vehicle_id)
        _check_time(now)
        _check_pct(vehicle_id, battery_pct)
        if held.started_at is not None:
            raise ChargingError(f"vehicle {vehicle_id!r} already started charging at "
                                f"{held.started_at}")
        held.started_at = now
        held.start_pct = battery_pct
        held.current_pct = battery_pct

    def session(self, vehicle_id: str) -> PadSession:
        """Return the session of a vehicle charging now, as far as it has got."""
        held = self._started(vehicle_id)
        assert held.started_at is not None
        req = held.waiting.request
        return PadSession(
            vehicle_id=vehicle_id, station_id=self.stations[held.station].station_id,
            pad=held.pad, requested_at=held.waiting.requested_at, assigned_at=held.assigned_at,
            started_at=held.started_at, ended_at=None,
            queue_wait_s=held.assigned_at - held.waiting.requested_at,
            start_pct=held.start_pct, end_pct=held.current_pct,
            energy_wh=max(0.0, held.current_pct - held.start_pct) / 100.0 * req.capacity_wh,
            completed=False)

    def progress(self, vehicle_id: str, battery_pct: float, now: float) -> bool:
        """Record the charge level; return True once the target is reached."""
        held = self._started(vehicle_id)
        _check_time(now)
        _check_pct(vehicle_id, battery_pct)
        held.current_pct = battery_pct
        return battery_pct >= held.waiting.request.target_pct

    def release(self, vehicle_id: str, battery_pct: float, now: float) -> PadSession:
        """The vehicle leaves its pad: free it and return the session's record."""
        held = self._started(vehicle_id)
        _check_time(now)
        _check_pct(vehicle_id, battery_pct)
        assert held.started_at is not None
        if now < held.started_at:
            raise ChargingError(f"vehicle {vehicle_id!r}: release at {now} is before the "
                                f"start at {held.started_at}")
        self._free(held)
        req = held.waiting.request
        return PadSession(
            vehicle_id=vehicle_id,
            station_id=self.stations[held.station].station_id,
            pad=held.pad,
            requested_at=held.waiting.requested_at,
            assigned_at=held.assigned_at,
            started_at=held.started_at,
            ended_at=now,
            queue_wait_s=held.assigned_at - held.waiting.requested_at,
            start_pct=held.start_pct,
            end_pct=battery_pct,
            energy_wh=max(0.0, battery_pct - held.start_pct) / 100.0 * req.capacity_wh,
            completed=battery_pct >= req.target_pct,
        )

    # ----------------------------------------------------------------- internals

    def _ordered(self) -> list[_Waiting]:
        return sorted(self._waiting.values(), key=self._key)

    def _key(self, w: _Waiting) -> tuple[float, ...]:
        req = w.request
        rank = req.urgency
        if rank is Urgency.NORMAL and req.battery_pct < self.critical_pct:
            rank = Urgency.CRITICAL
        if self.policy is ChargingPolicy.LOWEST_BATTERY:
            return (rank, req.battery_pct, w.requested_at, w.seq)
        if self.policy is ChargingPolicy.LEAST_TOTAL_WAIT:
            # Shortest processing time first: the charge at the fastest station in reach.
            fastest = max(self.stations[s].charge_rate_w for s, _ in w.reach)
            energy = (req.target_pct - req.battery_pct) / 100.0 * req.capacity_wh
            return (rank, energy / fastest, w.requested_at, w.seq)
        return (rank, w.requested_at, w.seq)

    def _assignment(self, held: _OnPad) -> PadAssignment:
        req = held.waiting.request
        station = self.stations[held.station]
        distance = dict(held.waiting.reach)[held.station]
        return PadAssignment(req.vehicle_id, station.station_id, held.pad, distance,
                             station.charge_time_s(req.battery_pct, req.target_pct,
                                                   req.capacity_wh))

    def _held(self, vehicle_id: str) -> _OnPad:
        held = self._on_pad.get(vehicle_id)
        if held is None:
            where = "is still waiting for a pad" if vehicle_id in self._waiting else "holds no pad"
            raise ChargingError(f"vehicle {vehicle_id!r} {where}")
        return held

    def _started(self, vehicle_id: str) -> _OnPad:
        held = self._held(vehicle_id)
        if held.started_at is None:
            raise ChargingError(f"vehicle {vehicle_id!r} has not started charging")
        return held

    def _free(self, held: _OnPad) -> None:
        self._pads[held.station][held.pad] = None
        del self._on_pad[held.waiting.request.vehicle_id]


def _check_time(now: float) -> None:
    if not math.isfinite(now):
        raise ChargingError(f"time must be finite, got {now!r}")


def _check_pct(vehicle_id: str, pct: float) -> None:
    if not (math.isfinite(pct) and 0.0 <= pct <= 100.0):
        raise ChargingError(f"vehicle {vehicle_id!r}: battery_pct must be 0..100, got {pct!r}")
