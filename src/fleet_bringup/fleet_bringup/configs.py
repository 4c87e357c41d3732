"""The configuration files of one run of the graph, derived from the shipped ones.

The shipped ``config/*.yaml`` list three vehicles for fleet_manager while fleet_sim hosts any
number: taken as they are, ``--vehicles 2`` shows a third vehicle LOST in /fleet/status, and
``--vehicles 10`` leaves seven vehicles that discovery finds without a home site, which a
user granted that site never sees. ``write_graph_configs`` writes the files of one run in
which fleet_manager lists exactly the simulated vehicles, each based at the fleet's first
site. A ``tag`` prefixes every id the graph writes to the database (vehicles, sites, no-fly
zones, charging stations, the weather site), so that runs sharing a database (tests) never
meet each other's rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fleet_core.errors import ConfigError
from fleet_core.fleet.config import FleetSettings, load_fleet_settings_file
from fleet_core.missions_config import PlannerSettings, load_planner_settings_file
from fleet_core.sim.config import SimSettings, load_settings, load_settings_file
from fleet_ros.entry import installed_config

REPO_CONFIG = Path(__file__).resolve().parents[3] / "config"
TAG_PATTERN = re.compile(r"^([A-Za-z][A-Za-z0-9]*_)?$")

# (package that installs it, file name, top-level section)
SIM = ("fleet_sim", "fleet_sim.yaml", "fleet_sim")
FLEET = ("fleet_manager", "fleet.yaml", "fleet_manager")
MISSIONS = ("mission_planner", "missions.yaml", "mission_planner")


@dataclass(frozen=True)
class GraphConfigs:
    """The files one graph runs with, and what they say."""

    fleet_sim_file: Path
    fleet_file: Path
    missions_file: Path
    sim: SimSettings
    fleet: FleetSettings
    planner: PlannerSettings

    @property
    def vehicle_ids(self) -> tuple[str, ...]:
        """The simulated vehicles, in the simulator's order."""
        return tuple(v.vehicle_id for v in self.sim.vehicles)

    @property
    def site_id(self) -> str | None:
        """The site every simulated vehicle is based at (None when fleet.yaml has none)."""
        return self.fleet.sites[0].site_id if self.fleet.sites else None


def shipped_config(package: str, name: str) -> Path:
    """Return the installed ``config/<name>`` of ``package``, else the workspace's own."""
    installed = installed_config(package, name)
    if installed and Path(installed).is_file():
        return Path(installed)
    path = REPO_CONFIG / name
    if not path.is_file():
        raise ConfigError(f"{name} is neither installed for {package} nor in {REPO_CONFIG}: "
                          "run make setup")
    return path


def write_graph_configs(directory: Path, vehicles: int, tag: str = "") -> GraphConfigs:
    """Write fleet_sim.yaml, fleet.yaml and missions.yaml for ``vehicles`` simulated vehicles
    into ``directory``; raise ConfigError naming the file and key that is wrong."""
    if not TAG_PATTERN.match(tag):
        raise ConfigError(f"tag {tag!r} must be empty or a letter, letters or digits, and '_'")
    sim_root = _tagged_sim(_section(SIM), tag)
    try:
        ids = [v.vehicle_id for v in load_settings(sim_root, vehicle_count=vehicles).vehicles]
    except ConfigError as exc:
        raise ConfigError(f"{shipped_config(*SIM[:2])} with {vehicles} vehicles: {exc}") \
            from None
    fleet_root = _tagged_fleet(_section(FLEET), tag, ids)
    missions_root = _with_stations(MISSIONS, _section(MISSIONS), tag)
    files = {}
    for (_package, name, section), root in ((SIM, sim_root), (FLEET, fleet_root),
                                            (MISSIONS, missions_root)):
        files[name] = directory / name
        files[name].write_text(yaml.safe_dump({section: root}, sort_keys=False),
                               encoding="utf-8")
    return GraphConfigs(
        files[SIM[1]], files[FLEET[1]], files[MISSIONS[1]],
        sim=load_settings_file(files[SIM[1]], vehicle_count=vehicles),
        fleet=load_fleet_settings_file(files[FLEET[1]]),
        planner=load_planner_settings_file(files[MISSIONS[1]]))


