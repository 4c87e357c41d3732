"""The spool's record codec: a telemetry sample as one tuple of PostgreSQL's binary COPY format.

A record's payload is the wall time the sample was received (f64) followed by the sample as
one tuple of the binary COPY format of ``telemetry``'s columns :data:`TUPLE_COLUMNS`
(position as EWKB), framed like every spool record (:func:`fleet_db.durable.frame`). The
flusher sends spooled tuples to the database as they are, without decoding them again.
"""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, timedelta

from fleet_db.durable import RECORD_HEAD, SpoolError, frame
from fleet_db.samples import TelemetrySample

_MAX_STRING = 0xFFFF
# Columns of a record's COPY tuple, in order: ``telemetry``'s columns, fixed-size ones first.
TUPLE_COLUMNS = ("time", "position", "altitude_amsl", "altitude_rel", "heading_deg",
                 "ground_speed_mps", "climb_rate_mps", "battery_pct", "voltage_v", "current_a",
                 "armed", "landed_state", "vehicle_id", "mode", "mission_id")
_FLOAT_FIELDS = TUPLE_COLUMNS[2:10]
_RECEIVED = struct.Struct(">d")  # payload prefix: wall time the sample was received
TUPLE_AT = _RECEIVED.size  # the COPY tuple follows it
# Field count, time, then position as big-endian (XDR) EWKB: byte order 0, type Point|SRID,
# SRID 4326, x = longitude, y = latitude.
_TUPLE_START = struct.Struct(">hiqiBIIdd")
_EWKB_LEN = 1 + 4 + 4 + 8 + 8
_EWKB_POINT_SRID = 0x20000001
_TIME_AT = TUPLE_AT + 2 + 4  # byte offset of the time (int64) in a payload
_I8 = struct.Struct(">q")
_F8 = struct.Struct(">d")
_I4 = struct.Struct(">i")
_I2 = struct.Struct(">h")
_NULL = b"\xff\xff\xff\xff"
MAX_RECORD_BYTES = RECORD_HEAD.size + 256 + 3 * _MAX_STRING
# PostgreSQL's binary timestamps count microseconds from 2000-01-01 UTC.
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
# Every optional value present (the common case once a vehicle's topics all arrived).
_FULL_TAIL = struct.Struct(">" + "id" * 8 + "iBih")
# The common case in one go: received time, tuple start and the full tail.
_FULL_NUMBERS = struct.Struct(">d" + _TUPLE_START.format[1:] + _FULL_TAIL.format[1:])
# What the flusher needs of a record without decoding it: head, received time, sample time.
HEAD_TO_TIME = struct.Struct(">IIdhiq")
COPY_TUPLE_AT = RECORD_HEAD.size + TUPLE_AT
"""Byte offset of the COPY tuple in a framed record."""
_tails: dict[int, struct.Struct] = {}


def _tail(mask: int) -> struct.Struct:
    """Return the struct of the 8 optional floats, armed and landed_state; bit set = NULL."""
    st = _tails.get(mask)
    if st is None:
        fmt = ">" + "".join("i" if mask & (1 << i) else "id" for i in range(8))
        fmt += "i" if mask & (1 << 8) else "iB"
        fmt += "i" if mask & (1 << 9) else "ih"
        st = _tails[mask] = struct.Struct(fmt)
    return st


class SpoolRecordError(SpoolError, ValueError):
    """A sample cannot be encoded (a string too long, landed_state out of range...)."""


def _strings(vehicle_id: object, mode: object, mission_id: object) -> bytes:
    """Return the vehicle_id, mode and mission_id columns of a COPY tuple."""
    parts = []
    for name, value in (("vehicle_id", vehicle_id), ("mode", mode), ("mission_id", mission_id)):
        if value is None and name != "vehicle_id":
            parts.append(_NULL)
            continue
        if not isinstance(value, str):
            raise SpoolRecordError(f"{name} {value!r} is not a string")
        raw = value.encode()
        if len(raw) > _MAX_STRING:
            raise SpoolRecordError(f"{name} is {len(raw)} bytes long, at most {_MAX_STRING} fit")
        if b"\0" in raw:
            # PostgreSQL text cannot hold NUL: such a row would block its batch forever.
            raise SpoolRecordError(f"{name} {value!r} contains a NUL character")
        if not raw and name == "vehicle_id":
            raise SpoolRecordError("empty vehicle_id")
        parts += (_I4.pack(len(raw)), raw)
    return b"".join(parts)


