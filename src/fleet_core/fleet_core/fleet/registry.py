"""The vehicles in the fleet picture: configured, discovered from the graph, added and
removed at run time."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from fleet_core.errors import ConfigError, FleetCoreError
from fleet_core.fleet.config import vehicle_spec
from fleet_core.fleet.model import VehicleSpec, VehicleState
from fleet_core.mavros_topics import MavrosTopic, MsgType


class UnknownVehicleError(FleetCoreError, LookupError):
    """No vehicle of that id is in the fleet; the message names the known ones."""


class Registry:
    """The fleet's vehicles by id, and the MAVROS prefixes discovery must leave alone."""

    def __init__(self, prefix_pattern: str) -> None:
        self.vehicles: dict[str, VehicleState] = {}
        self._pattern = re.compile(prefix_pattern)
        # Removed at run time: discovery must not bring them straight back while their
        # topics still exist.
        self._removed_prefixes: set[str] = set()

    def add(self, spec: VehicleSpec) -> VehicleState | None:
        """Register a vehicle; return its new state, or None if the id is already known."""
        if spec.vehicle_id in self.vehicles:
            return None
        self._removed_prefixes.discard(spec.mavros_prefix)
        state = self.vehicles[spec.vehicle_id] = VehicleState(spec)
        return state

    def get(self, vehicle_id: str) -> VehicleState:
        """Return the vehicle, or raise UnknownVehicleError naming the known ids."""
        state = self.vehicles.get(vehicle_id)
        if state is None:
            raise UnknownVehicleError(f"unknown vehicle_id {vehicle_id!r}; known: "
                                      f"{sorted(self.vehicles)}")
        return state

    def admit(self, vehicle_id: str, mavros_prefix: str = "", model: str = "") -> VehicleSpec:
        """Validate a vehicle to add at run time; raise ConfigError saying what is wrong.

        The prefix defaults to ``/<id>/mavros`` and the model to a multirotor.
        """
        prefix = mavros_prefix or f"/{vehicle_id}/mavros"
        spec = vehicle_spec({"id": vehicle_id, "mavros_prefix": prefix,
                             "model": model or "multirotor"}, "add_vehicle")
        if vehicle_id in self.vehicles:
            raise ConfigError(f"vehicle {vehicle_id!r} is already registered")
        if any(v.spec.mavros_prefix == prefix for v in self.vehicles.values()):
            raise ConfigError(f"MAVROS prefix {prefix} already belongs to another vehicle")
        return spec

    def remove(self, vehicle_id: str) -> VehicleState:
        """Drop a vehicle (discovery then leaves its prefix alone); UnknownVehicleError if
        there is none."""
        state = self.get(vehicle_id)
        del self.vehicles[vehicle_id]
        self._removed_prefixes.add(state.spec.mavros_prefix)
        return state

    def discover(self, topics: Iterable[tuple[str, Sequence[str]]]) -> list[VehicleSpec]:
        """Return the vehicles whose MAVROS state topic is in ``topics`` (name, types) but
        not in the fleet; the prefix pattern's group ``id`` names each."""
        known = {v.spec.mavros_prefix for v in self.vehicles.values()} | self._removed_prefixes
        ids = set(self.vehicles)
        suffix = f"/{MavrosTopic.STATE.value}"
        found = []
        for name, types in topics:
            if not name.endswith(suffix) or MsgType.STATE.value not in types:
                continue
            prefix = name[: -len(suffix)]
            if prefix in known:
                continue
            m = self._pattern.match(prefix)
            if m is None or m.group("id") in ids:
                continue
            found.append(VehicleSpec(vehicle_id=m.group("id"), mavros_prefix=prefix))
            known.add(prefix)
            ids.add(m.group("id"))
        return found
