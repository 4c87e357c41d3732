"""PX4's camera trigger in the simulator, in distance mode (DO_SET_CAM_TRIGG_DIST).

Like PX4's camera_trigger with TRIG_MODE 4: once a trigger distance is set, a photo is taken
each time the vehicle has flown that distance since the last one (and one at once when
asked); a distance of 0 stops it. The simulator only counts the photos (fleet_sim reports
the count on /diagnostics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class CameraTrigger:
    """The trigger distance in force and the photos taken so far."""

    distance_m: float = 0.0  # 0: not triggering
    photos: int = 0
    _flown_m: float = 0.0  # since the last photo

    def set_distance(self, distance_m: float, *, shoot_now: bool) -> bool:
        """Take a DO_SET_CAM_TRIGG_DIST; return False (and change nothing) if it is invalid."""
        if not (math.isfinite(distance_m) and distance_m >= 0):
            return False
        self.distance_m = distance_m
        self._flown_m = 0.0
        if shoot_now:
            self.photos += 1
        return True

    def travel(self, metres: float) -> None:
        """Count ``metres`` flown (horizontally) while the mission runs.

        A simulation step may cover more than one spacing, or end past the point where the
        photo was due: each photo is taken where it was due, so the spacing stays exact
        whatever the step length (PX4 checks far more often than the simulator steps).
        """
        if self.distance_m <= 0 or metres <= 0:
            return
        self._flown_m += metres
        while self._flown_m >= self.distance_m:
            self._flown_m -= self.distance_m
            self.photos += 1
