"""What allocation needs to know about a planned mission, independent of how it was planned."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fleet_core.dispatch.errors import DispatchError
from fleet_core.geo import GeoPoint


@dataclass(frozen=True, slots=True)
class Demand:
    """The resources one mission needs from the vehicle that flies it.

    ``energy_wh`` is what the planned route itself consumes; ``reserve_wh`` must still be in
    the battery when the route is done (landing, a go-around, wind the plan did not know).
    """

    start: GeoPoint
    end: GeoPoint
    distance_m: float
    duration_s: float
    energy_wh: float
    reserve_wh: float = 0.0
    payload_kg: float = 0.0
    site: str | None = None
    required_model: str | None = None
    splittable: bool = False

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            point: GeoPoint = getattr(self, name)
            if not point.is_valid():
                raise DispatchError(f"demand {name} {point} is not a valid WGS-84 position")
        for name in ("distance_m", "duration_s", "energy_wh", "reserve_wh", "payload_kg"):
            value: float = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise DispatchError(f"demand {name} must be finite and >= 0, got {value!r}")
        if self.site == "":
            raise DispatchError("demand site must be None (any site) or a non-empty name")
        if self.required_model == "":
            raise DispatchError(
                "demand required_model must be None (any model) or a non-empty name"
            )
