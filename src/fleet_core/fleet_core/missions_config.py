"""mission_planner configuration (config/missions.yaml): validated once, at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet_core.charging.model import ChargingPolicy, ChargingStation
from fleet_core.dispatch.allocation import CostWeights
from fleet_core.dispatch.dispatcher import DispatcherConfig
from fleet_core.errors import ConfigError
from fleet_core.planning.library import PlaceKind, WaypointLibrary
from fleet_core.planning.simplify import (
    DEFAULT_MIN_WAYPOINT_SPACING_M,
    MAX_MIN_WAYPOINT_SPACING_M,
)
from fleet_core.sim.config import STATIONS, ChargingPad, charging_pads
from fleet_core.yaml_config import (
    POSITION_KEYS,
    Default,
    Key,
    KeyType,
    field_default,
    load_file,
    mapping,
    number,
    only,
    percent,
    positive,
)


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    """Everything the mission planner reads from its config file."""

    tick_rate_hz: float = 2.0
    dispatcher: DispatcherConfig = field(default_factory=DispatcherConfig)
    charging_policy: ChargingPolicy = ChargingPolicy.LOWEST_BATTERY
    critical_percent: float = 20.0  # a charge request below this is served first
    reserve_percent: float = 20.0  # energy kept unused at the end of every leg
    max_wind_mps: float = 12.0
    wind_max_age_s: float = 600.0  # an older wind report is not used (the station went quiet)
    zone_margin_m: float = 10.0
    # Planned waypoints closer than this are merged: the autopilot stops at each.
    min_waypoint_spacing_m: float = DEFAULT_MIN_WAYPOINT_SPACING_M
    # A survey that needs charging stops: "split" shares it among the free vehicles (when the
    # fleet has two or more), each flying a part on one charge; "charge" keeps it on one
    # vehicle that stops at a charging station on the way.
    large_surveys: str = "split"
    command_timeout_s: float = 3.0
    command_retries: int = 2
    # A mission upload is a transfer, item by item, over the vehicle's link: MAVROS itself
    # gives it 30 s (its mission plugin's list timeout) before it answers "failed". 10 s per
    # attempt, with the retries, spends about that; 3 s failed uploads of a loaded graph.
    upload_timeout_s: float = 10.0
    finished_kept: int = 100  # finished missions still listed on /fleet/missions
    stations: tuple[ChargingStation, ...] = ()
    pads: tuple[ChargingPad, ...] = ()
    library: WaypointLibrary = field(default_factory=WaypointLibrary)

    def pad(self, station_id: str, index: int) -> ChargingPad:
        """Return pad ``index`` of ``station_id``."""
        for p in self.pads:
            if p.station_id == station_id and p.index == index:
                return p
        raise ConfigError(f"station {station_id!r} has no pad {index}")


_LARGE_SURVEYS = ("split", "charge")


def _setting(name: str, doc: str, unit: str = "", kind: KeyType = KeyType.NUMBER) -> Key:
    return Key(name, kind, doc, field_default(PlannerSettings, name), unit)


def _dispatch(name: str, doc: str, unit: str = "", kind: KeyType = KeyType.NUMBER) -> Key:
    return Key(name, kind, doc, field_default(DispatcherConfig, name), unit)


_COST_WEIGHTS = Key("cost_weights", KeyType.SECTION, "which vehicle a mission goes to: each "
                    "weight is in seconds of transit it is worth", keys=(
    Key("energy", KeyType.NUMBER, "per unit of battery fraction not left after the mission",
        field_default(CostWeights, "energy"), "s"),
    Key("site_mismatch", KeyType.NUMBER, "when the mission names a site the vehicle is not "
        "based at", field_default(CostWeights, "site_mismatch"), "s"),
    Key("capability", KeyType.NUMBER, "per unit of payload capacity left unused (keeps heavy "
        "lifters free)", field_default(CostWeights, "capability"), "s"),
))
MISSIONS_KEYS = Key("mission_planner", KeyType.SECTION, "How missions are planned, "
                    "dispatched and flown, and how vehicles charge", keys=(
    _setting("tick_rate_hz", "how often missions are dispatched and advanced", "Hz"),
    _dispatch("emergency_priority", "missions of this priority or more (or of kind emergency) "
              "may preempt others; 1..10", kind=KeyType.INTEGER),
    _dispatch("paused_timeout_s", "a mission paused longer than this fails", "s"),
    _dispatch("pin_grace_s", "a mission pinned to a vehicle missing this long fails", "s"),
    _dispatch("unservable_grace_s", "a mission no vehicle of the fleet could fly even fully "
              "charged fails after this", "s"),
    Key("charging_policy", KeyType.CHOICE, "order of vehicles of equal urgency in the charging "
        "queue", ChargingPolicy(field_default(PlannerSettings, "charging_policy")).value,
        choices=tuple(p.value for p in ChargingPolicy)),
    _setting("critical_percent", "charge requests below this are served first, 0..100", "%"),
    _setting("reserve_percent", "energy kept unused at the end of every leg, 0..100", "%"),
    _setting("max_wind_mps", "missions are refused above this wind (from "
             "/fleet/weather/wind)", "m/s"),
    _setting("wind_max_age_s", "a wind report older than this is not used", "s"),
    _setting("zone_margin_m", "distance routes keep from no-fly zones", "m"),
    _setting("min_waypoint_spacing_m", "planned waypoints closer than this are merged (the "
             f"autopilot stops at each), 0..{MAX_MIN_WAYPOINT_SPACING_M:g}", "m"),
    Key("large_surveys", KeyType.CHOICE, "a survey beyond one battery: split shares it among "
        "free vehicles, charge keeps it on one vehicle with charging stops",
        field_default(PlannerSettings, "large_surveys"), choices=_LARGE_SURVEYS),
    _setting("command_timeout_s", "timeout of one MAVROS service call", "s"),
    _setting("command_retries", "retries of a failed MAVROS call, >= 0", kind=KeyType.INTEGER),
    _setting("upload_timeout_s", "timeout of one mission upload attempt (mission/push); "
             "MAVROS's own for a whole transfer is 30 s", "s"),
    _setting("finished_kept", "finished missions still listed on /fleet/missions",
             kind=KeyType.INTEGER),
    _COST_WEIGHTS,
    STATIONS,
    Key("places", KeyType.NAMED, "named places missions refer to as \"@name\"", keys=(
        Key("kind", KeyType.CHOICE, "what the place is for", Default.REQUIRED,
            choices=tuple(k.value for k in PlaceKind)),
        *POSITION_KEYS)),
))
"""Every key of missions.yaml."""


def _choice(raw: object, allowed: tuple[str, ...], where: str) -> str:
    if raw not in allowed:
        raise ConfigError(f"{where} must be one of {list(allowed)}, got {raw!r}")
    return str(raw)


def _count(raw: object, where: str, low: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < low:
        raise ConfigError(f"{where} must be an integer >= {low}, got {raw!r}")
    return raw


def _spacing(raw: object, where: str) -> float:
    value = number(raw, where)
    if not 0.0 <= value <= MAX_MIN_WAYPOINT_SPACING_M:
        raise ConfigError(f"{where} must be within 0..{MAX_MIN_WAYPOINT_SPACING_M:g} m, "
                          f"got {raw!r}")
    return value


def load_planner_settings(data: Mapping[str, Any]) -> PlannerSettings:
    """Build PlannerSettings from the ``mission_planner`` mapping of a YAML document."""
    root = mapping(data.get("mission_planner"), "mission_planner")
    only(root, MISSIONS_KEYS.names(), "mission_planner")
    w = "mission_planner"
    policy_raw = root.get("charging_policy", "lowest_battery")
    try:
        policy = ChargingPolicy(policy_raw)
    except ValueError:
        raise ConfigError(f"{w}.charging_policy must be one of "
                          f"{[p.value for p in ChargingPolicy]}, got {policy_raw!r}") from None
    weights_raw = mapping(root.get("cost_weights"), f"{w}.cost_weights")
    only(weights_raw, _COST_WEIGHTS.names(), f"{w}.cost_weights")
    defaults = CostWeights()
    weights = CostWeights(**{k: number(weights_raw.get(k, getattr(defaults, k)),
                                       f"{w}.cost_weights.{k}")
                             for k in ("energy", "site_mismatch", "capability")})
    try:
        dispatcher = DispatcherConfig(
            emergency_priority=_count(root.get("emergency_priority", 9),
                                      f"{w}.emergency_priority", 1),
            paused_timeout_s=positive(root.get("paused_timeout_s", 300.0),
                                      f"{w}.paused_timeout_s"),
            pin_grace_s=number(root.get("pin_grace_s", 60.0), f"{w}.pin_grace_s"),
            unservable_grace_s=number(root.get("unservable_grace_s", 120.0),
                                      f"{w}.unservable_grace_s"),
            weights=weights)
    except ValueError as exc:
        raise ConfigError(f"{w}: {exc}") from None
    pads = charging_pads(root.get("charging_stations"), f"{w}.charging_stations")
    stations: dict[str, ChargingStation] = {}
    for pad in pads:
        s = stations.get(pad.station_id)
        stations[pad.station_id] = ChargingStation(
            pad.station_id, s.position if s else pad.position, (s.pads if s else 0) + 1,
            pad.charge_rate_w)
    places = root.get("places")
    library = WaypointLibrary.from_mapping(mapping(places, f"{w}.places"), f"{w}.places") \
        if places else WaypointLibrary()
    return PlannerSettings(
        tick_rate_hz=positive(root.get("tick_rate_hz", 2.0), f"{w}.tick_rate_hz"),
        dispatcher=dispatcher, charging_policy=policy,
        critical_percent=percent(root.get("critical_percent", 20.0), f"{w}.critical_percent"),
        reserve_percent=percent(root.get("reserve_percent", 20.0), f"{w}.reserve_percent"),
        max_wind_mps=positive(root.get("max_wind_mps", 12.0), f"{w}.max_wind_mps"),
        wind_max_age_s=positive(root.get("wind_max_age_s", 600.0), f"{w}.wind_max_age_s"),
        large_surveys=_choice(root.get("large_surveys", "split"), _LARGE_SURVEYS,
                              f"{w}.large_surveys"),
        zone_margin_m=number(root.get("zone_margin_m", 10.0), f"{w}.zone_margin_m"),
        min_waypoint_spacing_m=_spacing(root.get("min_waypoint_spacing_m",
                                                 DEFAULT_MIN_WAYPOINT_SPACING_M),
                                        f"{w}.min_waypoint_spacing_m"),
        command_timeout_s=positive(root.get("command_timeout_s", 3.0),
                                   f"{w}.command_timeout_s"),
        command_retries=_count(root.get("command_retries", 2), f"{w}.command_retries", 0),
        upload_timeout_s=positive(root.get("upload_timeout_s", 10.0), f"{w}.upload_timeout_s"),
        finished_kept=_count(root.get("finished_kept", 100), f"{w}.finished_kept", 0),
        stations=tuple(stations.values()), pads=tuple(pads), library=library)


def load_planner_settings_file(path: str | Path) -> PlannerSettings:
    """Read and validate a missions.yaml; errors name the file and the key."""
    return load_file(path, "mission_planner", load_planner_settings)
