"""Reading validated settings from YAML: every error names the file and the bad key.

Each config module also describes its keys as :class:`Key` trees; the loaders accept exactly
the keys described there, and ``scripts/config_reference.py`` renders the same trees into
docs/configuration.md, so the reference cannot list a key the loader refuses or miss one it
reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, TypeVar

import yaml

from fleet_core.errors import ConfigError
from fleet_core.geo import GeoPoint

T = TypeVar("T")


class KeyType(StrEnum):
    """What a YAML key holds, in the words of the configuration reference."""

    NUMBER = "number"
    INTEGER = "integer"
    TEXT = "string"
    BOOLEAN = "boolean"
    CHOICE = "choice"  # one of Key.choices
    POSITION = "position"  # {latitude, longitude, altitude}: POSITION_KEYS
    SECTION = "mapping"  # the keys are Key.keys
    LIST = "list"  # each item is a mapping of Key.keys
    NAMED = "mapping of names"  # name -> a mapping of Key.keys
    STATIONS = "list or file name"  # inline, or a file holding the list (SHARED_KEYS)


class Default(Enum):
    """A key's default when it is not a value."""

    REQUIRED = "required"
    NONE = "none"  # absent is meaningful; Key.doc says what then applies


@dataclass(frozen=True, slots=True)
class Key:
    """One key of a YAML config: its type, default, unit and meaning."""

    name: str
    type: KeyType
    doc: str
    default: object = Default.NONE
    unit: str = ""
    keys: tuple[Key, ...] = ()  # of a SECTION, or of each item of a LIST or NAMED
    choices: tuple[str, ...] = ()  # of a CHOICE

    def names(self) -> tuple[str, ...]:
        """Return the names of the keys this key holds (what its loader accepts)."""
        return tuple(k.name for k in self.keys)

    def key(self, name: str) -> Key:
        """Return the key ``name`` held by this one."""
        for k in self.keys:
            if k.name == name:
                return k
        raise KeyError(f"{self.name} has no key {name!r}")


def documented(default: object, doc: str, unit: str = "") -> Any:
    """Return a dataclass field with ``default`` whose meaning and unit the reference lists.

    For settings dataclasses whose fields are YAML keys one for one (see :func:`field_keys`).
    """
    return field(default=default, metadata={"doc": doc, "unit": unit})


_FIELD_TYPES = {"float": KeyType.NUMBER, "int": KeyType.INTEGER, "str": KeyType.TEXT,
                "bool": KeyType.BOOLEAN}


def field_keys(cls: type[Any]) -> tuple[Key, ...]:
    """Describe the fields of dataclass ``cls`` (made with :func:`documented`) as keys."""
    return tuple(Key(f.name, _FIELD_TYPES[str(f.type)], f.metadata["doc"], f.default,
                     f.metadata["unit"]) for f in fields(cls))


def field_default(cls: type[Any], name: str) -> object:
    """Return the default of field ``name`` of dataclass ``cls``, for a Key that it loads."""
    found: Field[Any] | None = next((f for f in fields(cls) if f.name == name), None)
    if found is None:
        raise KeyError(f"{cls.__name__} has no field {name!r}")
    if found.default is not MISSING:
        return found.default
    if found.default_factory is not MISSING:
        return found.default_factory()
    return Default.REQUIRED


POSITION_KEYS = (
    Key("latitude", KeyType.NUMBER, "WGS-84 latitude, -90..90", Default.REQUIRED, "deg"),
    Key("longitude", KeyType.NUMBER, "WGS-84 longitude, -180..180", Default.REQUIRED, "deg"),
    Key("altitude", KeyType.NUMBER, "height above the WGS-84 ellipsoid", 0.0, "m"),
)
"""The keys of every position (KeyType.POSITION)."""


def position(name: str, doc: str, default: object = Default.REQUIRED) -> Key:
    """Describe a position key (read with :func:`geo_point`)."""
    return Key(name, KeyType.POSITION, doc, default, keys=POSITION_KEYS)


def mapping(raw: object, where: str) -> Mapping[str, Any]:
    """Return ``raw`` as a mapping (None → empty); raise naming ``where`` otherwise."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(raw).__name__}")
    return raw


def only(m: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Raise if ``m`` has keys outside ``allowed``."""
    known = set(allowed)
    unknown = set(m) - known
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(known)})")


def number(raw: object, where: str) -> float:
    """Return ``raw`` as a finite float (bools are not numbers)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ConfigError(f"{where} must be a finite number, got {raw!r}")
    return float(raw)


def positive(raw: object, where: str) -> float:
    """Return ``raw`` as a finite float > 0."""
    value = number(raw, where)
    if value <= 0:
        raise ConfigError(f"{where} must be positive, got {raw!r}")
    return value


def percent(raw: object, where: str) -> float:
    """Return ``raw`` as a float within 0..100."""
    value = number(raw, where)
    if not 0.0 <= value <= 100.0:
        raise ConfigError(f"{where} must be within 0..100, got {raw!r}")
    return value


def geo_point(raw: object, where: str) -> GeoPoint:
    """Return a valid WGS-84 point from {latitude, longitude, altitude?}."""
    m = mapping(raw, where)
    only(m, (k.name for k in POSITION_KEYS), where)
    if "latitude" not in m or "longitude" not in m:
        raise ConfigError(f"{where} needs latitude and longitude")
    point = GeoPoint(number(m["latitude"], f"{where}.latitude"),
                     number(m["longitude"], f"{where}.longitude"),
                     number(m.get("altitude", 0.0), f"{where}.altitude"))
    if not point.is_valid():
        raise ConfigError(f"{where} is not a valid WGS-84 position: {point}")
    return point


def load_file(path: str | Path, what: str, build: Callable[[Mapping[str, Any]], T]) -> T:
    """Read YAML at ``path`` and build settings from it; errors name the file."""
    p = Path(path)
    data = _read_mapping(p, f"{what} config")
    try:
        return build(_with_shared_files(data, p.parent))
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None


def _read_mapping(path: Path, what: str) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what} {path} must hold a mapping at the top")
    return data


SHARED_KEYS = ("charging_stations",)
"""Keys whose value may be a file name instead of the value itself (see _with_shared_files)."""


def _with_shared_files(data: Mapping[str, Any], base: Path) -> Mapping[str, Any]:
    """Read the shared keys that name a file, relative to the config file, from that file.

    The simulator (which charges vehicles landed on a pad), the fleet manager (which draws the
    pads) and the planner (which queues vehicles for them) must agree on the stations, so the
    shipped configs all say ``charging_stations: stations.yaml`` rather than keep three copies.
    """
    out = dict(data)
    for name, section in data.items():
        if not isinstance(section, Mapping):
            continue
        refs = {k: section[k] for k in SHARED_KEYS if isinstance(section.get(k), str)}
        if refs:
            out[name] = {**section, **{k: _shared_value(base / ref, k)
                                       for k, ref in refs.items()}}
    return out


def _shared_value(path: Path, key: str) -> Any:
    doc = _read_mapping(path, f"{key} file")
    if key not in doc:
        raise ConfigError(f"{key} file {path} must hold a mapping with the key {key!r}")
    return doc[key]
