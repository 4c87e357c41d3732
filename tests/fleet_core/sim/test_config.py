"""The simulator's configuration is validated with errors that name the bad key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet_core.errors import ConfigError
from fleet_core.sim.config import load_settings, load_settings_file

HOME = {"latitude": 47.3977, "longitude": 8.5456, "altitude": 488.0}
REPO = Path(__file__).parents[3]


def _doc(**root: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"vehicles": [{"id": "uav0", "home": HOME}]}
    base.update(root)
    return {"fleet_sim": base}


def test_the_shipped_config_loads() -> None:
    s = load_settings_file(REPO / "config" / "fleet_sim.yaml")
    assert [v.vehicle_id for v in s.vehicles] == ["uav0", "uav1", "uav2"]
    assert s.vehicles[0].mavros_prefix == "/uav0/mavros"
    assert len(s.pads) == 2


def test_vehicle_count_generates_more_vehicles_with_distinct_ids_and_homes() -> None:
    s = load_settings_file(REPO / "config" / "fleet_sim.yaml", vehicle_count=500)
    assert len(s.vehicles) == 500
    assert len({v.vehicle_id for v in s.vehicles}) == 500
    assert len({(v.home.latitude, v.home.longitude) for v in s.vehicles}) == 500


def test_defaults_apply_and_a_vehicle_overrides_them() -> None:
    doc = _doc(defaults={"limits": {"cruise_speed": 5.0}},
               vehicles=[{"id": "a", "home": HOME},
                         {"id": "b", "home": HOME, "limits": {"cruise_speed": 3.0}}])
    a, b = load_settings(doc).vehicles
    assert (a.limits.cruise_speed, b.limits.cruise_speed) == (5.0, 3.0)


@pytest.mark.parametrize(("doc", "message"), [
    (_doc(vehicles=[{"id": "uav 0", "home": HOME}]), r"vehicles\[0\]\.id"),
    (_doc(vehicles=[{"id": "a", "home": {"latitude": 91, "longitude": 0}}]), "not a valid WGS-84"),
    (_doc(vehicles=[{"id": "a", "home": {"longitude": 0}}]), "needs latitude"),
    (_doc(vehicles=[{"id": "a", "home": HOME, "limits": {"cruise_speed": -1}}]),
     r"limits\.cruise_speed must be a positive number"),
    (_doc(vehicles=[{"id": "a", "home": HOME, "limits": {"warp": 9}}]), "unknown key 'warp'"),
    (_doc(vehicles=[{"id": "a", "home": HOME, "battery": {"cells": 2.5}}]), "cells"),
    (_doc(vehicles=[{"id": "a", "home": HOME}, {"id": "a", "home": HOME}]), "duplicate"),
    (_doc(time_factor=0), "time_factor must be 0.01..100"),
    (_doc(time_factor="fast"), "time_factor must be a finite number"),
    (_doc(colour="red"), "unknown keys"),
    (_doc(vehicles=[]), "1..500 vehicles"),
], ids=["bad-id", "bad-lat", "missing-lat", "negative-speed", "unknown-limit", "float-cells",
        "duplicate-id", "zero-time-factor", "string-time-factor", "unknown-root-key",
        "no-vehicles"])
def test_bad_config_is_rejected_naming_the_problem(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(doc)


def test_vehicle_count_beyond_the_list_without_generate_is_an_error() -> None:
    with pytest.raises(ConfigError, match="generate is not configured"):
        load_settings(_doc(), vehicle_count=2)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_settings_file(tmp_path / "nope.yaml")


def test_invalid_yaml_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("fleet_sim: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings_file(bad)
