"""The simulated weather station reports a validated wind with bounded gusts."""

from __future__ import annotations

import math

import pytest

from fleet_core.errors import ConfigError
from fleet_core.sim.config import load_settings
from fleet_core.sim.weather import WeatherStation, WindSettings, wind_settings

HOME = {"latitude": 47.0, "longitude": 8.0, "altitude": 400.0}


def test_no_weather_section_means_no_station() -> None:
    assert wind_settings(None) is None
    settings = load_settings({"fleet_sim": {"vehicles": [{"id": "uav0", "home": HOME}]}})
    assert settings.weather is None


def test_the_weather_section_is_read_into_the_sim_settings() -> None:
    settings = load_settings({"fleet_sim": {
        "vehicles": [{"id": "uav0", "home": HOME}],
        "weather": {"site": "zurich", "speed_mps": 4, "direction_deg": 200.0, "gust_mps": 1.5,
                    "period_s": 0.5}}})
    assert settings.weather == WindSettings("zurich", 4.0, 200.0, 1.5, 10.0, 0.5)


@pytest.mark.parametrize(("raw", "named"), [
    ({"speed_mps": -1.0}, "speed_mps"),
    ({"speed_mps": 99.0}, "speed_mps"),
    ({"speed_mps": "strong"}, "speed_mps"),
    ({"direction_deg": float("nan")}, "direction_deg"),
    ({"gust_mps": -2.0}, "gust_mps"),
    ({"period_s": 0.0}, "period_s"),
    ({"direction_jitter_deg": 500.0}, "direction_jitter_deg"),
    ({"site": 7}, "site"),
    ({"sped_mps": 3.0}, "sped_mps"),
])
def test_a_bad_weather_value_is_refused_naming_the_key(raw: dict[str, object],
                                                       named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        wind_settings(raw)


def test_reports_stay_within_the_gusts_around_the_mean() -> None:
    station = WeatherStation(WindSettings(speed_mps=5.0, direction_deg=355.0, gust_mps=2.0,
                                          direction_jitter_deg=10.0), seed=3)
    reports = [station.observe() for _ in range(2000)]
    speeds = [s for s, _ in reports]
    assert 3.0 <= min(speeds) < 3.2
    assert 6.8 < max(speeds) <= 7.0
    # Directions wrap around north: 345..365 degrees is 345..360 and 0..5.
    assert all(d >= 345.0 or d <= 5.0 for _, d in reports)
    assert all(0.0 <= d < 360.0 for _, d in reports)


def test_a_calm_with_gusts_never_reports_a_negative_speed() -> None:
    station = WeatherStation(WindSettings(speed_mps=0.5, gust_mps=3.0), seed=1)
    assert all(station.observe()[0] >= 0.0 for _ in range(1000))


def test_the_mean_wind_can_be_changed_and_garbage_is_refused() -> None:
    station = WeatherStation(WindSettings(site="x", speed_mps=1.0, direction_jitter_deg=0.0))
    station.set_wind(15.0, 450.0, 0.0)
    assert station.observe() == (15.0, 90.0)
    assert station.settings.site == "x"
    for bad in ((math.nan, 0.0, 0.0), (10.0, math.inf, 0.0), (10.0, 0.0, -1.0)):
        with pytest.raises(ConfigError):
            station.set_wind(*bad)
    assert station.observe() == (15.0, 90.0)
