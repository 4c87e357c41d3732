"""config/missions.yaml is read whole, and a bad key is refused with its name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet_core.charging.model import ChargingPolicy
from fleet_core.errors import ConfigError
from fleet_core.missions_config import load_planner_settings, load_planner_settings_file

CONFIG = Path(__file__).resolve().parents[2] / "config" / "missions.yaml"


def test_the_shipped_config_loads_with_its_station_and_defaults() -> None:
    s = load_planner_settings_file(CONFIG)
    assert s.charging_policy is ChargingPolicy.LOWEST_BATTERY
    assert s.large_surveys == "split"
    assert s.wind_max_age_s == 600.0
    assert [st.station_id for st in s.stations] == ["station_a"]
    assert s.pad("station_a", 0).station_id == "station_a"


def test_an_empty_config_takes_the_defaults() -> None:
    s = load_planner_settings({"mission_planner": {}})
    assert (s.max_wind_mps, s.reserve_percent, s.large_surveys) == (12.0, 20.0, "split")
    assert (s.command_timeout_s, s.upload_timeout_s) == (3.0, 10.0)
    assert s.stations == ()


@pytest.mark.parametrize(("raw", "named"), [
    ({"large_surveys": "share"}, "large_surveys"),
    ({"pin_grace_s": -1.0}, "pin_grace_s"),
    ({"wind_max_age_s": -5.0}, "wind_max_age_s"),
    ({"max_wind_mps": float("nan")}, "max_wind_mps"),
    ({"reserve_percent": 150.0}, "reserve_percent"),
    ({"charging_policy": "random"}, "charging_policy"),
    ({"command_retries": -1}, "command_retries"),
    ({"upload_timeout_s": 0.0}, "upload_timeout_s"),
    ({"tick_rate_hz": "fast"}, "tick_rate_hz"),
    ({"max_wnd_mps": 10.0}, "max_wnd_mps"),
])
def test_a_bad_value_is_refused_naming_the_key(raw: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_planner_settings({"mission_planner": raw})
