"""The configs of one run: fleet_manager lists exactly the simulated vehicles, each at the
fleet's site, and a tag makes every id the graph writes its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet_bringup.configs import write_graph_configs
from fleet_core.errors import ConfigError


def test_fleet_manager_lists_exactly_the_simulated_vehicles(tmp_path: Path) -> None:
    configs = write_graph_configs(tmp_path, 2)
    assert configs.vehicle_ids == ("uav0", "uav1")
    assert [v.vehicle_id for v in configs.fleet.vehicles] == ["uav0", "uav1"]


def test_vehicles_beyond_the_listed_ones_are_based_at_the_first_site(tmp_path: Path) -> None:
    configs = write_graph_configs(tmp_path, 10)
    assert len(configs.fleet.vehicles) == 10
    assert {v.home_site for v in configs.fleet.vehicles} == {configs.site_id}
    assert configs.site_id == "zurich"


def test_a_listed_vehicle_keeps_what_fleet_yaml_says_of_it(tmp_path: Path) -> None:
    cargo = next(v for v in write_graph_configs(tmp_path, 5).fleet.vehicles
                 if v.vehicle_id == "uav2")
    assert cargo.model == "x500-cargo"
    assert cargo.max_payload_kg == 2.5


def test_a_tag_prefixes_every_id_the_graph_writes_to_the_database(tmp_path: Path) -> None:
    configs = write_graph_configs(tmp_path, 4, "tabc_")
    assert configs.vehicle_ids == ("tabc_uav0", "tabc_uav1", "tabc_uav2", "tabc_uav3")
    assert configs.site_id == "tabc_zurich"
    assert configs.fleet.vehicles[0].mavros_prefix == "/tabc_uav0/mavros"
    assert {z.zone_id for z in configs.fleet.no_fly_zones} == {"tabc_hospital_helipad"}
    assert {p.station_id for p in configs.fleet.pads} == {"tabc_station_a"}
    assert {s.station_id for s in configs.planner.stations} == {"tabc_station_a"}
    assert {p.station_id for p in configs.sim.pads} == {"tabc_station_a"}
    assert configs.sim.weather is not None
    assert configs.sim.weather.site == "tabc_zurich"


def test_the_files_stand_alone_in_their_directory(tmp_path: Path) -> None:
    configs = write_graph_configs(tmp_path, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fleet.yaml", "fleet_sim.yaml", "missions.yaml"]
    assert "stations.yaml" not in configs.fleet_file.read_text()


def test_a_tag_that_is_not_an_id_prefix_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tag '1x-' must be empty or a letter"):
        write_graph_configs(tmp_path, 3, "1x-")


def test_more_vehicles_than_the_simulator_hosts_are_refused_naming_the_count(
        tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="with 501 vehicles"):
        write_graph_configs(tmp_path, 501)
