"""A simulated local weather station: the wind the planner reads, with gusts.

There is no internet weather on a field laptop or in CI, so the simulated fleet carries its own
station. The vehicles' flight physics do not feel this wind (the simulator flies in still air);
only the reports do, which is what the planner's wind limit and energy model consume.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from fleet_core.errors import ConfigError
from fleet_core.yaml_config import mapping, number, only

MAX_WIND_MPS = 60.0  # stronger than any recorded gust at ground stations; a typo above it


@dataclass(frozen=True, slots=True)
class WindSettings:
    """Mean wind, gust amplitude and direction jitter of the simulated station."""

    site: str = ""
    speed_mps: float = 0.0
    direction_deg: float = 0.0  # where the wind blows from, clockwise from north
    gust_mps: float = 0.0  # reports vary uniformly within +/- this around the mean
    direction_jitter_deg: float = 10.0
    period_s: float = 1.0  # how often the station reports

    def __post_init__(self) -> None:
        check_wind(self.speed_mps, self.direction_deg, self.gust_mps)
        if not (math.isfinite(self.direction_jitter_deg) and 0 <= self.direction_jitter_deg
                <= 180):
            raise ConfigError(f"weather.direction_jitter_deg must be 0..180, got "
                              f"{self.direction_jitter_deg!r}")
        if not (math.isfinite(self.period_s) and 0.05 <= self.period_s <= 3600):
            raise ConfigError(f"weather.period_s must be 0.05..3600, got {self.period_s!r}")


def check_wind(speed_mps: float, direction_deg: float, gust_mps: float = 0.0) -> None:
    """Raise ConfigError naming the first wind value that is not physical."""
    if not (math.isfinite(speed_mps) and 0 <= speed_mps <= MAX_WIND_MPS):
        raise ConfigError(f"wind speed_mps must be 0..{MAX_WIND_MPS:g}, got {speed_mps!r}")
    if not math.isfinite(direction_deg):
        raise ConfigError(f"wind direction_deg must be a finite number, got {direction_deg!r}")
    if not (math.isfinite(gust_mps) and 0 <= gust_mps <= MAX_WIND_MPS):
        raise ConfigError(f"wind gust_mps must be 0..{MAX_WIND_MPS:g}, got {gust_mps!r}")


def wind_settings(raw: object, where: str = "fleet_sim.weather") -> WindSettings | None:
    """Parse the optional ``weather`` section; None when the fleet has no station."""
    if raw is None:
        return None
    m = mapping(raw, where)
    known = {"site", "speed_mps", "direction_deg", "gust_mps", "direction_jitter_deg",
             "period_s"}
    only(m, known, where)
    site = m.get("site", "")
    if not isinstance(site, str):
        raise ConfigError(f"{where}.site must be a string, got {site!r}")
    values = {k: number(m[k], f"{where}.{k}") for k in known - {"site"} if k in m}
    try:
        return WindSettings(site=site, **values)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


class WeatherStation:
    """Reports the mean wind with bounded random gusts; the mean can be changed at run time."""

    def __init__(self, settings: WindSettings, seed: int = 0) -> None:
        self.settings = settings
        self._rng = random.Random(seed)

    def set_wind(self, speed_mps: float, direction_deg: float, gust_mps: float) -> None:
        """Change the mean wind (an operator or a test brings weather in); validated."""
        check_wind(speed_mps, direction_deg, gust_mps)
        s = self.settings
        self.settings = WindSettings(s.site, speed_mps, direction_deg % 360.0, gust_mps,
                                     s.direction_jitter_deg, s.period_s)

    def observe(self) -> tuple[float, float]:
        """One report: (speed m/s >= 0, direction degrees from north in [0, 360))."""
        s = self.settings
        speed = max(0.0, s.speed_mps + self._rng.uniform(-s.gust_mps, s.gust_mps))
        jitter = self._rng.uniform(-s.direction_jitter_deg, s.direction_jitter_deg)
        return speed, (s.direction_deg + jitter) % 360.0
