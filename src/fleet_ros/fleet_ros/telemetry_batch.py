"""fleet_interfaces/TelemetryBatch: many vehicles' samples in one message, both ways.

fleet_manager already receives every vehicle's telemetry; rather than have the recorder
subscribe to the same ~21 messages a second per vehicle again (another ~0.5 of a core at 1,000
vehicles in rclpy's per-message cost), it hands over what it accepted once per tick, column-wise.
The recorder reads the batch back into the same fleet_core values a MAVROS subscription
gives (``BatchSample``), so both sources feed one code path. A batch carries every kind of
value fleet_manager takes, so that a fleet_manager that merges ingest shards (mode "merge")
rebuilds the same picture from the shards' batches as from the MAVROS topics themselves.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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
    Telemetry,
    Velocity,
    landed_state,
)
from fleet_core.geo import GeoPoint
from fleet_interfaces.msg import TelemetryBatch

_NAN = math.nan


def _or_nan(value: float | None) -> float:
    return _NAN if value is None else value


def _or_none(value: float) -> float | None:
    return None if math.isnan(value) else value


class BatchBuilder:
    """Collects accepted samples and turns them into one TelemetryBatch per ``take``.

    Arrays, not lists: rclpy checks every element of a list it is given, but takes an
    ``array`` of the field's own type whole.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.sequence = 0
        self._index: dict[str, int] = {}
        self._clear()

    def _clear(self) -> None:
        self._ids: list[str] = []
        self._index.clear()
        self._vehicle = array("H")
        self._kind = array("B")
        self._stamp = array("d")
        self._a = array("d")
        self._b = array("d")
        self._c = array("d")
        self._modes: list[str] = []
        self._texts: list[str] = []

    def __len__(self) -> int:
        return len(self._kind)

    def add(self, vehicle_id: str, stamp: float, value: Telemetry) -> None:
        """Add one accepted sample."""
        match value:
            case PositionFix(position=GeoPoint(latitude=lat, longitude=lon, altitude=alt)):
                self._put(vehicle_id, TelemetryBatch.FIX, stamp, lat, lon, alt)
            case RelativeAltitude(metres=metres):
                self._put(vehicle_id, TelemetryBatch.REL_ALT, stamp, metres, _NAN, _NAN)
            case Heading(degrees=degrees):
                self._put(vehicle_id, TelemetryBatch.HEADING, stamp, degrees, _NAN, _NAN)
            case Velocity(east=east, north=north, up=up):
                self._put(vehicle_id, TelemetryBatch.VELOCITY, stamp, east, north, up)
            case BatteryReading(percent=pct, voltage_v=volts, current_a=amps):
                self._put(vehicle_id, TelemetryBatch.BATTERY, stamp, _or_nan(pct),
                          _or_nan(volts), _or_nan(amps))
            case AutopilotState(connected=connected, armed=armed, mode=mode):
                self._put(vehicle_id, TelemetryBatch.STATE, stamp, float(connected),
                          float(armed), _NAN)
                self._modes.append(mode)
            case Landed(state=state):
                self._put(vehicle_id, TelemetryBatch.LANDED, stamp, float(int(state)), _NAN,
                          _NAN)
            case PositionFix(position=None):
                self._put(vehicle_id, TelemetryBatch.NO_FIX, stamp, _NAN, _NAN, _NAN)
            case HomePosition(position=GeoPoint(latitude=lat, longitude=lon, altitude=alt)):
                self._put(vehicle_id, TelemetryBatch.HOME, stamp, lat, lon, alt)
            case SensorHealth(sensors_ok=sensors_ok, motors_ok=motors_ok):
                self._put(vehicle_id, TelemetryBatch.SENSORS, stamp, float(sensors_ok),
                          float(motors_ok), _NAN)
            case EstimatorHealth(estimator_ok=estimator_ok, position_estimate_ok=position_ok):
                self._put(vehicle_id, TelemetryBatch.ESTIMATOR, stamp, float(estimator_ok),
                          float(position_ok), _NAN)
            case AutopilotText(severity=severity, text=text):
                self._put(vehicle_id, TelemetryBatch.TEXT, stamp, float(severity), _NAN, _NAN)
                self._texts.append(text)
            case ItemReached(seq=seq):
                self._put(vehicle_id, TelemetryBatch.REACHED, stamp, float(seq), _NAN, _NAN)

    def _put(self, vehicle_id: str, kind: int, stamp: float,  # noqa: PLR0917 - hot path
             a: float, b: float, c: float) -> None:
        index = self._index.get(vehicle_id)
        if index is None:
            index = self._index[vehicle_id] = len(self._ids)
            self._ids.append(vehicle_id)
        self._vehicle.append(index)
        self._kind.append(kind)
        self._stamp.append(stamp)
        self._a.append(a)
        self._b.append(b)
        self._c.append(c)

    def take(self, stamp: Any) -> TelemetryBatch | None:
        """Return the batch of everything added since the last call (None if nothing was),
        stamped ``stamp`` (a builtin_interfaces/Time)."""
        if not self._kind:
            return None
        self.sequence += 1
        msg = TelemetryBatch(stamp=stamp, source=self.source, sequence=self.sequence,
                             vehicle_ids=self._ids, vehicle=self._vehicle, kind=self._kind,
                             sample_stamp=self._stamp, a=self._a, b=self._b, c=self._c,
                             modes=self._modes, texts=self._texts)
        self._clear()
        return msg


