"""fleet_manager split in ingest shards and a merge keeps one picture and acts across shards."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from rclpy.parameter import Parameter

from fleet_core.errors import ConfigError
from fleet_core.fleet.shards import Role, Shard
from fleet_interfaces.msg import FleetStatus, VehicleStatus
from fleet_manager.node import FleetManagerNode
from fleet_ros.graph import RosGraph
from fleet_ros.qos import FLEET_QOS
from fleet_sim.node import FleetSimNode
from tests.fleet_manager.test_node import (
    _home,
    fleet_config,
    fly_head_on,
    sim_config,
)
from tests.ros_helpers import Collector

pytestmark = pytest.mark.ros

# uav0 and uav1 hash to shard 1 of 2, uav4 and uav5 to shard 0.
IDS = ("uav0", "uav1", "uav4", "uav5")


def manager(graph: RosGraph, fleet_yaml: str, role: str, shard: str = "") -> FleetManagerNode:
    return graph.add(FleetManagerNode(context=graph.context, parameter_overrides=[
        Parameter("config_file", value=fleet_yaml), Parameter("role", value=role),
        Parameter("shard", value=shard)]))


def split(graph: RosGraph, fleet_yaml: str) -> tuple[FleetManagerNode, list[FleetManagerNode]]:
    shards = [manager(graph, fleet_yaml, "ingest", f"{k}/2") for k in range(2)]
    return manager(graph, fleet_yaml, "merge"), shards


def test_the_shards_split_the_vehicles_and_the_merge_pictures_them_all(
        graph: RosGraph, tmp_path: Path) -> None:
    assert [vid for vid in IDS if Shard(0, 2).owns(vid)] == ["uav4", "uav5"]
    graph.add(FleetSimNode(context=graph.context, parameter_overrides=[Parameter(
        "config_file", value=sim_config(tmp_path, [
            {"id": vid, "home": _home(50.0 * k)} for k, vid in enumerate(IDS)]))]))
    merge, shards = split(graph, fleet_config(tmp_path))
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)

    def fresh() -> dict[str, VehicleStatus]:
        last = status.last()
        seen = {v.vehicle_id: v for v in (last.vehicles if last else ())}
        ok = set(seen) == set(IDS) and all(
            v.liveness == VehicleStatus.LIVENESS_FRESH and not math.isnan(v.battery_percent)
            and v.status == VehicleStatus.STATUS_IDLE for v in seen.values())
        return seen if ok else {}

    seen = graph.wait_for(fresh, 20.0, "every vehicle fresh and idle in the merged status")
    assert seen["uav5"].position.latitude == pytest.approx(_home(150.0)["latitude"], abs=1e-6)
    assert sorted(shards[0].fleet) == ["uav4", "uav5"]
    assert sorted(shards[1].fleet) == ["uav0", "uav1"]
    # The merge subscribes to no MAVROS topic and made no service client yet; the shards
    # publish no picture of their own.
    assert merge.role is Role.MERGE
    assert all(not link.subscriptions and not link._clients for link in merge.links.values())
    assert all(len(link.subscriptions) > 5 for s in shards for link in s.links.values())
    assert all(not hasattr(s, "fleet_pub") for s in shards)
    assert len(graph.node("probe").get_publishers_info_by_topic("/fleet/status")) == 1


def test_a_head_on_pair_on_two_shards_is_resolved_by_the_merge(
        graph: RosGraph, tmp_path: Path) -> None:
    assert Shard(1, 2).owns("uav0")
    assert Shard(0, 2).owns("uav4")
    sim = graph.add(FleetSimNode(context=graph.context, parameter_overrides=[Parameter(
        "config_file", value=sim_config(tmp_path, [{"id": "uav0", "home": _home(0.0)},
                                                   {"id": "uav4", "home": _home(200.0)}],
                                        factor=2.0))]))
    split(graph, fleet_config(tmp_path))
    assert "uav4 holds" in fly_head_on(graph, sim, "uav0", "uav4").resolution


@pytest.mark.parametrize(("role", "shard", "named"), [
    ("ingest", "", "needs a shard"), ("merge", "1/2", "only for role 'ingest'"),
    ("ingest", "2/2", "index 2"), ("leader", "", "'leader' is not one of")])
def test_a_bad_role_or_shard_stops_the_start_naming_it(
        graph: RosGraph, tmp_path: Path, role: str, shard: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        FleetManagerNode(context=graph.context, parameter_overrides=[
            Parameter("config_file", value=fleet_config(tmp_path)),
            Parameter("role", value=role), Parameter("shard", value=shard)])


def test_a_whole_manager_is_unchanged_by_the_split(graph: RosGraph, tmp_path: Path) -> None:
    fm = manager(graph, fleet_config(tmp_path, vehicles=[
        {"id": "uav0", "mavros_prefix": "/uav0/mavros"}]), "whole")
    link = fm.links["uav0"]
    assert link.subscriptions
    assert set(link._clients) == {"set_mode", "cmd/command"}
    assert link.status_pub is not None
    assert link.geopose_pub is not None


def test_a_malformed_batch_is_ignored_and_the_merge_keeps_its_picture(
        graph: RosGraph, tmp_path: Path) -> None:
    from array import array

    from fleet_interfaces.msg import TelemetryBatch
    from fleet_ros.fleet_topics import TELEMETRY

    merge = manager(graph, fleet_config(tmp_path, vehicles=[{"id": "uav0"}]), "merge")
    status = Collector(graph, FleetStatus, "/fleet/status", FLEET_QOS)
    pub = graph.node("garbage").create_publisher(TELEMETRY.msg_type, TELEMETRY.name,
                                                 TELEMETRY.qos)
    graph.wait_for(lambda: pub.get_subscription_count() > 0, 10.0, "the merge subscribed")
    # Columns of different lengths, then a sample naming a vehicle that is not in the batch.
    pub.publish(TelemetryBatch(source="/bad", sequence=1, vehicle_ids=["uav0"],
                               vehicle=array("H", [0, 0]), kind=array("B", [1]),
                               sample_stamp=array("d", [1.0]), a=array("d", [1.0]),
                               b=array("d", [1.0]), c=array("d", [1.0])))
    pub.publish(TelemetryBatch(source="/bad", sequence=2, vehicle_ids=["uav0"],
                               vehicle=array("H", [5]), kind=array("B", [1]),
                               sample_stamp=array("d", [1.0]), a=array("d", [1.0]),
                               b=array("d", [1.0]), c=array("d", [1.0])))
    graph.wait_for(lambda: merge._batch_sequences.get("/bad") == 2, 10.0, "both batches read")
    before = len(status.snapshot())
    graph.wait_for(lambda: len(status.snapshot()) > before + 2, 10.0, "status still published")
    assert merge.fleet["uav0"].position is None
