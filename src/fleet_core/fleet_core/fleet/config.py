"""fleet_manager settings from config/fleet.yaml, validated with errors that name the key."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from fleet_core.errors import ConfigError
from fleet_core.fleet.airspace import NoFlyZone
from fleet_core.fleet.battery import BatteryPolicy
from fleet_core.fleet.model import LivenessThresholds, VehicleSpec
from fleet_core.fleet.separation import SeparationRules
from fleet_core.geo import GeoPoint
from fleet_core.sim.config import STATIONS, ChargingPad, charging_pads
from fleet_core.yaml_config import (
    POSITION_KEYS,
    Default,
    Key,
    KeyType,
    field_default,
    geo_point,
    load_file,
    mapping,
    number,
    only,
    percent,
    position,
    positive,
)

_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_PREFIX_RE = re.compile(r"^(/[A-Za-z][A-Za-z0-9_]*)+$")


_E = TypeVar("_E", bound=StrEnum)

DEFAULT_PREFIX_PATTERN = r"^/(?P<id>[A-Za-z][A-Za-z0-9_]*)/mavros$"


@dataclass(frozen=True, slots=True)
class DiscoverySettings:
    """Auto-discovery of vehicles from the graph."""

    enabled: bool = True
    # Matched against the namespace of any mavros_msgs/State topic named ".../state";
    # the named group "id" becomes the vehicle id.
    prefix_pattern: str = DEFAULT_PREFIX_PATTERN
    period_s: float = 2.0


class SafetyAction(StrEnum):
    """What a vehicle is told to do about a conflict (the values are fleet.yaml's words)."""

    HOLD = "hold"  # stop where it is (AUTO.LOITER)
    RTL = "rtl"  # return to launch
    LAND = "land"  # land where it is


class SeparationStrategy(StrEnum):
    """How the vehicle that yields for separation holds."""

    CLIMB_HOLD = "climb_hold"  # hold ``climb_m`` higher (DO_REPOSITION)
    HOLD = "hold"  # hold where it is (AUTO.LOITER)


@dataclass(frozen=True, slots=True)
class ResponsePolicy:
    """What fleet_manager commands when it finds a conflict."""

    # Separation: the lower-priority vehicle holds, then resumes its mission when clear.
    separation_strategy: SeparationStrategy = SeparationStrategy.CLIMB_HOLD
    separation_climb_m: float | None = None  # None: the vertical minimum + 4 m
    # Airspace: a predicted entry and a vehicle already inside a zone.
    airspace_on_predicted_entry: SafetyAction = SafetyAction.HOLD
    airspace_on_inside: SafetyAction = SafetyAction.RTL


@dataclass(frozen=True, slots=True)
class Site:
    """A place vehicles are based at: its name, location and local time zone (IANA)."""

    site_id: str
    name: str
    location: GeoPoint
    time_zone: str = "UTC"


@dataclass(frozen=True, slots=True)
class FleetSettings:
    """Everything fleet_manager is configured with."""

    vehicles: tuple[VehicleSpec, ...]
    origin: GeoPoint
    discovery: DiscoverySettings = field(default_factory=DiscoverySettings)
    liveness: LivenessThresholds = field(default_factory=LivenessThresholds)
    separation: SeparationRules = field(default_factory=SeparationRules)
    battery: BatteryPolicy = field(default_factory=BatteryPolicy)
    no_fly_zones: tuple[NoFlyZone, ...] = ()
    status_rate_hz: float = 2.0
    check_rate_hz: float = 4.0
    command_timeout_s: float = 3.0
    command_retries: int = 2
    separation_enabled: bool = True
    pads: tuple[ChargingPad, ...] = ()  # charging stations, one entry per pad (for the map)
    response: ResponsePolicy = field(default_factory=ResponsePolicy)
    sites: tuple[Site, ...] = ()

    @property
    def separation_climb_m(self) -> float:
        """Return how much higher a vehicle yielding for separation holds."""
        climb = self.response.separation_climb_m
        return self.separation.vertical_m + 4.0 if climb is None else climb


def _spec(name: str, doc: str, unit: str = "") -> Key:
    return Key(name, KeyType.NUMBER, doc, field_default(VehicleSpec, name), unit)


_CAPABILITIES = Key("capabilities", KeyType.SECTION, "what the planner may ask of it", keys=(
    _spec("max_payload_kg", "heaviest payload it carries, >= 0", "kg"),
    _spec("max_range_m", "distance it flies on a full battery", "m"),
    _spec("cruise_speed", "speed the planner plans with", "m/s"),
    _spec("max_speed", "fastest it can fly: faster apparent motion is a telemetry glitch", "m/s"),
    _spec("battery_capacity_wh", "energy of a full battery", "Wh"),
    Key("max_wind_mps", KeyType.NUMBER, "the airframe's wind limit; absent: the planner's "
        "max_wind_mps", unit="m/s"),
))
_VEHICLES = Key("vehicles", KeyType.LIST, "vehicles known before they appear (discovery adds "
                "more)", keys=(
    Key("id", KeyType.TEXT, "vehicle id, [A-Za-z][A-Za-z0-9_]{0,63}", Default.REQUIRED),
    Key("mavros_prefix", KeyType.TEXT, "absolute namespace of its MAVROS; absent: /<id>/mavros"),
    Key("model", KeyType.TEXT, "airframe model (missions may ask for one)",
        field_default(VehicleSpec, "model")),
    Key("home_site", KeyType.TEXT, "id of the site it is based at (see sites); empty: none",
        field_default(VehicleSpec, "home_site")),
    _CAPABILITIES,
))
_SITES = Key("sites", KeyType.LIST, "places vehicles are based at; the recorder keeps them and "
             "reports availability per site", keys=(
    Key("id", KeyType.TEXT, "site id, [A-Za-z][A-Za-z0-9_]{0,63}", Default.REQUIRED),
    Key("name", KeyType.TEXT, "name shown to people; absent: the id"),
    position("location", "where the site is"),
    Key("time_zone", KeyType.TEXT, "IANA time zone of its local reports (such as "
        "Europe/Zurich)", field_default(Site, "time_zone")),
))
_DISCOVERY = Key("discovery", KeyType.SECTION, "vehicles found on the ROS graph", keys=(
    Key("enabled", KeyType.BOOLEAN, "add vehicles whose MAVROS appears on the graph",
        field_default(DiscoverySettings, "enabled")),
    Key("prefix_pattern", KeyType.TEXT, "regular expression matched against the namespace of "
        "every .../state topic of type mavros_msgs/State; its named group (?P<id>...) becomes "
        "the vehicle id", field_default(DiscoverySettings, "prefix_pattern")),
    Key("period_s", KeyType.NUMBER, "how often the graph is searched",
        field_default(DiscoverySettings, "period_s"), "s"),
))
_LIVENESS = Key("liveness", KeyType.SECTION, "when a silent vehicle stops counting", keys=(
    Key("stale_after_s", KeyType.NUMBER, "a vehicle whose newest sample is this old is stale",
        field_default(LivenessThresholds, "stale_after_s"), "s"),
    Key("lost_after_s", KeyType.NUMBER, "... and lost at this age; more than stale_after_s",
        field_default(LivenessThresholds, "lost_after_s"), "s"),
))
_SEPARATION = Key("separation", KeyType.SECTION, "minimum separation between vehicles; the "
                  "lower-priority vehicle of a conflict yields, then resumes", keys=(
    Key("enabled", KeyType.BOOLEAN, "check separation at all", True),
    Key("horizontal_m", KeyType.NUMBER, "horizontal minimum",
        field_default(SeparationRules, "horizontal_m"), "m"),
    Key("vertical_m", KeyType.NUMBER, "vertical minimum",
        field_default(SeparationRules, "vertical_m"), "m"),
    Key("lookahead_s", KeyType.NUMBER, "how far ahead conflicts are predicted; 0: none",
        field_default(SeparationRules, "lookahead_s"), "s"),
    Key("max_speed", KeyType.NUMBER, "sizes the search grid (not a limit; correctness does "
        "not depend on it)", field_default(SeparationRules, "max_speed"), "m/s"),
    Key("strategy", KeyType.CHOICE, "how the yielding vehicle holds: climb_hold holds climb_m "
        "higher, hold holds where it is", str(field_default(ResponsePolicy,
                                                            "separation_strategy")),
        choices=tuple(SeparationStrategy)),
    Key("climb_m", KeyType.NUMBER, "how much higher climb_hold holds; absent: vertical_m + 4",
        unit="m"),
))
_AIRSPACE = Key("airspace", KeyType.SECTION, "what a vehicle near a no-fly zone is told: "
                "hold (AUTO.LOITER), rtl or land", keys=(
    Key("on_predicted_entry", KeyType.CHOICE, "predicted to enter an active zone",
        str(field_default(ResponsePolicy, "airspace_on_predicted_entry")),
        choices=tuple(SafetyAction)),
    Key("on_inside", KeyType.CHOICE, "found inside an active zone",
        str(field_default(ResponsePolicy, "airspace_on_inside")), choices=tuple(SafetyAction)),
))
_BATTERY = Key("battery", KeyType.SECTION, "battery thresholds: below warning a warning, below "
               "critical an airborne vehicle returns home (or lands if home is out of reach)",
               keys=(
    Key("warning_percent", KeyType.NUMBER, "warn below this",
        field_default(BatteryPolicy, "warning_percent"), "%"),
    Key("critical_percent", KeyType.NUMBER, "return home below this",
        field_default(BatteryPolicy, "critical_percent"), "%"),
    Key("reserve_percent", KeyType.NUMBER, "charge kept back when judging whether home is in "
        "reach; 0 <= reserve < critical < warning <= 100",
        field_default(BatteryPolicy, "reserve_percent"), "%"),
))
_ZONES = Key("no_fly_zones", KeyType.LIST, "airspace volumes to stay out of while active", keys=(
    Key("id", KeyType.TEXT, "zone id", Default.REQUIRED),
    Key("name", KeyType.TEXT, "name shown to people; absent: the id"),
    Key("polygon", KeyType.LIST, "outer ring, at least 3 positions, not closed",
        Default.REQUIRED, keys=POSITION_KEYS),
    Key("floor_m", KeyType.NUMBER, "bottom, above home", field_default(NoFlyZone, "floor_m"),
        "m"),
    Key("ceiling_m", KeyType.NUMBER, "top, above home; more than floor_m",
        field_default(NoFlyZone, "ceiling_m"), "m"),
    Key("active_from", KeyType.NUMBER, "active from this POSIX time; absent: always", unit="s"),
    Key("active_until", KeyType.NUMBER, "active until this POSIX time; absent: always",
        unit="s"),
))
FLEET_KEYS = Key("fleet_manager", KeyType.SECTION, "The fleet: its vehicles and sites, how "
                 "vehicles are found, and the safety rules fleet_manager enforces", keys=(
    position("origin", "origin of the local ENU frame of /fleet/markers (frame_id fleet_map) "
             "and of the airspace checks"),
    Key("status_rate_hz", KeyType.NUMBER, "how often /fleet/status is published",
        field_default(FleetSettings, "status_rate_hz"), "Hz"),
    Key("check_rate_hz", KeyType.NUMBER, "how often liveness, separation, airspace and battery "
        "are checked", field_default(FleetSettings, "check_rate_hz"), "Hz"),
    Key("command_timeout_s", KeyType.NUMBER, "timeout of one MAVROS service call",
        field_default(FleetSettings, "command_timeout_s"), "s"),
    Key("command_retries", KeyType.INTEGER, "retries of a failed MAVROS call, 0..10",
        field_default(FleetSettings, "command_retries")),
    _SITES, _VEHICLES, _DISCOVERY, _LIVENESS, _SEPARATION, _AIRSPACE, _BATTERY, _ZONES,
    STATIONS,
))
"""Every key of fleet.yaml."""


def vehicle_spec(raw: object, where: str) -> VehicleSpec:
    """Build one VehicleSpec from a mapping."""
    m = mapping(raw, where)
    only(m, _VEHICLES.names(), where)
    vid = m.get("id")
    if not isinstance(vid, str) or not _ID_RE.match(vid):
        raise ConfigError(f"{where}.id must match {_ID_RE.pattern}, got {vid!r}")
    prefix = m.get("mavros_prefix", f"/{vid}/mavros")
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
        raise ConfigError(f"{where}.mavros_prefix must be an absolute namespace, got {prefix!r}")
    caps = mapping(m.get("capabilities"), f"{where}.capabilities")
    only(caps, _CAPABILITIES.names(), f"{where}.capabilities")
    values = {k: (number if k == "max_payload_kg" else positive)(v, f"{where}.capabilities.{k}")
              for k, v in caps.items()}
    model = m.get("model", "multirotor")
    site = m.get("home_site", "")
    if not isinstance(model, str) or not isinstance(site, str):
        raise ConfigError(f"{where}.model and home_site must be strings")
    return VehicleSpec(vehicle_id=vid, mavros_prefix=prefix, model=model, home_site=site,
                       **values)


def _zone(raw: object, where: str) -> NoFlyZone:
    m = mapping(raw, where)
    only(m, _ZONES.names(), where)
    ring = m.get("polygon")
    if not isinstance(ring, list):
        raise ConfigError(f"{where}.polygon must be a list of points")
    zone_id = m.get("id", "")
    name = m.get("name", zone_id)
    if not isinstance(zone_id, str) or not isinstance(name, str):
        raise ConfigError(f"{where}.id and name must be strings, got {zone_id!r} and {name!r}")
    zone = NoFlyZone(
        zone_id=zone_id, name=name,
        polygon=tuple(geo_point(p, f"{where}.polygon[{i}]") for i, p in enumerate(ring)),
        floor_m=number(m.get("floor_m", 0.0), f"{where}.floor_m"),
        ceiling_m=number(m.get("ceiling_m", 10_000.0), f"{where}.ceiling_m"),
        active_from=None if m.get("active_from") is None else
        number(m["active_from"], f"{where}.active_from"),
        active_until=None if m.get("active_until") is None else
        number(m["active_until"], f"{where}.active_until"),
    )
    try:
        zone.validate()
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return zone


def load_fleet_settings(data: Mapping[str, Any]) -> FleetSettings:
    """Build FleetSettings from the ``fleet_manager`` mapping of a YAML document."""
    root = mapping(data.get("fleet_manager", data), "fleet_manager")
    only(root, FLEET_KEYS.names(), "fleet_manager")
    raw_vehicles = root.get("vehicles") or []
    if not isinstance(raw_vehicles, list):
        raise ConfigError("fleet_manager.vehicles must be a list")
    vehicles = tuple(vehicle_spec(v, f"fleet_manager.vehicles[{i}]")
                     for i, v in enumerate(raw_vehicles))
    ids = [v.vehicle_id for v in vehicles]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"fleet_manager.vehicles has duplicate ids: {ids}")
    d = mapping(root.get("discovery"), "fleet_manager.discovery")
    only(d, _DISCOVERY.names(), "fleet_manager.discovery")
    pattern = d.get("prefix_pattern", DEFAULT_PREFIX_PATTERN)
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise ConfigError(f"fleet_manager.discovery.prefix_pattern {pattern!r}: {exc}") from None
    if "id" not in compiled.groupindex:
        raise ConfigError("fleet_manager.discovery.prefix_pattern needs a named group (?P<id>...)")
    enabled = d.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"fleet_manager.discovery.enabled must be true/false, got {enabled!r}")
    period = positive(d.get("period_s", 2.0), "fleet_manager.discovery.period_s")
    discovery = DiscoverySettings(enabled, pattern, period)
    lv = mapping(root.get("liveness"), "fleet_manager.liveness")
    sep = mapping(root.get("separation"), "fleet_manager.separation")
    bat = mapping(root.get("battery"), "fleet_manager.battery")
    only(lv, _LIVENESS.names(), "fleet_manager.liveness")
    only(sep, _SEPARATION.names(), "fleet_manager.separation")
    only(bat, _BATTERY.names(), "fleet_manager.battery")
    sep_enabled = sep.get("enabled", True)
    if not isinstance(sep_enabled, bool):
        raise ConfigError("fleet_manager.separation.enabled must be true/false")
    liveness_values = {k: positive(v, f"fleet_manager.liveness.{k}") for k, v in lv.items()}
    # lookahead_s may be 0 (no prediction); the distances must be positive.
    separation_values = {
        k: (number if k == "lookahead_s" else positive)(v, f"fleet_manager.separation.{k}")
        for k, v in sep.items() if k not in ("enabled", "strategy", "climb_m")}
    battery_values = {k: percent(v, f"fleet_manager.battery.{k}") for k, v in bat.items()}
    try:
        liveness = LivenessThresholds(**liveness_values)
        separation = SeparationRules(**separation_values)
        battery = BatteryPolicy(**battery_values)
    except ValueError as exc:
        raise ConfigError(f"fleet_manager: {exc}") from None
    zones_raw = root.get("no_fly_zones") or []
    if not isinstance(zones_raw, list):
        raise ConfigError("fleet_manager.no_fly_zones must be a list")
    zones = tuple(_zone(z, f"fleet_manager.no_fly_zones[{i}]") for i, z in enumerate(zones_raw))
    response = _response_policy(sep, mapping(root.get("airspace"), "fleet_manager.airspace"))
    sites_raw = root.get("sites") or []
    if not isinstance(sites_raw, list):
        raise ConfigError("fleet_manager.sites must be a list")
    sites = tuple(_site(x, f"fleet_manager.sites[{i}]") for i, x in enumerate(sites_raw))
    site_ids = [x.site_id for x in sites]
    if len(set(site_ids)) != len(site_ids):
        raise ConfigError(f"fleet_manager.sites has duplicate ids: {site_ids}")
    retries = root.get("command_retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise ConfigError(
            f"fleet_manager.command_retries must be an integer 0..10, got {retries!r}"
        )
    return FleetSettings(
        vehicles=vehicles, origin=geo_point(root.get("origin"), "fleet_manager.origin"),
        discovery=discovery, liveness=liveness, separation=separation, battery=battery,
        no_fly_zones=zones, separation_enabled=sep_enabled,
        status_rate_hz=positive(root.get("status_rate_hz", 2.0), "fleet_manager.status_rate_hz"),
        check_rate_hz=positive(root.get("check_rate_hz", 4.0), "fleet_manager.check_rate_hz"),
        command_timeout_s=positive(root.get("command_timeout_s", 3.0),
                                  "fleet_manager.command_timeout_s"),
        command_retries=retries,
        pads=tuple(charging_pads(root.get("charging_stations"),
                                 "fleet_manager.charging_stations")),
        response=response,
        sites=sites,
    )


