"""Named places (pickups, drop-offs, charging stations...) that requests refer to as "@name"."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from fleet_core.errors import ConfigError
from fleet_core.geo import GeoPoint
from fleet_core.yaml_config import geo_point, load_file, mapping, only

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class PlaceKind(Enum):
    """What a named place is for."""

    PICKUP = "pickup"
    DROPOFF = "dropoff"
    CHARGING_STATION = "charging_station"
    CHECKPOINT = "checkpoint"
    EMERGENCY_LANDING = "emergency_landing"


@dataclass(frozen=True, slots=True)
class Place:
    """A named position (altitude ignored: the planner flies at the mission altitude)."""

    name: str
    kind: PlaceKind
    position: GeoPoint


@dataclass(frozen=True, slots=True)
class WaypointLibrary:
    """The named places a site offers, by name."""

    places: Mapping[str, Place] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Place]:
        return iter(self.places.values())

    def __len__(self) -> int:
        return len(self.places)

    def get(self, name: str) -> Place | None:
        """Return the place called ``name``, or None."""
        return self.places.get(name)

    def of_kind(self, kind: PlaceKind) -> list[Place]:
        """Return the places of one kind, in name order."""
        return sorted((p for p in self.places.values() if p.kind is kind), key=lambda p: p.name)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "places") -> WaypointLibrary:
        """Build a library from ``{name: {kind, latitude, longitude, altitude?}}``.

        A top-level ``places`` key holding that mapping is accepted too (a YAML file's shape).
        """
        raw = mapping(data.get("places", data) if "places" in data else data, where)
        places: dict[str, Place] = {}
        for name, entry in raw.items():
            at = f"{where}.{name}"
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise ConfigError(f"{where}: place name must match {_NAME_RE.pattern}, "
                                  f"got {name!r}")
            m = mapping(entry, at)
            only(m, ("kind", "latitude", "longitude", "altitude"), at)
            kind_raw = m.get("kind")
            try:
                kind = PlaceKind(kind_raw)
            except ValueError:
                raise ConfigError(f"{at}.kind must be one of "
                                  f"{[k.value for k in PlaceKind]}, got {kind_raw!r}") from None
            point = geo_point({k: v for k, v in m.items() if k != "kind"}, at)
            places[name] = Place(name, kind, point)
        return cls(places)


def load_library(path: str | Path) -> WaypointLibrary:
    """Read a waypoint library from a YAML (or JSON) file; errors name the file and key."""
    return load_file(path, "waypoint library", WaypointLibrary.from_mapping)
