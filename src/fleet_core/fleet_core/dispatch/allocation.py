"""Vehicle-for-mission costs over a whole fleet snapshot, vectorised with numpy.

The snapshot is turned into arrays once per dispatch tick; each mission then costs one pass
of array arithmetic over every vehicle, so a greedy allocation of a few hundred missions over
a thousand vehicles stays in the tens of milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fleet_core.dispatch.demand import Demand
from fleet_core.dispatch.errors import DispatchError
from fleet_core.fleet.model import OperatingStatus, VehicleSpec
from fleet_core.geo import GeoPoint

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

EARTH_RADIUS_M = 6_371_008.8  # the mean radius fleet_core.geo.haversine_m uses


@dataclass(frozen=True, slots=True)
class VehicleCandidate:
    """One vehicle of the fleet snapshot a dispatch tick works from."""

    vehicle_id: str
    position: GeoPoint
    battery_pct: float
    available_energy_wh: float
    spec: VehicleSpec
    status: OperatingStatus
    fresh: bool
    site: str | None = None  # where it is based now; None: the spec's home_site

    def __post_init__(self) -> None:
        if not self.vehicle_id or self.vehicle_id != self.spec.vehicle_id:
            raise DispatchError(
                f"vehicle candidate id {self.vehicle_id!r} does not match its spec "
                f"{self.spec.vehicle_id!r}"
            )
        if not self.position.is_valid():
            raise DispatchError(
                f"vehicle {self.vehicle_id!r}: position {self.position} is not valid"
            )
        if not (math.isfinite(self.battery_pct) and 0.0 <= self.battery_pct <= 100.0):
            raise DispatchError(
                f"vehicle {self.vehicle_id!r}: battery_pct must be 0..100, got "
                f"{self.battery_pct!r}"
            )
        if not (math.isfinite(self.available_energy_wh) and self.available_energy_wh >= 0.0):
            raise DispatchError(
                f"vehicle {self.vehicle_id!r}: available_energy_wh must be finite and >= 0, "
                f"got {self.available_energy_wh!r}"
            )
        spec = self.spec
        if not (spec.cruise_speed > 0 and spec.max_range_m > 0
                and spec.battery_capacity_wh > 0 and spec.max_payload_kg >= 0):
            raise DispatchError(
                f"vehicle {self.vehicle_id!r}: spec needs cruise_speed, max_range_m and "
                f"battery_capacity_wh > 0 and max_payload_kg >= 0, got {spec}"
            )

    @property
    def based_at(self) -> str | None:
        """Return the site the vehicle works from (None when unknown)."""
        if self.site is not None:
            return self.site
        return self.spec.home_site or None

    @property
    def available(self) -> bool:
        """Tell whether the vehicle may be given new work: idle with fresh telemetry."""
        return self.fresh and self.status is OperatingStatus.IDLE


@dataclass(frozen=True, slots=True)
class CostWeights:
    """Weights of the allocation cost, in seconds of transit they are worth.

    ``energy`` is charged per unit of battery fraction *not* left after transit and mission,
    so of two equally close vehicles the one left with more charge wins. ``site_mismatch``
    applies when the demand names a site the vehicle is not based at. ``capability`` is
    charged per unit of payload capacity left unused (relative to the fleet's largest), which
    keeps heavy lifters free for the jobs that need them.
    """

    energy: float = 300.0
    site_mismatch: float = 900.0
    capability: float = 120.0

    def __post_init__(self) -> None:
        for name in ("energy", "site_mismatch", "capability"):
            value: float = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise DispatchError(f"cost weight {name} must be finite and >= 0, got {value!r}")


class FleetMatrix:
    """A fleet snapshot as arrays, and the per-mission cost of every vehicle."""

    def __init__(self, vehicles: Sequence[VehicleCandidate],
                 weights: CostWeights | None = None) -> None:
        self.weights = weights or CostWeights()
        self.vehicles: tuple[VehicleCandidate, ...] = tuple(vehicles)
        self.index: dict[str, int] = {}
        for i, v in enumerate(self.vehicles):
            if v.vehicle_id in self.index:
                raise DispatchError(f"vehicle {v.vehicle_id!r} appears twice in the snapshot")
            self.index[v.vehicle_id] = i
        n = len(self.vehicles)
        lat = np.empty(n)
        lon = np.empty(n)
        cruise = np.empty(n)
        capacity = np.empty(n)
        max_range = np.empty(n)
        payload = np.empty(n)
        energy = np.empty(n)
        available = np.empty(n, dtype=np.bool_)
        models: dict[str, int] = {}
        sites: dict[str, int] = {}
        model_code = np.empty(n, dtype=np.int64)
        site_code = np.empty(n, dtype=np.int64)
        for i, v in enumerate(self.vehicles):
            lat[i] = v.position.latitude
            lon[i] = v.position.longitude
            cruise[i] = v.spec.cruise_speed
            capacity[i] = v.spec.battery_capacity_wh
            max_range[i] = v.spec.max_range_m
            payload[i] = v.spec.max_payload_kg
            energy[i] = v.available_energy_wh
            available[i] = v.available
            model_code[i] = models.setdefault(v.spec.model, len(models))
            site = v.based_at
            site_code[i] = -1 if site is None else sites.setdefault(site, len(sites))
        self._models = models
        self._sites = sites
        self.lat_rad: FloatArray = np.radians(lat)
        self.lon_rad: FloatArray = np.radians(lon)
        self.cos_lat: FloatArray = np.cos(self.lat_rad)
        self.cruise_speed: FloatArray = cruise
        self.capacity_wh: FloatArray = capacity
        self.max_range_m: FloatArray = max_range
        # Full-charge range over capacity: the energy each metre of transit costs.
        self.wh_per_m: FloatArray = capacity / max_range
        self.max_payload_kg: FloatArray = payload
        self.energy_wh: FloatArray = energy
        self.available: BoolArray = available
        self.model_code = model_code
        self.site_code = site_code
        self._payload_scale = max(float(payload.max()), 1e-9) if n else 1.0

    def __len__(self) -> int:
        return len(self.vehicles)

    def distances_m(self, point: GeoPoint) -> FloatArray:
        """Return the great-circle distance from every vehicle to ``point``."""
        lat0 = math.radians(point.latitude)
        lon0 = math.radians(point.longitude)
        h = (np.sin((self.lat_rad - lat0) / 2) ** 2
             + math.cos(lat0) * self.cos_lat * np.sin((self.lon_rad - lon0) / 2) ** 2)
        distance: FloatArray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
        return distance

    def capable(self, demand: Demand) -> BoolArray:
        """Return which vehicles can carry the payload and are of the required model."""
        ok: BoolArray = self.max_payload_kg >= demand.payload_kg
        if demand.required_model is not None:
            code = self._models.get(demand.required_model)
            ok = ok & (self.model_code == (-2 if code is None else code))
        return ok

    def fits_alone(self, demand: Demand) -> BoolArray:
        """Return which vehicles could fly the demand on a full battery, ignoring transit."""
        return (self.capable(demand)
                & (self.capacity_wh - demand.energy_wh >= demand.reserve_wh)
                & (self.max_range_m >= demand.distance_m))

    def energy_needed_wh(self, demand: Demand, index: int) -> float:
        """Return the energy vehicle ``index`` needs for transit, mission and reserve."""
        transit = float(self.distances_m(demand.start)[index]) * float(self.wh_per_m[index])
        return transit + demand.energy_wh + demand.reserve_wh

    def costs(self, demand: Demand, mask: BoolArray, *, full_charge: bool = False) -> FloatArray:
        """Return each vehicle's cost for ``demand``; inf where masked out or infeasible.

        Infeasible: payload above the vehicle's maximum, wrong model, less than the reserve
        left after transit and mission, or transit plus mission beyond the vehicle's range.
        With ``full_charge`` every vehicle is judged as if its battery were full.
        """
        distance = self.distances_m(demand.start)
        energy = self.capacity_wh if full_charge else self.energy_wh
        used = distance * self.wh_per_m + demand.energy_wh
        left = energy - used
        feasible = (mask & self.capable(demand) & (left >= demand.reserve_wh)
                    & (distance + demand.distance_m <= self.max_range_m))
        w = self.weights
        cost = distance / self.cruise_speed + w.energy * (1.0 - left / self.capacity_wh)
        if demand.site is not None:
            code = self._sites.get(demand.site, -2)
            cost = cost + w.site_mismatch * (self.site_code != code)
        if w.capability:
            cost = cost + w.capability * (
                (self.max_payload_kg - demand.payload_kg) / self._payload_scale)
        return np.where(feasible, cost, np.inf)

    def capability_gap(self, demand: Demand, index: int) -> str | None:
        """Return why vehicle ``index`` cannot carry ``demand`` (payload, model), or None.

        The one-vehicle reading of :meth:`capable`, worded to follow the vehicle's id.
        """
        spec = self.vehicles[index].spec
        if not spec.max_payload_kg >= demand.payload_kg:
            return (f"carries at most {spec.max_payload_kg:g} kg, the mission needs "
                    f"{demand.payload_kg:g} kg")
        if demand.required_model is not None and spec.model != demand.required_model:
            return f"is a {spec.model}, the mission needs a {demand.required_model}"
        return None

    def full_battery_gap(self, demand: Demand, index: int) -> str | None:
        """Return why vehicle ``index`` could not fly ``demand`` even fully charged, or None.

        Transit is left out (a charge may bring the vehicle nearer), as in :meth:`fits_alone`.
        """
        capacity = float(self.capacity_wh[index])
        if not capacity - demand.energy_wh >= demand.reserve_wh:
            return (f"the mission needs {demand.energy_wh + demand.reserve_wh:.1f} Wh with its "
                    f"reserve, the battery holds {capacity:.1f} Wh when full")
        reach = float(self.max_range_m[index])
        if not reach >= demand.distance_m:
            return (f"the mission is {demand.distance_m / 1000:.2f} km long, the vehicle "
                    f"reaches {reach / 1000:.2f} km when full")
        return None
