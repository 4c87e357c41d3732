"""Settings of the simulated fleet, loaded from YAML and validated with errors that name the key."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from fleet_core.errors import ConfigError
from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.sim.weather import WindSettings, wind_settings
from fleet_core.yaml_config import geo_point, load_file, mapping, number

MAX_VEHICLES = 500
_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_PREFIX_RE = re.compile(r"^(/[A-Za-z][A-Za-z0-9_]*)+$")


@dataclass(frozen=True, slots=True)
class FlightLimits:
    """Kinematic limits and autopilot parameters of one multirotor (PX4 names in comments)."""

    cruise_speed: float = 8.0  # MPC_XY_CRUISE, m/s
    max_horizontal_speed: float = 12.0  # MPC_XY_VEL_MAX
    max_climb_rate: float = 3.0  # MPC_Z_VEL_MAX_UP
    max_descent_rate: float = 1.5  # MPC_Z_VEL_MAX_DN
    landing_speed: float = 0.7  # MPC_LAND_SPEED, below 10 m
    max_acceleration: float = 3.0  # MPC_ACC_HOR
    max_vertical_acceleration: float = 2.0  # MPC_ACC_UP_MAX
    max_yaw_rate_deg: float = 90.0  # MPC_MAN_Y_MAX
    takeoff_altitude: float = 10.0  # MIS_TAKEOFF_ALT, m above home
    rtl_altitude: float = 30.0  # RTL_RETURN_ALT, m above home
    acceptance_radius: float = 2.0  # NAV_ACC_RAD
    auto_disarm_preflight_s: float = 10.0  # COM_DISARM_PRFLT
    auto_disarm_land_s: float = 2.0  # COM_DISARM_LAND

    def validate(self, where: str) -> None:
        """Raise ConfigError naming the first limit that is not a positive finite number."""
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{where}.{f.name} must be a positive number, got {value!r}")
        if self.cruise_speed > self.max_horizontal_speed:
            raise ConfigError(
                f"{where}.cruise_speed ({self.cruise_speed}) exceeds "
                f"max_horizontal_speed ({self.max_horizontal_speed})"
            )


@dataclass(frozen=True, slots=True)
class BatterySpec:
    """A lithium-polymer pack and the power a multirotor draws from it."""

    capacity_wh: float = 222.0  # 6S 10 Ah
    cells: int = 6
    internal_resistance_ohm: float = 0.03
    hover_power_w: float = 350.0
    drag_w_per_speed2: float = 1.5  # extra W per (m/s)^2 of airspeed
    climb_w_per_mps: float = 60.0  # extra W per m/s of climb
    payload_w_per_kg: float = 120.0  # extra W per kg of payload
    armed_idle_power_w: float = 40.0  # props spinning on the ground
    avionics_power_w: float = 3.0  # disarmed
    initial_percent: float = 100.0
    low_percent: float = 15.0  # BAT_LOW_THR: warning
    critical_percent: float = 7.0  # BAT_CRIT_THR: warning
    emergency_percent: float = 5.0  # BAT_EMERGEN_THR: the autopilot lands by itself
    min_arm_percent: float = 10.0  # arming is refused below this

    def validate(self, where: str) -> None:
        """Raise ConfigError naming the first value out of range."""
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(
                    f"{where}.{f.name} must be a non-negative number, got {value!r}"
                )
        if self.capacity_wh <= 0 or self.hover_power_w <= 0:
            raise ConfigError(f"{where}: capacity_wh and hover_power_w must be positive")
        if not isinstance(self.cells, int) or not 1 <= self.cells <= 14:
            raise ConfigError(f"{where}.cells must be an integer 1..14, got {self.cells!r}")
        for name in ("initial_percent", "low_percent", "critical_percent",
                     "emergency_percent", "min_arm_percent"):
            if getattr(self, name) > 100:
                raise ConfigError(f"{where}.{name} must be 0..100, got {getattr(self, name)}")


@dataclass(frozen=True, slots=True)
class ChargingPad:
    """One landing pad of a charging station."""

    station_id: str
    index: int
    position: GeoPoint
    radius_m: float
    charge_rate_w: float


@dataclass(frozen=True, slots=True)
class SimVehicleConfig:
    """One simulated vehicle."""

    vehicle_id: str
    mavros_prefix: str
    home: GeoPoint
    limits: FlightLimits = field(default_factory=FlightLimits)
    battery: BatterySpec = field(default_factory=BatterySpec)
    payload_kg: float = 0.0
    gps_noise_m: float = 0.0
    mass_kg: float = 6.0


@dataclass(frozen=True, slots=True)
class SimSettings:
    """The whole simulated fleet."""

    vehicles: tuple[SimVehicleConfig, ...]
    pads: tuple[ChargingPad, ...] = ()
    seed: int = 0
    time_factor: float = 1.0
    position_rate_hz: float = 10.0
    state_rate_hz: float = 1.0
    link_timeout_s: float = 10.0  # MAVROS conn/timeout
    weather: WindSettings | None = None  # a simulated weather station, if configured


_T = TypeVar("_T", FlightLimits, BatterySpec)


def _overlay(base: _T, raw: object, where: str) -> _T:
    m = mapping(raw, where)
    known = {f.name: f for f in fields(base)}
    changes: dict[str, Any] = {}
    for key, value in m.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {sorted(known)})")
        if key == "cells":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{where}.cells must be an integer, got {value!r}")
            changes[key] = value
        else:
            changes[key] = number(value, f"{where}.{key}")
    result = replace(base, **changes)
    result.validate(where)
    return result


def _vehicle(raw: object, where: str, limits: FlightLimits, battery: BatterySpec,
             extra: Mapping[str, Any]) -> SimVehicleConfig:
    m = mapping(raw, where)
    allowed = {"id", "mavros_prefix", "home", "limits", "battery", "payload_kg",
               "gps_noise_m", "mass_kg"}
    unknown = set(m) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    vid = m.get("id")
    if not isinstance(vid, str) or not _ID_RE.match(vid):
        raise ConfigError(
            f"{where}.id must match {_ID_RE.pattern} (a ROS name component), got {vid!r}"
        )
    prefix = m.get("mavros_prefix", f"/{vid}/mavros")
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
        raise ConfigError(
            f"{where}.mavros_prefix must be an absolute ROS namespace, got {prefix!r}"
        )
    merged = {**extra, **m}
    payload = number(merged.get("payload_kg", 0.0), f"{where}.payload_kg")
    noise = number(merged.get("gps_noise_m", 0.0), f"{where}.gps_noise_m")
    mass = number(merged.get("mass_kg", 6.0), f"{where}.mass_kg")
    if payload < 0 or noise < 0 or mass <= 0:
        raise ConfigError(f"{where}: payload_kg and gps_noise_m must be >= 0, mass_kg > 0")
    return SimVehicleConfig(
        vehicle_id=vid,
        mavros_prefix=prefix,
        home=geo_point(m.get("home"), f"{where}.home"),
        limits=_overlay(limits, m.get("limits"), f"{where}.limits"),
        battery=_overlay(battery, m.get("battery"), f"{where}.battery"),
        payload_kg=payload,
        gps_noise_m=noise,
        mass_kg=mass,
    )


def _generated(raw: object, count: int | None, limits: FlightLimits, battery: BatterySpec,
               extra: Mapping[str, Any], *, first_index: int) -> list[SimVehicleConfig]:
    m = mapping(raw, "fleet_sim.generate")
    n = count if count is not None else m.get("count", 0)
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_VEHICLES:
        raise ConfigError(
            f"fleet_sim.generate.count must be an integer 0..{MAX_VEHICLES}, got {n!r}"
        )
    if n == 0:
        return []
    id_format = m.get("id_format", "uav{index}")
    if not isinstance(id_format, str) or "{index}" not in id_format:
        raise ConfigError(
            f"fleet_sim.generate.id_format must contain '{{index}}', got {id_format!r}"
        )
    origin = geo_point(m.get("origin"), "fleet_sim.generate.origin")
    spacing = number(m.get("spacing_m", 10.0), "fleet_sim.generate.spacing_m")
    if spacing <= 0:
        raise ConfigError(f"fleet_sim.generate.spacing_m must be positive, got {spacing}")
    frame = LocalFrame.at(origin)
    columns = max(1, math.ceil(math.sqrt(n)))
    vehicles = []
    for i in range(n):
        vid = id_format.format(index=first_index + i)
        home = frame.to_geo((i % columns) * spacing, (i // columns) * spacing, 0.0)
        vehicles.append(_vehicle(
            {"id": vid, "home": {"latitude": home.latitude, "longitude": home.longitude,
                                 "altitude": home.altitude}},
            f"fleet_sim.generate[{vid}]", limits, battery, extra))
    return vehicles


def charging_pads(raw: object, where: str = "fleet_sim.charging_stations") -> list[ChargingPad]:
    """Read charging stations (id, location, charge_rate_w, pad_radius_m, pads as east/north
    offsets from the location) into one ChargingPad per pad. Shared by the simulator and the
    mission planner, so both describe the same stations the same way."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{where} must be a list")
    pads: list[ChargingPad] = []
    for i, station in enumerate(raw):
        at = f"{where}[{i}]"
        s = mapping(station, at)
        sid = s.get("id")
        if not isinstance(sid, str) or not _ID_RE.match(sid):
            raise ConfigError(f"{at}.id must match {_ID_RE.pattern}, got {sid!r}")
        location = geo_point(s.get("location"), f"{at}.location")
        rate = number(s.get("charge_rate_w", 500.0), f"{at}.charge_rate_w")
        radius = number(s.get("pad_radius_m", 1.5), f"{at}.pad_radius_m")
        if rate <= 0 or radius <= 0:
            raise ConfigError(f"{at}: charge_rate_w and pad_radius_m must be positive")
        frame = LocalFrame.at(location)
        offsets = s.get("pads", [{"east": 0.0, "north": 0.0}])
        if not isinstance(offsets, list) or not offsets:
            raise ConfigError(f"{at}.pads must be a non-empty list of {{east, north}} offsets")
        for j, off in enumerate(offsets):
            o = mapping(off, f"{at}.pads[{j}]")
            east = number(o.get("east", 0.0), f"{at}.pads[{j}].east")
            north = number(o.get("north", 0.0), f"{at}.pads[{j}].north")
            pads.append(ChargingPad(sid, j, frame.to_geo(east, north, 0.0), radius, rate))
    return pads