@dataclass(frozen=True, slots=True)
class BatchSample:
    """One sample of a batch: the vehicle, the sample's stamp (POSIX seconds), its value."""

    vehicle_id: str
    stamp: float
    value: Telemetry


def batch_samples(msg: TelemetryBatch) -> Iterator[BatchSample]:
    """Yield a batch's samples in order. Raises ValueError naming the first inconsistency
    (arrays of different lengths, an unknown kind, a vehicle index out of range)."""
    n = len(msg.kind)
    columns = {"vehicle": msg.vehicle, "sample_stamp": msg.sample_stamp, "a": msg.a,
               "b": msg.b, "c": msg.c}
    for name, column in columns.items():
        if len(column) != n:
            raise ValueError(f"telemetry batch {msg.sequence} from {msg.source!r}: {name} has "
                             f"{len(column)} entries for {n} samples")
    ids = msg.vehicle_ids
    modes, texts = iter(msg.modes), iter(msg.texts)
    for i in range(n):
        k, index = msg.kind[i], msg.vehicle[i]
        if index >= len(ids):
            raise ValueError(f"telemetry batch {msg.sequence} from {msg.source!r}: sample {i} "
                             f"names vehicle {index} of {len(ids)}")
        a, b, c = msg.a[i], msg.b[i], msg.c[i]
        value: Telemetry
        if k == TelemetryBatch.FIX:
            value = PositionFix(GeoPoint(a, b, c))
        elif k == TelemetryBatch.REL_ALT:
            value = RelativeAltitude(a)
        elif k == TelemetryBatch.HEADING:
            value = Heading(a)
        elif k == TelemetryBatch.VELOCITY:
            value = Velocity(a, b, c)
        elif k == TelemetryBatch.BATTERY:
            value = BatteryReading(_or_none(a), _or_none(b), _or_none(c))
        elif k == TelemetryBatch.STATE:
            mode = next(modes, None)
            if mode is None:
                raise ValueError(f"telemetry batch {msg.sequence} from {msg.source!r}: more "
                                 f"state samples than modes ({len(msg.modes)})")
            value = AutopilotState(connected=a != 0.0, armed=b != 0.0, mode=mode)
        elif k == TelemetryBatch.LANDED:
            value = Landed(landed_state(int(a)))
        else:
            value = _rest(msg, i, k, a, b, c, texts)
        yield BatchSample(ids[index], msg.sample_stamp[i], value)


def _rest(msg: TelemetryBatch, i: int, k: int,  # noqa: PLR0917 - one sample's columns
          a: float, b: float, c: float, texts: Iterator[str]) -> Telemetry:
    """Read the kinds the recorder does not store (the rest of the fleet picture)."""
    if k == TelemetryBatch.NO_FIX:
        return PositionFix(None)
    if k == TelemetryBatch.HOME:
        return HomePosition(GeoPoint(a, b, c))
    if k == TelemetryBatch.SENSORS:
        return SensorHealth(sensors_ok=a != 0.0, motors_ok=b != 0.0)
    if k == TelemetryBatch.ESTIMATOR:
        return EstimatorHealth(estimator_ok=a != 0.0, position_estimate_ok=b != 0.0)
    if k == TelemetryBatch.TEXT:
        text = next(texts, None)
        if text is None:
            raise ValueError(f"telemetry batch {msg.sequence} from {msg.source!r}: more "
                             f"text samples than texts ({len(msg.texts)})")
        return AutopilotText(int(a), text)
    if k == TelemetryBatch.REACHED:
        return ItemReached(int(a))
    raise ValueError(f"telemetry batch {msg.sequence} from {msg.source!r}: sample {i} "
                     f"has unknown kind {k}")

