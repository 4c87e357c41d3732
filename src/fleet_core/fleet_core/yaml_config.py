"""Reading validated settings from YAML: every error names the file and the bad key."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from fleet_core.errors import ConfigError
from fleet_core.geo import GeoPoint

T = TypeVar("T")


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


def geo_point(raw: object, where: str) -> GeoPoint:
    """Return a valid WGS-84 point from {latitude, longitude, altitude?}."""
    m = mapping(raw, where)
    only(m, ("latitude", "longitude", "altitude"), where)
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
