"""Charging trips: a vehicle queued for a pad, flown to it, charged, and sent on.

``fleet_core.charging.ChargingQueue`` decides who gets which pad and when; a trip is the
flying around that decision: a short hop to the assigned pad, the session that starts when
the vehicle sits disarmed on it and ends at the target charge, and the hop home after a
charge no mission waits for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from fleet_core.charging.errors import ChargingError
from fleet_core.charging.model import ChargeRequest, PadSession
from fleet_core.charging.queue import ChargingQueue
from fleet_core.execution.model import FleetVehicle, FlyMission
from fleet_core.geo import GeoPoint, haversine_m
from fleet_core.mavlink import MavCmd, MavFrame, MissionItem
from fleet_core.missions_config import PlannerSettings

HOP_ALTITUDE_M = 15.0  # altitude of the hop to a charging pad and back home
_HOME_RADIUS_M = 2.0  # closer than this to home, the vehicle is home already


class TripState(Enum):
    """Where a charging trip is (the values are those of ChargingQueueEntry.state)."""

    QUEUED = "queued"
    FLYING_TO_PAD = "flying_to_pad"
    CHARGING = "charging"


@dataclass(slots=True)
class Trip:
    """One vehicle's trip to a charging pad."""

    vehicle_id: str
    target_pct: float
    for_mission: str | None = None  # the mission that waits for this charge, if any
    state: TripState = TripState.QUEUED
    station_id: str = ""
    pad: int = -1
    session: PadSession | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SessionChanged:
    """A charging session started or ended: announce it (a recorder keeps one row)."""

    trip: Trip
    session: PadSession


@dataclass(frozen=True, slots=True)
class TripEnded:
    """A trip is over: ``trip.session`` and ``trip.reason`` say how it went."""

    trip: Trip
    warning: str = ""  # something odd on the way out, worth a log line