def _section(which: tuple[str, str, str]) -> dict[str, Any]:
    """The top-level section of a shipped file, with its charging stations read in."""
    package, name, section = which
    path = shipped_config(package, name)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, Mapping) or not isinstance(data.get(section), Mapping):
        raise ConfigError(f"{path} must hold a mapping under {section!r}")
    root = dict(data[section])
    stations = root.get("charging_stations")
    if isinstance(stations, str):
        # Relative to the shipped file; the written files are elsewhere, so inline them.
        shared = yaml.safe_load((path.parent / stations).read_text(encoding="utf-8"))
        if not isinstance(shared, Mapping) or "charging_stations" not in shared:
            raise ConfigError(f"{path.parent / stations} must hold 'charging_stations'")
        root["charging_stations"] = shared["charging_stations"]
    return root


def _with_stations(which: tuple[str, str, str], root: dict[str, Any],
                   tag: str) -> dict[str, Any]:
    stations = root.get("charging_stations")
    if stations is None:
        return root
    if not isinstance(stations, list):
        raise ConfigError(f"{which[1]}: {which[2]}.charging_stations must be a list")
    renamed = [_renamed(s, tag) for s in stations]
    return {**root, "charging_stations": [
        _renamed(s, tag, "site") if isinstance(s, Mapping) and "site" in s else s
        for s in renamed]}


def _renamed(entry: object, tag: str, key: str = "id") -> Any:
    """``entry`` with its ``key`` prefixed by ``tag`` (and a MAVROS prefix following it)."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get(key), str):
        return entry  # the loaders name what is wrong with it
    out = dict(entry)
    old = out[key]
    out[key] = tag + old
    if out.get("mavros_prefix") == f"/{old}/mavros":
        out["mavros_prefix"] = f"/{tag}{old}/mavros"
    return out


def _tagged_sim(root: dict[str, Any], tag: str) -> dict[str, Any]:
    out = dict(root)
    if isinstance(out.get("vehicles"), list):
        out["vehicles"] = [_renamed(v, tag) for v in out["vehicles"]]
    generate = out.get("generate")
    if isinstance(generate, Mapping):
        out["generate"] = {**generate,
                           "id_format": tag + str(generate.get("id_format", "uav{index}"))}
    if isinstance(out.get("weather"), Mapping):
        out["weather"] = _renamed(out["weather"], tag, "site")
    return _with_stations(SIM, out, tag)


def _tagged_fleet(root: dict[str, Any], tag: str, vehicle_ids: list[str]) -> dict[str, Any]:
    """fleet_manager's section listing exactly ``vehicle_ids``: each keeps what fleet.yaml
    says of it, and the others are based at the first site."""
    out = dict(root)
    sites = [_renamed(s, tag) for s in out.get("sites") or []]
    out["sites"] = sites
    home = sites[0].get("id") if sites and isinstance(sites[0], Mapping) else None
    listed = {}
    for v in out.get("vehicles") or []:
        entry = _renamed(v, tag)
        if isinstance(entry, Mapping) and isinstance(entry.get("home_site"), str):
            entry = {**entry, "home_site": tag + entry["home_site"]}
        if isinstance(entry, Mapping):
            listed[entry.get("id")] = entry
    out["vehicles"] = [listed.get(vid) or {"id": vid, **({"home_site": home} if home else {})}
                       for vid in vehicle_ids]
    if isinstance(out.get("no_fly_zones"), list):
        out["no_fly_zones"] = [_renamed(z, tag) for z in out["no_fly_zones"]]
    return _with_stations(FLEET, out, tag)
