"""Vehicles join the fleet from the configuration, discovery and the add service; a removed
one is not rediscovered; bad or clashing additions are refused with the reason."""

from __future__ import annotations

import pytest

from fleet_core.errors import ConfigError
from fleet_core.fleet.config import DEFAULT_PREFIX_PATTERN
from fleet_core.fleet.model import VehicleSpec
from fleet_core.fleet.registry import Registry, UnknownVehicleError

STATE = "mavros_msgs/msg/State"


def registry(*ids: str) -> Registry:
    r = Registry(DEFAULT_PREFIX_PATTERN)
    for vid in ids:
        r.add(VehicleSpec(vid, f"/{vid}/mavros"))
    return r


def test_adding_a_known_id_again_changes_nothing() -> None:
    r = registry("uav0")
    first = r.vehicles["uav0"]
    assert r.add(VehicleSpec("uav0", "/other/mavros")) is None
    assert r.vehicles == {"uav0": first}


def test_discovery_finds_new_mavros_state_topics_only() -> None:
    r = registry("uav0")
    found = r.discover([
        ("/uav0/mavros/state", [STATE]),  # known
        ("/uav1/mavros/state", [STATE]),
        ("/uav2/mavros/battery", ["sensor_msgs/msg/BatteryState"]),
        ("/uav3/mavros/state", ["std_msgs/msg/String"]),  # not MAVROS's
        ("/not/a/mavros/prefix/state", [STATE]),  # does not match the pattern
    ])
    assert found == [VehicleSpec("uav1", "/uav1/mavros")]


def test_one_id_is_discovered_once_even_under_two_prefixes() -> None:
    r = Registry(r"^/(?P<id>[a-z0-9]+)/(mavros|mavros2)$")
    found = r.discover([("/uav1/mavros/state", [STATE]), ("/uav1/mavros2/state", [STATE])])
    assert [s.mavros_prefix for s in found] == ["/uav1/mavros"]


def test_a_removed_vehicle_is_not_rediscovered_but_may_be_added_back() -> None:
    r = registry("uav0")
    r.remove("uav0")
    assert r.vehicles == {}
    assert r.discover([("/uav0/mavros/state", [STATE])]) == []
    r.add(r.admit("uav0"))
    assert list(r.vehicles) == ["uav0"]


def test_an_added_vehicle_defaults_to_its_own_prefix_and_a_multirotor() -> None:
    spec = registry().admit("uav9")
    assert (spec.vehicle_id, spec.mavros_prefix, spec.model) == ("uav9", "/uav9/mavros",
                                                                 "multirotor")


@pytest.mark.parametrize(("vid", "prefix", "message"), [
    ("9lives", "", "id must match"),
    ("uav0", "", "vehicle 'uav0' is already registered"),
    ("uav5", "/uav0/mavros", "MAVROS prefix /uav0/mavros already belongs to another vehicle"),
])
def test_a_bad_or_clashing_addition_is_refused(vid: str, prefix: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        registry("uav0").admit(vid, prefix)


def test_an_unknown_id_is_named_with_the_known_ones() -> None:
    with pytest.raises(UnknownVehicleError) as caught:
        registry("uav1", "uav0").get("nope")
    assert str(caught.value) == "unknown vehicle_id 'nope'; known: ['uav0', 'uav1']"
    with pytest.raises(UnknownVehicleError):
        registry().remove("nope")
