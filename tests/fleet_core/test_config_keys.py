"""The keys each config module describes (and docs/configuration.md lists) are the keys its
loader reads: every documented default is the loader's default, and every section refuses a key
it does not describe, a value of the wrong type and a value out of range, naming the key."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from fleet_core.errors import ConfigError
from fleet_core.fleet.config import FLEET_KEYS, load_fleet_settings
from fleet_core.missions_config import MISSIONS_KEYS, load_planner_settings
from fleet_core.sim.config import FLEET_SIM_KEYS, load_settings
from fleet_core.yaml_config import Default, Key, KeyType

HOME = {"latitude": 47.3977, "longitude": 8.5456}
STATION = {"id": "roof", "location": HOME, "pads": [{}]}


def _square() -> list[dict[str, float]]:
    return [{"latitude": 47.40 + dy, "longitude": 8.54 + dx}
            for dx, dy in ((0, 0), (0.001, 0), (0.001, 0.001))]


# The smallest documents that hold every section and one item of every list, so that each
# documented key has a place to go.
MINIMAL: dict[str, tuple[Key, Callable[[Mapping[str, Any]], object], dict[str, Any]]] = {
    "fleet.yaml": (FLEET_KEYS, load_fleet_settings, {"fleet_manager": {
        "origin": HOME, "vehicles": [{"id": "a"}], "sites": [{"id": "hq", "location": HOME}],
        "no_fly_zones": [{"id": "z", "polygon": _square()}], "charging_stations": [STATION]}}),
    "fleet_sim.yaml": (FLEET_SIM_KEYS, load_settings, {"fleet_sim": {
        "vehicles": [{"id": "uav0", "home": HOME}], "generate": {"count": 2, "origin": HOME},
        "weather": {}, "charging_stations": [STATION]}}),
    "missions.yaml": (MISSIONS_KEYS, load_planner_settings, {"mission_planner": {
        "charging_stations": [STATION],
        "places": {"depot": {"kind": "pickup", **HOME}}}}),
}

Path = tuple[str | int, ...]
_CONTAINERS = (KeyType.SECTION, KeyType.LIST, KeyType.NAMED, KeyType.STATIONS,
               KeyType.POSITION)


def _walk(key: Key, path: Path, doc: Any) -> Iterator[tuple[Key, Path]]:
    """Yield every key below ``key`` with its path in ``doc`` (lists: their first item)."""
    for child in key.keys:
        at = (*path, child.name)
        yield child, at
        if child.type in (KeyType.LIST, KeyType.STATIONS):
            yield from _walk(child, (*at, 0), doc)
        elif child.type is KeyType.NAMED:
            first = next(iter(_get(doc, at)))
            yield from _walk(child, (*at, first), doc)
        elif child.keys:
            yield from _walk(child, at, doc)


def _get(doc: Any, path: Path) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def _present(doc: Any, path: Path) -> bool:
    try:
        _get(doc, path)
    except (KeyError, IndexError):
        return False
    return True


def _with(doc: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """Return a copy of ``doc`` with ``value`` at ``path`` (missing sections made empty)."""
    out = copy.deepcopy(doc)
    node: Any = out
    for step in path[:-1]:
        if isinstance(step, str) and step not in node:
            node[step] = {}
        node = node[step]
    node[path[-1]] = value
    return out


def _without(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    if _present(out, path[:-1]):
        _get(out, path[:-1]).pop(path[-1], None)
    return out


def _keys(*types: KeyType, defaults: bool = False) -> list[Any]:
    cases = []
    for file, (root, _, doc) in MINIMAL.items():
        for key, path in _walk(root, (root.name,), doc):
            if key.type in types and not (defaults and isinstance(key.default, Default)):
                cases.append(pytest.param(file, key, path, id=f"{file}:{'.'.join(map(str, path))}"))
    return cases


@pytest.mark.parametrize("file", list(MINIMAL))
def test_the_minimal_documents_load(file: str) -> None:
    _, load, doc = MINIMAL[file]
    load(doc)


@pytest.mark.parametrize(("file", "key", "path"), _keys(
    KeyType.NUMBER, KeyType.INTEGER, KeyType.TEXT, KeyType.BOOLEAN, KeyType.CHOICE,
    defaults=True))
def test_a_documented_default_is_what_leaving_the_key_out_gives(file: str, key: Key,
                                                                 path: Path) -> None:
    _, load, doc = MINIMAL[file]
    assert load(_with(doc, path, key.default)) == load(_without(doc, path))


@pytest.mark.parametrize(("file", "key", "path"), _keys(*_CONTAINERS))
def test_a_key_a_section_does_not_document_is_refused_naming_it(file: str, key: Key,
                                                                 path: Path) -> None:
    _, load, doc = MINIMAL[file]
    at = (*path, 0) if key.type in (KeyType.LIST, KeyType.STATIONS) else path
    if key.type is KeyType.NAMED:
        at = (*path, next(iter(_get(doc, path))))
    if not _present(doc, at) and key.type is not KeyType.SECTION:
        pytest.skip(f"{key.name} is not in the minimal {file}")
    with pytest.raises(ConfigError, match=r"unknown keys? .*colour"):
        load(_with(doc, (*at, "colour"), "red"))


_WRONG: dict[KeyType, object] = {
    KeyType.NUMBER: "abc", KeyType.INTEGER: 1.5, KeyType.BOOLEAN: "yes",
    KeyType.CHOICE: "sideways", KeyType.TEXT: ["a", "list"], KeyType.POSITION: "here",
    KeyType.SECTION: 7, KeyType.LIST: 7, KeyType.NAMED: 7, KeyType.STATIONS: 7,
}


@pytest.mark.parametrize(("file", "key", "path"), _keys(*_WRONG))
def test_a_value_of_the_wrong_type_is_refused_naming_its_key(file: str, key: Key,
                                                             path: Path) -> None:
    _, load, doc = MINIMAL[file]
    with pytest.raises(ConfigError, match=rf"\b{key.name}\b"):
        load(_with(doc, path, _WRONG[key.type]))


@pytest.mark.parametrize(("file", "path", "value"), [
    ("fleet.yaml", ("fleet_manager", "command_retries"), 11),
    ("fleet.yaml", ("fleet_manager", "status_rate_hz"), 0),
    ("fleet.yaml", ("fleet_manager", "liveness", "stale_after_s"), -1.0),
    ("fleet.yaml", ("fleet_manager", "separation", "horizontal_m"), 0.0),
    ("fleet.yaml", ("fleet_manager", "battery", "warning_percent"), 101.0),
    ("fleet.yaml", ("fleet_manager", "origin", "latitude"), 91.0),
    ("fleet.yaml", ("fleet_manager", "charging_stations", 0, "pad_radius_m"), 0.0),
    ("fleet_sim.yaml", ("fleet_sim", "time_factor"), 1000.0),
    ("fleet_sim.yaml", ("fleet_sim", "position_rate_hz"), 1000.0),
    ("fleet_sim.yaml", ("fleet_sim", "defaults", "battery", "cells"), 20),
    ("fleet_sim.yaml", ("fleet_sim", "vehicles", 0, "limits", "cruise_speed"), 50.0),
    ("fleet_sim.yaml", ("fleet_sim", "generate", "count"), 501),
    ("fleet_sim.yaml", ("fleet_sim", "weather", "speed_mps"), 100.0),
    ("fleet_sim.yaml", ("fleet_sim", "charging_stations", 0, "charge_rate_w"), -1.0),
    ("missions.yaml", ("mission_planner", "reserve_percent"), 150.0),
    ("missions.yaml", ("mission_planner", "emergency_priority"), 0),
    ("missions.yaml", ("mission_planner", "tick_rate_hz"), 0.0),
    ("missions.yaml", ("mission_planner", "finished_kept"), -1),
], ids=lambda v: ".".join(map(str, v)) if isinstance(v, tuple) else None)
def test_a_value_out_of_range_is_refused_naming_its_key(file: str, path: Path,
                                                        value: object) -> None:
    _, load, doc = MINIMAL[file]
    with pytest.raises(ConfigError, match=rf"\b{path[-1]}\b"):
        load(_with(doc, path, value))