@dataclass(frozen=True, slots=True)
class TripProgress:
    """What a trip's requester is told while it waits (RequestCharge feedback)."""

    state: TripState
    station_id: str
    pad: int
    battery_pct: float
    queue_position: int  # 1-based among waiting vehicles; 0 when not waiting
    estimated_wait_s: float
    time_to_full_s: float


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One vehicle of the charging queue as shown to operators (ChargingQueueEntry)."""

    vehicle_id: str
    state: TripState
    station_id: str
    pad: int
    battery_pct: float
    target_pct: float
    queue_position: int = 0
    estimated_wait_s: float = 0.0
    time_to_full_s: float = math.nan


TripEffect = FlyMission | SessionChanged | TripEnded


def hop(here: GeoPoint, there: GeoPoint) -> tuple[MissionItem, ...]:
    """Mission items for a short hop: take off, fly over ``there``, land on it."""
    frame = int(MavFrame.GLOBAL_REL_ALT)
    return (
        MissionItem(frame, int(MavCmd.NAV_TAKEOFF), True, True, 0.0, 0.0, 0.0, math.nan,
                    here.latitude, here.longitude, HOP_ALTITUDE_M),
        MissionItem(frame, int(MavCmd.NAV_WAYPOINT), False, True, 0.0, 0.0, 0.0,
                    math.nan, there.latitude, there.longitude, HOP_ALTITUDE_M),
        MissionItem(frame, int(MavCmd.NAV_LAND), False, True, 0.0, 0.0, 0.0, math.nan,
                    there.latitude, there.longitude, 0.0),
    )


class ChargingTrips:
    """The trips of the vehicles that asked for a pad, over one ChargingQueue."""

    def __init__(self, settings: PlannerSettings, vehicles: dict[str, FleetVehicle]) -> None:
        self.settings = settings
        self.queue = ChargingQueue(list(settings.stations), settings.charging_policy,
                                   critical_pct=settings.critical_percent)
        self.trips: dict[str, Trip] = {}  # vehicle id -> trip
        self._vehicles = vehicles  # the fleet picture, shared with the executor
        self._shown: tuple[tuple[object, ...], float] | None = None  # (queue shape, when)

    def busy_vehicles(self) -> frozenset[str]:
        """Vehicles between their request and their release: no mission for them."""
        return self.queue.busy_vehicles()

    def request(self, req: ChargeRequest, target_pct: float, now: float, *,
                for_mission: str | None = None) -> str:
        """Queue a vehicle for a pad; return "" or why not."""
        if req.vehicle_id in self.trips:
            return f"vehicle {req.vehicle_id!r} already has a charging request"
        try:
            self.queue.request(req, now)
        except ChargingError as exc:
            return str(exc)
        self.trips[req.vehicle_id] = Trip(req.vehicle_id, target_pct, for_mission=for_mission)
        return ""

    def tick(self, now: float) -> list[TripEffect]:
        """Assign pads, fly vehicles to them, watch them charge, release them."""
        out: list[TripEffect] = []
        for a in self.queue.tick(now):
            trip = self.trips.get(a.vehicle_id)
            if trip is not None:
                trip.station_id, trip.pad = a.station_id, a.pad
                out.extend(self._fly_to_pad(trip))
        for vid, trip in list(self.trips.items()):
            v = self._vehicles.get(vid)
            if v is None:
                continue
            if trip.state is TripState.FLYING_TO_PAD and v.landed and not v.armed and \
                    v.position is not None and self._on_pad(trip, v.position):
                trip.state = TripState.CHARGING
                self.queue.charging_started(vid, v.battery_pct, now)
                # Sessions are announced as they happen: this one now, again when it ends.
                out.append(SessionChanged(trip, self.queue.session(vid)))
            elif trip.state is TripState.CHARGING and math.isfinite(v.battery_pct) and \
                    self.queue.progress(vid, v.battery_pct, now):
                out.extend(self.finish(vid, now, success=True))
        return out

    def finish(self, vehicle_id: str, now: float, *, success: bool) -> list[TripEffect]:
        """End a trip: release the pad (the session ends) or leave the queue.

        A vehicle charged for no mission hops home to free the pad; one charged for a
        mission starts it from the pad.
        """
        trip = self.trips.pop(vehicle_id, None)
        if trip is None:
            return []
        out: list[TripEffect] = []
        v = self._vehicles.get(vehicle_id)
        pct = v.battery_pct if v is not None and math.isfinite(v.battery_pct) else 0.0
        warning = ""
        if trip.state is TripState.CHARGING:
            trip.session = self.queue.release(vehicle_id, pct, now)
            trip.reason = trip.reason or ("charged" if success else "interrupted")
            out.append(SessionChanged(trip, trip.session))
        else:
            try:
                self.queue.cancel(vehicle_id)
            except ChargingError as exc:
                warning = f"charge of {vehicle_id}: {exc}"
        out.append(TripEnded(trip, warning))
        if success and trip.for_mission is None and v is not None and v.position is not None \
                and v.home is not None and haversine_m(v.position, v.home) >= _HOME_RADIUS_M:
            out.append(FlyMission(vehicle_id, hop(v.position, v.home)))
        return out

    def progress(self, vehicle_id: str, now: float) -> TripProgress | None:
        """Where a vehicle's trip stands: its place in the queue, the waits, the battery."""
        trip = self.trips.get(vehicle_id)
        if trip is None:
            return None
        v = self._vehicles.get(vehicle_id)
        waiting = self.queue.waiting()
        wait, to_full = 0.0, 0.0
        for e in self.queue.estimates(now):
            if e.vehicle_id == vehicle_id:
                wait, to_full = e.wait_s, e.time_to_full_s
        return TripProgress(trip.state, trip.station_id, trip.pad,
                            v.battery_pct if v is not None else math.nan,
                            waiting.index(vehicle_id) + 1 if vehicle_id in waiting else 0,
                            wait, to_full)

    def rows(self, now: float) -> list[QueueRow]:
        """Every vehicle of the queue: the waiting in queue order, then the rest by id."""
        estimates = {e.vehicle_id: e for e in self.queue.estimates(now)}
        stations = {st.station_id: st for st in self.queue.stations}
        queued, others = [], []
        for vid, trip in self.trips.items():
            v = self._vehicles.get(vid)
            pct = v.battery_pct if v is not None else math.nan
            e = estimates.get(vid)
            if e is not None:
                queued.append(QueueRow(vid, TripState.QUEUED, e.station_id, -1, pct,
                                       trip.target_pct, e.position, e.wait_s,
                                       e.time_to_full_s))
                continue
            station = stations.get(trip.station_id)
            to_full = station.charge_time_s(pct, trip.target_pct,
                                            v.spec.battery_capacity_wh) \
                if station is not None and v is not None and math.isfinite(pct) else math.nan
            others.append(QueueRow(vid, trip.state, trip.station_id, trip.pad, pct,
                                   trip.target_pct, time_to_full_s=to_full))
        queued.sort(key=lambda q: q.queue_position)
        return queued + sorted(others, key=lambda q: q.vehicle_id)

    def rows_to_show(self, now: float) -> list[QueueRow] | None:
        """The queue when operators should be shown it again, else None: on every change of
        who waits where, and every second while it is not empty (the waits count down)."""
        rows = self.rows(now)
        shape = tuple((q.vehicle_id, q.state, q.queue_position, q.station_id, q.pad)
                      for q in rows)
        if self._shown is not None:
            last, at = self._shown
            if last == shape and (not rows or now - at < 1.0):
                return None
        self._shown = (shape, now)
        return rows

    def _on_pad(self, trip: Trip, position: GeoPoint) -> bool:
        pad = self.settings.pad(trip.station_id, trip.pad)
        return haversine_m(pad.position, position) <= pad.radius_m

    def _fly_to_pad(self, trip: Trip) -> list[TripEffect]:
        """Take off, fly over the pad and land on it (or charge at once if already there)."""
        trip.state = TripState.FLYING_TO_PAD
        v = self._vehicles[trip.vehicle_id]
        if v.position is not None and v.landed and self._on_pad(trip, v.position):
            return []  # already on the pad: charging starts at the next tick
        pad = self.settings.pad(trip.station_id, trip.pad).position
        return [FlyMission(trip.vehicle_id, hop(v.position or pad, pad))]
