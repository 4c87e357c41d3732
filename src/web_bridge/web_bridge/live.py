"""The bridge's in-memory picture of the graph, updated on the event loop from the ROS feed.

Every instance keeps its own copy from its own subscriptions, so the API still answers when
Redis is down. Listeners (the Redis tier, the WebSocket hub) are told of each change.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

Listener = Callable[[str, Any], None]


class FleetPicture:
    """Vehicles, missions, zones, recent events and charging sessions, as dicts."""

    def __init__(self, events_kept: int = 1000) -> None:
        self.vehicles: dict[str, dict[str, Any]] = {}
        self.missions: dict[str, dict[str, Any]] = {}
        self.zones: list[dict[str, Any]] = []
        self.events: deque[dict[str, Any]] = deque(maxlen=events_kept)
        self.charging: dict[str, dict[str, Any]] = {}  # vehicle -> newest session
        # The planner's stations and live queue with waits (/fleet/charging_queue).
        self.charging_queue: dict[str, Any] | None = None
        # Site of each mission (or recurring template) created through a bridge: a mission
        # without a vehicle yet is still scoped to its site (filled from Redis at start).
        self.mission_sites: dict[str, str] = {}
        self.fleet_received: float | None = None  # wall time of the newest /fleet/status
        self.missions_received: float | None = None
        self.zones_received: float | None = None
        self._listeners: list[Listener] = []
        self._vehicle_json: dict[str, str] = {}
        self._vehicle_order: list[str] | None = None

    def vehicle_json(self, vehicle_id: str) -> str:
        """Return a vehicle of the picture as JSON, encoded once per /fleet/status.

        Lists of 1,000 vehicles are served to many clients each second: encoding each vehicle
        once, instead of validating and encoding it per request, is what keeps them cheap.
        """
        text = self._vehicle_json.get(vehicle_id)
        if text is None:
            text = json.dumps(self.vehicles[vehicle_id], separators=(",", ":"))
            self._vehicle_json[vehicle_id] = text
        return text

    def vehicle_order(self) -> list[str]:
        """Return the ids of the picture's vehicles, sorted (once per /fleet/status)."""
        if self._vehicle_order is None:
            self._vehicle_order = sorted(self.vehicles)
        return self._vehicle_order

    def listen(self, listener: Listener) -> None:
        """Call ``listener(kind, payload)`` after every update."""
        self._listeners.append(listener)

    def on_update(self, kind: str, payload: Any) -> None:
        """Apply one update from the ROS feed (runs on the event loop)."""
        now = time.time()
        if kind == "fleet":
            self.vehicles = {v["vehicle_id"]: v for v in payload}
            self._vehicle_json = {}
            self._vehicle_order = None
            self.fleet_received = now
        elif kind == "missions":
            for m in payload:
                m.setdefault("site_id", self.created_site(m["mission_id"]))
            self.missions = {m["mission_id"]: m for m in payload}
            self.missions_received = now
        elif kind == "zones":
            self.zones = list(payload)
            self.zones_received = now
        elif kind in ("event", "mission_event"):
            self.events.append(payload)
        elif kind == "charging_session":
            self.charging[payload["vehicle_id"]] = payload
        elif kind == "charging_queue":
            self.charging_queue = payload
        for listener in self._listeners:
            listener(kind, payload)

    def vehicle_site(self, vehicle_id: str | None) -> str | None:
        """Return the site of a vehicle in the picture (None when unknown or without one)."""
        if not vehicle_id:
            return None
        v = self.vehicles.get(vehicle_id)
        return v.get("site_id") if v else None

    def created_site(self, mission_id: str) -> str | None:
        """Return the site a mission was created for through a bridge, if known.

        Parts of a split survey (``<id>/<k>``) and occurrences of a recurring template
        (``<template>@<time>``) belong to the site of their parent.
        """
        site = self.mission_sites.get(mission_id)
        if site is None:
            root = mission_id.split("/", 1)[0].split("@", 1)[0]
            site = self.mission_sites.get(root)
        return site

    def mission_site(self, mission: dict[str, Any]) -> str | None:
        """Return the site of a mission: the one it was created for, else its vehicle's,
        else its pinned vehicle's (a mission belongs to whoever asked for it, not to the
        site the dispatcher happened to borrow a vehicle from)."""
        return (mission.get("site_id")
                or self.vehicle_site(mission.get("vehicle_id"))
                or self.vehicle_site(mission.get("pinned_vehicle_id")))