def load_settings(data: Mapping[str, Any], *, vehicle_count: int | None = None,
                  time_factor: float | None = None, seed: int | None = None) -> SimSettings:
    """Build SimSettings from the ``fleet_sim`` mapping of a YAML document.

    ``vehicle_count`` overrides ``generate.count``; ``time_factor`` and ``seed`` override the
    file (the node's parameters win over the file).
    """
    root = mapping(data.get("fleet_sim", data), "fleet_sim")
    known = {"seed", "time_factor", "position_rate_hz", "state_rate_hz", "link_timeout_s",
             "defaults", "vehicles", "generate", "charging_stations", "weather"}
    unknown = set(root) - known
    if unknown:
        raise ConfigError(f"fleet_sim: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    defaults = mapping(root.get("defaults"), "fleet_sim.defaults")
    limits = _overlay(FlightLimits(), defaults.get("limits"), "fleet_sim.defaults.limits")
    battery = _overlay(BatterySpec(), defaults.get("battery"), "fleet_sim.defaults.battery")
    extra = {k: v for k, v in defaults.items() if k not in ("limits", "battery")}

    listed_raw = root.get("vehicles") or []
    if not isinstance(listed_raw, list):
        raise ConfigError("fleet_sim.vehicles must be a list")
    vehicles = [_vehicle(v, f"fleet_sim.vehicles[{i}]", limits, battery, extra)
                for i, v in enumerate(listed_raw)]
    if vehicle_count is not None and vehicle_count <= len(vehicles):
        vehicles = vehicles[:vehicle_count]
    else:
        more = None if vehicle_count is None else vehicle_count - len(vehicles)
        if more is not None and root.get("generate") is None:
            raise ConfigError(
                f"vehicle_count {vehicle_count} exceeds the {len(vehicles)} listed vehicles "
                "and fleet_sim.generate is not configured"
            )
        vehicles += _generated(root.get("generate"), more, limits, battery, extra,
                               first_index=len(vehicles))
    if not 1 <= len(vehicles) <= MAX_VEHICLES:
        raise ConfigError(f"the simulator hosts 1..{MAX_VEHICLES} vehicles, got {len(vehicles)}")
    seen_ids: set[str] = set()
    seen_prefixes: set[str] = set()
    for v in vehicles:
        if v.vehicle_id in seen_ids or v.mavros_prefix in seen_prefixes:
            raise ConfigError(
                f"duplicate vehicle id or MAVROS prefix: {v.vehicle_id!r} ({v.mavros_prefix})"
            )
        seen_ids.add(v.vehicle_id)
        seen_prefixes.add(v.mavros_prefix)

    tf = time_factor if time_factor is not None else root.get("time_factor", 1.0)
    tf = number(tf, "fleet_sim.time_factor")
    if not 0.01 <= tf <= 100.0:
        raise ConfigError(f"fleet_sim.time_factor must be 0.01..100, got {tf}")
    rate = number(root.get("position_rate_hz", 10.0), "fleet_sim.position_rate_hz")
    state_rate = number(root.get("state_rate_hz", 1.0), "fleet_sim.state_rate_hz")
    if not 0.1 <= rate <= 100 or not 0.1 <= state_rate <= rate:
        raise ConfigError(
            f"fleet_sim.position_rate_hz must be 0.1..100 and state_rate_hz 0.1..position_rate_hz, "
            f"got {rate} and {state_rate}"
        )
    timeout = number(root.get("link_timeout_s", 10.0), "fleet_sim.link_timeout_s")
    if timeout <= 0:
        raise ConfigError(f"fleet_sim.link_timeout_s must be positive, got {timeout}")
    s = seed if seed is not None else root.get("seed", 0)
    if isinstance(s, bool) or not isinstance(s, int):
        raise ConfigError(f"fleet_sim.seed must be an integer, got {s!r}")
    return SimSettings(
        vehicles=tuple(vehicles), pads=tuple(charging_pads(root.get("charging_stations"))), seed=s,
        time_factor=tf, position_rate_hz=rate, state_rate_hz=state_rate, link_timeout_s=timeout,
        weather=wind_settings(root.get("weather")),
    )


def load_settings_file(path: str | Path, **overrides: Any) -> SimSettings:
    """Read a fleet_sim YAML file; errors name the file and the bad key."""
    return load_file(path, "fleet_sim", lambda data: load_settings(data, **overrides))
