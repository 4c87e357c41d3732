"""Config files share one list of charging stations through a file name."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet_core.errors import ConfigError
from fleet_core.fleet.config import load_fleet_settings_file
from fleet_core.missions_config import load_planner_settings_file
from fleet_core.sim.config import load_settings_file

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_the_shipped_configs_read_the_same_stations_from_stations_yaml() -> None:
    sim = load_settings_file(CONFIG / "fleet_sim.yaml")
    fleet = load_fleet_settings_file(CONFIG / "fleet.yaml")
    planner = load_planner_settings_file(CONFIG / "missions.yaml")
    assert [(p.station_id, p.index, p.position) for p in sim.pads] == \
        [(p.station_id, p.index, p.position) for p in fleet.pads] == \
        [(p.station_id, p.index, p.position) for p in planner.pads]
    assert len(sim.pads) == 2


def test_a_stations_file_is_found_next_to_the_config_that_names_it(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "pads.yaml").write_text(
        "charging_stations:\n"
        "  - id: roof\n"
        "    location: {latitude: 10.0, longitude: 20.0, altitude: 5.0}\n"
        "    charge_rate_w: 400.0\n"
        "    pads: [{east: 0.0, north: 0.0}]\n")
    config = tmp_path / "missions.yaml"
    config.write_text("mission_planner:\n  charging_stations: shared/pads.yaml\n")
    assert [s.station_id for s in load_planner_settings_file(config).stations] == ["roof"]


@pytest.mark.parametrize(("content", "named"), [
    (None, "cannot read"),
    ("charging_stations: [unclosed", "not valid YAML"),
    ("stations: []", "must hold a mapping with the key 'charging_stations'"),
    ("- a list", "must hold a mapping at the top"),
    ("charging_stations: 7", "charging_stations"),
])
def test_a_bad_stations_file_is_refused_naming_the_file(tmp_path: Path, content: str | None,
                                                        named: str) -> None:
    if content is not None:
        (tmp_path / "pads.yaml").write_text(content)
    config = tmp_path / "missions.yaml"
    config.write_text("mission_planner:\n  charging_stations: pads.yaml\n")
    with pytest.raises(ConfigError, match=named) as err:
        load_planner_settings_file(config)
    assert str(config) in str(err.value)
