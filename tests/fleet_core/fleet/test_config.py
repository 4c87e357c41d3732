"""fleet_manager's configuration loads, and bad values are named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet_core.errors import ConfigError
from fleet_core.fleet.config import load_fleet_settings, load_fleet_settings_file

REPO = Path(__file__).parents[3]
ORIGIN = {"latitude": 47.4, "longitude": 8.5}


def test_the_shipped_config_loads() -> None:
    s = load_fleet_settings_file(REPO / "config" / "fleet.yaml")
    assert [v.vehicle_id for v in s.vehicles] == ["uav0", "uav1", "uav2"]
    assert s.vehicles[1].mavros_prefix == "/uav1/mavros"
    assert s.no_fly_zones[0].zone_id == "hospital_helipad"
    assert [(x.site_id, x.time_zone) for x in s.sites] == [("zurich", "Europe/Zurich")]
    assert {v.home_site for v in s.vehicles} == {"zurich"}


@pytest.mark.parametrize(("doc", "message"), [
    ({"vehicles": []}, "origin needs latitude"),
    ({"origin": ORIGIN, "vehicles": [{"id": "a", "capabilities": {"max_range_m": -1}}]},
     r"capabilities\.max_range_m must be positive"),
    ({"origin": ORIGIN, "vehicles": [{"id": "a"}, {"id": "a"}]}, "duplicate ids"),
    ({"origin": ORIGIN, "discovery": {"prefix_pattern": "^/(x"}}, "prefix_pattern"),
    ({"origin": ORIGIN, "discovery": {"prefix_pattern": "^/x$"}}, r"named group \(\?P<id>"),
    ({"origin": ORIGIN, "liveness": {"stale_after_s": 9, "lost_after_s": 3}}, "stale_after_s <"),
    ({"origin": ORIGIN, "battery": {"warning_percent": 10}}, "reserve < critical < warning"),
    ({"origin": ORIGIN, "no_fly_zones": [{"id": "z", "polygon": [ORIGIN, ORIGIN]}]},
     "at least 3 vertices"),
    ({"origin": ORIGIN, "command_retries": 99}, "command_retries"),
    ({"origin": ORIGIN, "colour": "red"}, "unknown keys"),
    ({"origin": ORIGIN, "separation": {"strategy": "dodge"}},
     r"separation\.strategy must be one of climb_hold, hold, got 'dodge'"),
    ({"origin": ORIGIN, "separation": {"climb_m": 0}}, r"separation\.climb_m must be positive"),
    ({"origin": ORIGIN, "airspace": {"on_inside": "ignore"}},
     r"airspace\.on_inside must be one of hold, rtl, land, got 'ignore'"),
    ({"origin": ORIGIN, "airspace": {"on_entry": "hold"}}, "unknown keys"),
    ({"origin": ORIGIN, "sites": [{"id": "hq", "location": ORIGIN, "time_zone": "Mars/Base"}]},
     r"sites\[0\]\.time_zone 'Mars/Base' is not an IANA time zone"),
    ({"origin": ORIGIN, "sites": [{"id": "hq", "location": ORIGIN},
                                  {"id": "hq", "location": ORIGIN}]}, "duplicate ids"),
    ({"origin": ORIGIN, "sites": [{"id": "hq"}]}, r"sites\[0\]\.location"),
], ids=["no-origin", "negative-range", "duplicate-id", "bad-regex", "no-id-group",
        "liveness-order", "battery-order", "two-vertex-zone", "retries", "unknown-key",
        "separation-strategy", "climb", "airspace-action", "airspace-key", "site-time-zone",
        "duplicate-site", "site-without-location"])
def test_bad_config_is_rejected_naming_the_problem(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_fleet_settings({"fleet_manager": doc})


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_fleet_settings_file(tmp_path / "nope.yaml")


def test_charging_stations_are_read_for_the_map_one_entry_per_pad() -> None:
    settings = load_fleet_settings({"fleet_manager": {
        "origin": {"latitude": 47.0, "longitude": 8.0},
        "charging_stations": [{"id": "a", "location": {"latitude": 47.0, "longitude": 8.0},
                               "pads": [{"east": 0.0}, {"east": 5.0}]}]}})
    assert [(p.station_id, p.index) for p in settings.pads] == [("a", 0), ("a", 1)]
    with pytest.raises(ConfigError, match="charging_stations"):
        load_fleet_settings({"fleet_manager": {
            "origin": {"latitude": 47.0, "longitude": 8.0}, "charging_stations": {"a": 1}}})


def test_safety_responses_default_to_climb_hold_and_hold_then_rtl() -> None:
    s = load_fleet_settings({"origin": ORIGIN, "separation": {"vertical_m": 6.0}})
    assert s.response.separation_strategy == "climb_hold"
    assert s.separation_climb_m == 10.0  # the vertical minimum + 4 m
    assert (s.response.airspace_on_predicted_entry, s.response.airspace_on_inside) == (
        "hold", "rtl")


def test_safety_responses_are_configurable() -> None:
    s = load_fleet_settings({"origin": ORIGIN,
                             "separation": {"strategy": "hold", "climb_m": 12.0},
                             "airspace": {"on_predicted_entry": "rtl", "on_inside": "land"}})
    assert s.response.separation_strategy == "hold"
    assert s.separation_climb_m == 12.0
    assert (s.response.airspace_on_predicted_entry, s.response.airspace_on_inside) == (
        "rtl", "land")
