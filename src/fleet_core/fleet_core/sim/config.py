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
from fleet_core.yaml_config import (
    Default,
    Key,
    KeyType,
    documented,
    field_default,
    field_keys,
    geo_point,
    load_file,
    mapping,
    number,
    only,
    position,
)

MAX_VEHICLES = 500
TIME_FACTORS = (0.01, 100.0)
"""The lowest and highest simulated seconds per wall second."""
_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_PREFIX_RE = re.compile(r"^(/[A-Za-z][A-Za-z0-9_]*)+$")


@dataclass(frozen=True, slots=True)
class FlightLimits:
    """Kinematic limits and autopilot parameters of one multirotor (PX4 names in the docs)."""

    cruise_speed: float = documented(8.0, "speed along a mission (PX4 MPC_XY_CRUISE)", "m/s")
    max_horizontal_speed: float = documented(
        12.0, "horizontal speed limit (MPC_XY_VEL_MAX); at least cruise_speed", "m/s")
    max_climb_rate: float = documented(3.0, "climb speed limit (MPC_Z_VEL_MAX_UP)", "m/s")
    max_descent_rate: float = documented(1.5, "descent speed limit (MPC_Z_VEL_MAX_DN)", "m/s")
    landing_speed: float = documented(
        0.7, "descent speed in the last 10 m of a landing (MPC_LAND_SPEED)", "m/s")
    max_acceleration: float = documented(3.0, "horizontal acceleration (MPC_ACC_HOR)", "m/s²")
    max_vertical_acceleration: float = documented(
        2.0, "vertical acceleration (MPC_ACC_UP_MAX)", "m/s²")
    max_yaw_rate_deg: float = documented(90.0, "yaw rate (MPC_MAN_Y_MAX)", "deg/s")
    takeoff_altitude: float = documented(
        10.0, "take-off height above home (MIS_TAKEOFF_ALT)", "m")
    rtl_altitude: float = documented(30.0, "return height above home (RTL_RETURN_ALT)", "m")
    acceptance_radius: float = documented(
        2.0, "a waypoint is reached within this distance (NAV_ACC_RAD)", "m")
    auto_disarm_preflight_s: float = documented(
        10.0, "armed on the ground without taking off, it disarms after this "
        "(COM_DISARM_PRFLT)", "s")
    auto_disarm_land_s: float = documented(
        2.0, "it disarms this long after landing (COM_DISARM_LAND)", "s")

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

    capacity_wh: float = documented(222.0, "energy of a full pack (6S 10 Ah)", "Wh")
    cells: int = documented(6, "cells in series, 1..14 (the voltage reported)")
    internal_resistance_ohm: float = documented(
        0.03, "pack resistance: the voltage sags by current x this", "ohm")
    hover_power_w: float = documented(350.0, "power drawn hovering without payload", "W")
    drag_w_per_speed2: float = documented(
        1.5, "extra power per (m/s)² of airspeed", "W/(m/s)²")
    climb_w_per_mps: float = documented(60.0, "extra power per m/s of climb", "W/(m/s)")
    payload_w_per_kg: float = documented(120.0, "extra power per kg of payload", "W/kg")
    armed_idle_power_w: float = documented(
        40.0, "power drawn armed on the ground (props spinning)", "W")
    avionics_power_w: float = documented(3.0, "power drawn disarmed", "W")
    initial_percent: float = documented(100.0, "charge at start, 0..100", "%")
    low_percent: float = documented(15.0, "low-battery warning (BAT_LOW_THR)", "%")
    critical_percent: float = documented(7.0, "critical-battery warning (BAT_CRIT_THR)", "%")
    emergency_percent: float = documented(
        5.0, "the autopilot lands by itself below this (BAT_EMERGEN_THR)", "%")
    min_arm_percent: float = documented(10.0, "arming is refused below this", "%")

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


STATION_KEYS = (
    Key("id", KeyType.TEXT, "station id, [A-Za-z][A-Za-z0-9_]{0,63}", Default.REQUIRED),
    position("location", "the station's reference point; its pads are offsets from it"),
    Key("charge_rate_w", KeyType.NUMBER, "power each pad charges a landed vehicle with", 500.0,
        "W"),
    Key("pad_radius_m", KeyType.NUMBER,
        "a vehicle landed this close to a pad's centre is on the pad", 1.5, "m"),
    Key("pads", KeyType.LIST, "the pads; absent: one pad at location", keys=(
        Key("east", KeyType.NUMBER, "offset east of location", 0.0, "m"),
        Key("north", KeyType.NUMBER, "offset north of location", 0.0, "m"))),
)
STATIONS = Key(
    "charging_stations", KeyType.STATIONS,
    "charging stations: the list, or the name of a YAML file beside this one holding it under "
    "`charging_stations:` (the shipped configs all name stations.yaml); absent: none",
    keys=STATION_KEYS)
"""The charging stations key, alike in fleet_sim.yaml, fleet.yaml, missions.yaml."""

