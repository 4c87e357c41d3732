"""Battery policy: warn when low, send home when critical, land when home is out of reach."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class BatteryAction(Enum):
    """What the fleet does about a vehicle's battery."""

    NONE = "none"
    WARN = "warn"
    RETURN = "return"  # RTL
    LAND = "land"  # land where it is: home is out of reach


@dataclass(frozen=True, slots=True)
class BatteryPolicy:
    """Thresholds in percent; reserve is kept back when judging whether home is in reach."""

    warning_percent: float = 30.0
    critical_percent: float = 20.0
    reserve_percent: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.reserve_percent < self.critical_percent < self.warning_percent <= 100:
            raise ValueError(
                "battery policy needs 0 <= reserve < critical < warning <= 100, got "
                f"{self.reserve_percent}, {self.critical_percent}, {self.warning_percent}"
            )

    def decide(self, percent: float, airborne: bool, distance_home_m: float,
               full_range_m: float) -> BatteryAction:
        """Return the action for a vehicle with ``percent`` charge ``distance_home_m`` away.

        Remaining range scales the full-charge range by the usable charge above the reserve.
        """
        if math.isnan(percent) or percent > self.warning_percent:
            return BatteryAction.NONE
        if percent > self.critical_percent or not airborne:
            return BatteryAction.WARN
        usable = max(0.0, percent - self.reserve_percent) / 100.0
        if distance_home_m > usable * full_range_m:
            return BatteryAction.LAND
        return BatteryAction.RETURN