def encode_record(sample: TelemetrySample, received: float) -> bytes:
    """Return the spool record of ``sample`` received at wall time ``received`` (s).

    The payload is ``received`` followed by the sample as one tuple of PostgreSQL's binary
    COPY format (columns :data:`TUPLE_COLUMNS` of ``telemetry``, position as EWKB), so the
    flusher sends spooled bytes to the database as they are.
    """
    s = sample
    floats = (s.altitude_amsl, s.altitude_rel, s.heading_deg, s.ground_speed_mps,
              s.climb_rate_mps, s.battery_pct, s.voltage_v, s.current_a)
    try:
        head = _TUPLE_START.pack(len(TUPLE_COLUMNS), 8, (s.time - PG_EPOCH) // _US, _EWKB_LEN,
                                 0, _EWKB_POINT_SRID, 4326, s.longitude, s.latitude)
        mask = 0
        args: list[float | int] = []
        for i, value in enumerate(floats):
            if value is None:
                mask |= 1 << i
                args.append(-1)
            else:
                args += (8, value)
        if s.armed is None:
            mask |= 1 << 8
            args.append(-1)
        else:
            args += (1, s.armed)
        if s.landed_state is None:
            mask |= 1 << 9
            args.append(-1)
        else:
            args += (2, s.landed_state)
        tail = _tail(mask).pack(*args)
    except (struct.error, TypeError, OverflowError) as exc:
        raise SpoolRecordError(f"sample of {s.vehicle_id!r} at {s.time} cannot be encoded "
                               f"(landed_state {s.landed_state!r}): {exc}") from exc
    strings = _strings(s.vehicle_id, s.mode, s.mission_id)
    return frame(b"".join((_RECEIVED.pack(received), head, tail, strings)))


class RecordEncoder:
    """Encodes samples like :func:`encode_record`, faster for the common shape.

    The common shape: every optional number present. Its numbers go in with one precompiled
    struct, and the string columns of each (vehicle_id, mode, mission_id) seen lately are
    encoded once and reused. Other samples take :func:`encode_record`. Not thread-safe for
    writing the cache, which is harmless: a lost entry is only encoded again.
    """

    __slots__ = ("_max_cached", "_strings")

    def __init__(self, max_cached: int = 4096) -> None:
        self._max_cached = max_cached
        self._strings: dict[tuple[object, object, object], bytes] = {}

    def encode(self, sample: TelemetrySample, received: float,
               time_us: int | None = None) -> bytes:
        """Return the record of ``sample`` (``time_us``: its time since PG_EPOCH, if known)."""
        s = sample
        key = (s.vehicle_id, s.mode, s.mission_id)
        try:
            strings = self._strings.get(key)
        except TypeError:  # an unhashable value: not a sample encode_record can take either
            return encode_record(s, received)
        if strings is None:
            strings = _strings(*key)
            if len(self._strings) >= self._max_cached:
                self._strings.clear()
            self._strings[key] = strings
        try:
            if time_us is None:
                time_us = (s.time - PG_EPOCH) // _US
            numbers = _FULL_NUMBERS.pack(
                received, 15, 8, time_us, _EWKB_LEN, 0, _EWKB_POINT_SRID, 4326,
                s.longitude, s.latitude, 8, s.altitude_amsl, 8, s.altitude_rel,
                8, s.heading_deg, 8, s.ground_speed_mps, 8, s.climb_rate_mps,
                8, s.battery_pct, 8, s.voltage_v, 8, s.current_a, 1, s.armed, 2, s.landed_state)
        except (struct.error, TypeError, OverflowError):
            # A None among the numbers (or garbage): the general path says which.
            return encode_record(s, received)
        payload = numbers + strings
        return RECORD_HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def payload_time_us(payload: bytes) -> int:
    """Return a record's sample time in microseconds since :data:`PG_EPOCH`."""
    return int(_I8.unpack_from(payload, _TIME_AT)[0])


def payload_received(payload: bytes) -> float:
    """Return the wall time (s) a record was received."""
    return float(_RECEIVED.unpack_from(payload)[0])


def decode_payload(payload: bytes) -> tuple[TelemetrySample, float]:
    """Return the sample and its received wall time stored in a record's payload."""
    pos = TUPLE_AT + 2
    values: dict[str, object] = {}
    for column in TUPLE_COLUMNS:
        (length,) = _I4.unpack_from(payload, pos)
        pos += 4
        if length < 0:
            values[column] = None
            continue
        raw = payload[pos:pos + length]
        pos += length
        if column == "time":
            values[column] = PG_EPOCH + timedelta(microseconds=_I8.unpack(raw)[0])
        elif column == "position":
            values["lon"], values["lat"] = struct.unpack_from(">dd", raw, 9)
        elif column == "armed":
            values[column] = raw != b"\0"
        elif column == "landed_state":
            values[column] = _I2.unpack(raw)[0]
        elif column in ("vehicle_id", "mode", "mission_id"):
            values[column] = raw.decode()
        else:
            values[column] = _F8.unpack(raw)[0]
    sample = TelemetrySample(
        values["vehicle_id"], values["time"], values["lat"], values["lon"],  # type: ignore[arg-type]
        **{name: values[name] for name in (*_FLOAT_FIELDS, "armed", "landed_state", "mode",
                                           "mission_id")})  # type: ignore[arg-type]
    return sample, payload_received(payload)