_PER_VEHICLE = (
    Key("payload_kg", KeyType.NUMBER, "payload carried (power: payload_w_per_kg per kg)", 0.0,
        "kg"),
    Key("gps_noise_m", KeyType.NUMBER, "standard deviation of the reported position", 0.0,
        "m"),
    Key("mass_kg", KeyType.NUMBER, "airframe mass without payload (not used by the power "
        "model, which scales from hover_power_w)", 6.0, "kg"),
)
_LIMITS = Key("limits", KeyType.SECTION, "flight limits and autopilot parameters",
              keys=field_keys(FlightLimits))
_BATTERY = Key("battery", KeyType.SECTION, "battery and power draw", keys=field_keys(BatterySpec))
_DEFAULTS = Key("defaults", KeyType.SECTION, "applied to every vehicle; a vehicle overrides any",
                keys=(_LIMITS, _BATTERY, *_PER_VEHICLE))
_VEHICLE = Key("vehicles", KeyType.LIST, "the simulated vehicles, in order; the vehicle_count "
               "parameter keeps the first N (or generates more, see generate)", keys=(
    Key("id", KeyType.TEXT, "vehicle id, a ROS name component [A-Za-z][A-Za-z0-9_]{0,63}",
        Default.REQUIRED),
    Key("mavros_prefix", KeyType.TEXT,
        "absolute namespace of its MAVROS topics and services; absent: /<id>/mavros"),
    position("home", "where it starts, landed and disarmed"),
    Key("limits", KeyType.SECTION, "overrides of defaults.limits", keys=_LIMITS.keys),
    Key("battery", KeyType.SECTION, "overrides of defaults.battery", keys=_BATTERY.keys),
    *(Key(k.name, k.type, f"{k.doc}; absent: defaults.{k.name}", unit=k.unit)
      for k in _PER_VEHICLE),
))
_GENERATE = Key("generate", KeyType.SECTION, "more vehicles on a grid, after the listed ones",
                keys=(
    Key("count", KeyType.INTEGER, f"vehicles generated, 0..{MAX_VEHICLES}; a vehicle_count "
        "parameter beyond the listed vehicles overrides it", 0),
    Key("id_format", KeyType.TEXT, "id of the generated vehicle number {index} (counted on "
        "from the listed ones); must contain {index}", "uav{index}"),
    position("origin", "south-west corner of the grid (needed when vehicles are generated)"),
    Key("spacing_m", KeyType.NUMBER, "distance between neighbouring homes", 10.0, "m"),
))


def _wind_key(name: str, doc: str, unit: str = "") -> Key:
    default = field_default(WindSettings, name)
    kind = KeyType.TEXT if isinstance(default, str) else KeyType.NUMBER
    return Key(name, kind, doc, default, unit)


_WEATHER = Key("weather", KeyType.SECTION, "a simulated weather station reporting on "
               "/fleet/weather/wind (the simulated vehicles fly in still air); absent: none",
               keys=(
    _wind_key("site", "site the reports are for (a fleet.yaml site id)"),
    _wind_key("speed_mps", "mean wind speed, 0..60", "m/s"),
    _wind_key("direction_deg", "where the wind blows from, clockwise from north", "deg"),
    _wind_key("gust_mps", "reports vary within +/- this around the mean, 0..60", "m/s"),
    _wind_key("direction_jitter_deg", "reports' direction varies within +/- this, 0..180",
              "deg"),
    _wind_key("period_s", "how often the station reports, 0.05..3600", "s"),
))
FLEET_SIM_KEYS = Key("fleet_sim", KeyType.SECTION, "The simulated vehicles, their limits and "
                     "batteries, and a weather station", keys=(
    Key("seed", KeyType.INTEGER, "random seed (GPS noise, gusts); the seed parameter "
        "overrides it", 0),
    Key("time_factor", KeyType.NUMBER, f"simulated seconds per wall second, "
        f"{TIME_FACTORS[0]:g}..{TIME_FACTORS[1]:g}; the time_factor parameter overrides it",
        1.0),
    Key("position_rate_hz", KeyType.NUMBER, "rate of global_position/* and local_position/*, "
        "0.1..100", 10.0, "Hz"),
    Key("state_rate_hz", KeyType.NUMBER, "rate of state, extended_state, battery, sys_status "
        "and home, 0.1..position_rate_hz", 1.0, "Hz"),
    Key("link_timeout_s", KeyType.NUMBER, "MAVROS reports connected=false after this much "
        "silence (its conn/timeout)", 10.0, "s"),
    _DEFAULTS, _VEHICLE, _GENERATE, STATIONS, _WEATHER,
))
"""Every key of fleet_sim.yaml."""


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
    only(m, _VEHICLE.names(), where)
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
    only(m, _GENERATE.names(), "fleet_sim.generate")
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
        only(s, STATIONS.names(), at)
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
            only(o, STATIONS.key("pads").names(), f"{at}.pads[{j}]")
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
    only(root, FLEET_SIM_KEYS.names(), "fleet_sim")
    defaults = mapping(root.get("defaults"), "fleet_sim.defaults")
    only(defaults, _DEFAULTS.names(), "fleet_sim.defaults")
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
    if not TIME_FACTORS[0] <= tf <= TIME_FACTORS[1]:
        raise ConfigError(f"fleet_sim.time_factor must be {TIME_FACTORS[0]:g}.."
                          f"{TIME_FACTORS[1]:g}, got {tf}")
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
