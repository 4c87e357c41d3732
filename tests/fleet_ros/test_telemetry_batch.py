"""A telemetry batch carries every accepted sample, in order, and reads back the same."""

from __future__ import annotations

import math
from array import array

import pytest
from builtin_interfaces.msg import Time
from rclpy.serialization import deserialize_message, serialize_message

from fleet_core.fleet.telemetry import (
    AutopilotState,
    AutopilotText,
    BatteryReading,
    EstimatorHealth,
    Heading,
    HomePosition,
    ItemReached,
    Landed,
    PositionFix,
    RelativeAltitude,
    SensorHealth,
    Velocity,
)
from fleet_core.geo import GeoPoint
from fleet_core.mavlink import LandedState
from fleet_interfaces.msg import TelemetryBatch
from fleet_ros.telemetry_batch import BatchBuilder, BatchSample, batch_samples


def test_samples_read_back_in_order_with_their_vehicles_and_values() -> None:
    builder = BatchBuilder("/fleet_manager")
    sent = [
        BatchSample("uav1", 10.0, PositionFix(GeoPoint(47.1, 8.2, 510.0))),
        BatchSample("uav2", 10.1, RelativeAltitude(30.0)),
        BatchSample("uav1", 10.2, Heading(270.0)),
        BatchSample("uav2", 10.3, Velocity(1.0, -2.0, 0.5)),
        BatchSample("uav1", 10.4, BatteryReading(80.0, 15.2, 3.5)),
        BatchSample("uav2", 10.5, AutopilotState(connected=True, armed=False, mode="AUTO.LOITER")),
        BatchSample("uav1", 10.6, AutopilotState(connected=False, armed=True, mode="")),
        BatchSample("uav2", 10.7, Landed(LandedState.IN_AIR)),
    ]
    for s in sent:
        builder.add(s.vehicle_id, s.stamp, s.value)
    msg = builder.take(Time(sec=11))
    assert msg is not None
    wire = deserialize_message(serialize_message(msg), TelemetryBatch)
    assert list(batch_samples(wire)) == sent
    assert (wire.sequence, wire.source, list(wire.vehicle_ids)) == (1, "/fleet_manager",
                                                                    ["uav1", "uav2"])


def test_unknown_battery_fields_travel_as_nan_and_come_back_unknown() -> None:
    builder = BatchBuilder("/fm")
    builder.add("uav1", 1.0, BatteryReading(None, 12.0, None))
    msg = builder.take(Time())
    assert msg is not None
    assert math.isnan(msg.a[0])
    assert next(batch_samples(msg)).value == BatteryReading(None, 12.0, None)


def test_the_rest_of_the_picture_travels_too_for_a_merging_fleet_manager() -> None:
    builder = BatchBuilder("/fm")
    sent = [
        BatchSample("uav1", 1.0, PositionFix(None)),
        BatchSample("uav1", 1.1, HomePosition(GeoPoint(47.0, 8.0, 400.0))),
        BatchSample("uav2", 1.2, SensorHealth(sensors_ok=True, motors_ok=False)),
        BatchSample("uav2", 1.3, EstimatorHealth(estimator_ok=False, position_estimate_ok=True)),
        BatchSample("uav1", 1.4, AutopilotText(4, "Preflight Fail: GPS")),
        BatchSample("uav2", 1.5, AutopilotText(6, "Takeoff detected")),
        BatchSample("uav1", 1.6, ItemReached(3)),
    ]
    for s in sent:
        builder.add(s.vehicle_id, s.stamp, s.value)
    msg = builder.take(Time())
    assert msg is not None
    wire = deserialize_message(serialize_message(msg), TelemetryBatch)
    assert list(batch_samples(wire)) == sent
    assert list(wire.texts) == ["Preflight Fail: GPS", "Takeoff detected"]


def test_each_take_starts_a_new_batch_with_the_next_sequence_number() -> None:
    builder = BatchBuilder("/fm")
    builder.add("uav1", 1.0, Heading(1.0))
    first = builder.take(Time())
    builder.add("uav9", 2.0, Heading(2.0))
    second = builder.take(Time())
    assert first is not None
    assert second is not None
    assert (first.sequence, second.sequence) == (1, 2)
    assert list(second.vehicle_ids) == ["uav9"]
    assert list(second.vehicle) == [0]


def _batch(**fields: object) -> TelemetryBatch:
    msg = TelemetryBatch(source="/fm", sequence=7, vehicle_ids=["uav1"],
                         vehicle=array("H", [0]), kind=array("B", [TelemetryBatch.HEADING]),
                         sample_stamp=array("d", [1.0]), a=array("d", [1.0]),
                         b=array("d", [0.0]), c=array("d", [0.0]))
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


@pytest.mark.parametrize(("fields", "problem"), [
    ({"a": array("d")}, "a has 0 entries for 1 samples"),
    ({"vehicle": array("H", [3])}, "names vehicle 3 of 1"),
    ({"kind": array("B", [99])}, "unknown kind 99"),
    ({"kind": array("B", [TelemetryBatch.STATE])}, "more state samples than modes"),
    ({"kind": array("B", [TelemetryBatch.TEXT])}, "more text samples than texts"),
])
def test_an_inconsistent_batch_is_refused_naming_the_problem(fields: dict[str, object],
                                                             problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        list(batch_samples(_batch(**fields)))