def _site(raw: object, where: str) -> Site:
    m = mapping(raw, where)
    only(m, _SITES.names(), where)
    sid = m.get("id")
    if not isinstance(sid, str) or not _ID_RE.match(sid):
        raise ConfigError(f"{where}.id must match {_ID_RE.pattern}, got {sid!r}")
    name = m.get("name", sid)
    tz = m.get("time_zone", "UTC")
    if not isinstance(name, str) or not isinstance(tz, str):
        raise ConfigError(f"{where}.name and time_zone must be strings")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}.time_zone {tz!r} is not an IANA time zone "
                          "(such as Europe/Zurich)") from None
    return Site(sid, name, geo_point(m.get("location"), f"{where}.location"), tz)


def _choice(value: object, choices: type[_E], where: str) -> _E:
    for choice in choices:
        if value == choice.value:
            return choice
    raise ConfigError(f"{where} must be one of {', '.join(c.value for c in choices)}, "
                      f"got {value!r}")


def _response_policy(sep: Mapping[str, Any], air: Mapping[str, Any]) -> ResponsePolicy:
    only(air, _AIRSPACE.names(), "fleet_manager.airspace")
    climb = sep.get("climb_m")
    return ResponsePolicy(
        separation_strategy=_choice(sep.get("strategy", "climb_hold"), SeparationStrategy,
                                    "fleet_manager.separation.strategy"),
        separation_climb_m=None if climb is None else positive(
            climb, "fleet_manager.separation.climb_m"),
        airspace_on_predicted_entry=_choice(air.get("on_predicted_entry", "hold"),
                                            SafetyAction,
                                            "fleet_manager.airspace.on_predicted_entry"),
        airspace_on_inside=_choice(air.get("on_inside", "rtl"), SafetyAction,
                                   "fleet_manager.airspace.on_inside"),
    )


def load_fleet_settings_file(path: str | Path) -> FleetSettings:
    """Read config/fleet.yaml; errors name the file and the bad key."""
    return load_file(path, "fleet", load_fleet_settings)
