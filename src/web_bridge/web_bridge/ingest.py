"""Vehicles without ROS: API keys, sample validation, and publishing as MAVROS would.

A vehicle that speaks HTTP or WebSocket instead of MAVROS sends batches of samples with its
API key. Each sample is checked here (``check_batch``: pure, no I/O) and the good ones are
published under ``/<vehicle>/mavros/...`` with MAVROS's message types and QoS, so
fleet_manager discovers the vehicle and the recorder stores it like any other.

API keys are ``fk_xxxxxxxx.<secret>``: the prefix finds the row, the argon2 hash proves the
secret. A verified key is cached in memory for ``KEY_CACHE_S`` so a vehicle sending 20
batches a second pays argon2 once a minute, not 20 times a second. Revocation reaches every
instance at once through a Redis marker (``apikey:revoked:<prefix>``, kept longer than the
cache) that each use of a cached key checks; while Redis is down a revoked key keeps working
on an instance that had it cached for at most ``KEY_CACHE_S``. ``last_used_at`` is written
when a key is verified against the database, so it is exact to about a minute.

Stamps must increase per vehicle: the newest accepted stamp is kept in memory and in Redis
(``ingest:last:<vehicle>``), so a batch replayed to another instance, or after a restart, is
still refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)
from redis.exceptions import RedisError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from fleet_core.mavlink import SENSORS_PRESENT, LandedState, MavState
from fleet_core.mavros_topics import MavrosTopic as T
from fleet_db.models import ApiKey, Site, Vehicle
from web_bridge import accounts
from web_bridge.app import Bridge, on_lifespan
from web_bridge.db import system
from web_bridge.errors import GraphUnavailableError, InvalidInputError, NotFoundError, RefusedError
from web_bridge.security import Principal, TokenError, api_key_prefix, new_api_key

if TYPE_CHECKING:
    from rclpy.node import Node

log = logging.getLogger(__name__)

MAX_BATCH = 500
MAX_FUTURE_S = 5.0  # a vehicle clock this far ahead of ours is wrong, not early
MAX_AGE_S = 86_400.0  # older samples would show a day-old position as the current one
MAX_GROUND_SPEED_MPS = 100.0  # faster than any multirotor or small VTOL: a unit error
HEARTBEAT_S = 1.0  # MAVROS's rate for state, battery, status and home
KEY_CACHE_S = 60.0
KEY_CACHE_SIZE = 10_000
VEHICLE_ID = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"  # fleet_manager's discovery and the recorder's ids
_EARLIEST = 946_684_800.0  # 2000-01-01: anything before is a clock that was never set
_LATEST = 4_102_444_800.0  # 2100-01-01
LANDED_STATES = {s.name.lower(): s for s in LandedState}


# --- samples ------------------------------------------------------------------------------


class SampleError(ValueError):
    """A sample is unusable; the message names the field and the value."""


def parse_stamp(value: object) -> float:
    """Return POSIX seconds of ``value`` (POSIX seconds, or ISO-8601 text with a zone)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SampleError(f"stamp {value!r} is neither POSIX seconds nor ISO-8601 text")
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise SampleError(f"stamp {value[:40]!r} is not an ISO-8601 time") from None
        if when.tzinfo is None:
            raise SampleError(f"stamp {value[:40]!r} has no time zone (add Z or +hh:mm)")
        seconds = when.timestamp()
    else:
        seconds = float(value)
        if not math.isfinite(seconds):
            raise SampleError(f"stamp {value} is not a number")
        if seconds > _LATEST * 100:
            raise SampleError(f"stamp {value} looks like milliseconds; send POSIX seconds")
    if not _EARLIEST <= seconds <= _LATEST:
        raise SampleError(f"stamp {value!r} is not between 2000 and 2100")
    return seconds


def _stamp(value: object) -> float:
    try:
        return parse_stamp(value)
    except SampleError as exc:  # pydantic reports ValueError with its message
        raise ValueError(str(exc)) from None


def _landed_state(value: object) -> object:
    # MAVLink speakers send the number, people send the name: both mean the same.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 4:
        return LandedState(value).name.lower()
    return value


Stamp = Annotated[float, BeforeValidator(_stamp), WithJsonSchema({
    "anyOf": [{"type": "number"}, {"type": "string", "format": "date-time"}],
    "description": "POSIX seconds, or ISO-8601 with a zone (2025-05-01T12:00:00Z)"})]
LandedName = Annotated[
    Literal["undefined", "on_ground", "in_air", "takeoff", "landing"],
    BeforeValidator(_landed_state)]


def _number(low: float, high: float, description: str) -> Any:
    return Field(None, ge=low, le=high, strict=True, description=description)


class HomeIn(BaseModel):
    """Where the vehicle returns to."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    latitude: float = Field(ge=-90, le=90, strict=True)
    longitude: float = Field(ge=-180, le=180, strict=True)
    altitude: float = Field(ge=-500, le=10_000, strict=True, description="metres AMSL")


class SampleIn(BaseModel):
    """One telemetry sample of a vehicle (unknown fields are refused, to catch typos)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    vehicle_id: str = Field(pattern=VEHICLE_ID, description="the key's vehicle")
    stamp: Stamp
    latitude: float = Field(ge=-90, le=90, strict=True)
    longitude: float = Field(ge=-180, le=180, strict=True)
    altitude: float = Field(ge=-500, le=10_000, strict=True,
                            description="metres AMSL, as MAVROS global_position/global")
    armed: bool = Field(strict=True)
    mode: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,32}$",
                      description="autopilot mode, e.g. AUTO.LOITER (PX4) or GUIDED")
    relative_altitude: float | None = _number(-1000, 10_000, "metres above home")
    heading: float | None = _number(0, 360, "degrees clockwise from north")
    ground_speed: float | None = _number(0, MAX_GROUND_SPEED_MPS, "m/s; needs a course or "
                                         "heading for its direction")
    course: float | None = _number(0, 360, "direction of travel, degrees from north "
                                   "(default: the heading)")
    climb_rate: float | None = _number(-50, 50, "m/s, up positive")
    battery_percent: float | None = _number(0, 100, "state of charge, 0..100")
    voltage: float | None = _number(0, 100, "battery volts")
    current: float | None = _number(-500, 500, "battery amperes, positive while discharging")
    charging: bool | None = Field(None, strict=True)
    landed_state: LandedName | None = None
    home: HomeIn | None = None
    sensors_healthy: bool | None = Field(None, strict=True, description=(
        "all sensors healthy (published as sys_status; absent: not published)"))
    position_ok: bool | None = Field(None, strict=True, description=(
        "the estimator's global position is valid (published as estimator_status)"))


@dataclass(frozen=True, slots=True)
class Rejection:
    """A sample that was not accepted: its index in the batch and why."""

    index: int
    problem: str


@dataclass(frozen=True, slots=True)
class CheckedBatch:
    """The samples of a batch that passed (with their index) and the ones that did not."""

    accepted: list[tuple[int, SampleIn]]
    rejected: list[Rejection]


def _problem(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ())) or "sample"
        kind = err.get("type", "")
        if kind == "missing":
            parts.append(f"{where} is required")
        elif kind == "extra_forbidden":
            parts.append(f"{where} is not a known field")
        else:
            message = str(err.get("msg", "")).removeprefix("Value error, ")
            if message.startswith(f"{where} "):  # our own messages name the field already
                parts.append(message)
                continue
            value = err.get("input")
            shown = f" {value!r}"[:60] if isinstance(value, int | float | str | bool) else ""
            parts.append(f"{where}{shown}: {message}")
    return "; ".join(parts)


def parse_sample(raw: object) -> SampleIn:
    """Return the sample in ``raw``; raise SampleError naming every bad field."""
    if not isinstance(raw, dict):
        raise SampleError(f"sample is a JSON {type(raw).__name__}, not an object")
    try:
        # null means "not measured": the same as leaving the field out.
        sample = SampleIn.model_validate({k: v for k, v in raw.items() if v is not None})
    except ValidationError as exc:
        raise SampleError(_problem(exc)) from None
    if sample.ground_speed is not None and sample.course is None and sample.heading is None:
        raise SampleError("ground_speed needs a course or a heading to give it a direction")
    return sample


def check_batch(raw: Sequence[object], vehicle_id: str, last_stamp: float | None,
                now: float) -> CheckedBatch:
    """Check each sample of a batch for ``vehicle_id``; the good ones are kept.

    A sample must be well-formed, of ``vehicle_id``, stamped after the previous accepted one
    (``last_stamp``, then the batch's own accepted samples), no more than ``MAX_FUTURE_S``
    ahead of ``now`` and no more than ``MAX_AGE_S`` behind it.
    """
    accepted: list[tuple[int, SampleIn]] = []
    rejected: list[Rejection] = []
    previous = last_stamp
    for index, item in enumerate(raw):
        try:
            sample = parse_sample(item)
        except SampleError as exc:
            rejected.append(Rejection(index, str(exc)))
            continue
        problem = None
        if sample.vehicle_id != vehicle_id:
            problem = (f"vehicle_id {sample.vehicle_id!r} is not this key's vehicle "
                       f"{vehicle_id!r}")
        elif sample.stamp > now + MAX_FUTURE_S:
            problem = (f"stamp {_iso(sample.stamp)} is {sample.stamp - now:.1f} s in the "
                       f"future (at most {MAX_FUTURE_S:g} s is tolerated)")
        elif sample.stamp < now - MAX_AGE_S:
            problem = (f"stamp {_iso(sample.stamp)} is more than {MAX_AGE_S / 3600:g} h "
                       "old")
        elif previous is not None and sample.stamp <= previous:
            problem = (f"stamp {_iso(sample.stamp)} is not after the previous accepted "
                       f"sample's {_iso(previous)}")
        if problem is not None:
            rejected.append(Rejection(index, problem))
            continue
        accepted.append((index, sample))
        previous = sample.stamp
    return CheckedBatch(accepted, rejected)


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")


# --- publishing as MAVROS -----------------------------------------------------------------
_PUBLISHED = (T.STATE, T.EXTENDED_STATE, T.BATTERY, T.SYS_STATUS, T.ESTIMATOR_STATUS, T.HOME,
              T.REL_ALT, T.HEADING, T.VELOCITY, T.FIX)
"""What an ingested sample can tell: the topics fleet_manager and the recorder read."""


class VehiclePublishers:
    """The MAVROS topics of one ingested vehicle, on the bridge's node.

    Position-rate topics (fix, rel_alt, compass, velocity) carry every sample. The topics
    MAVROS sends at heartbeat rate (state, extended_state, battery, sys_status,
    estimator_status, home) go out when their content changes, else once per
    ``HEARTBEAT_S`` of sample time: a 10 Hz vehicle then costs about half the messages,
    and fleet_manager and the recorder (which carries a value up to 5 s into a row) see the
    same picture.
    """

    def __init__(self, node: Node, vehicle_id: str) -> None:
        # rclpy and the message packages only when the bridge runs with a graph.
        from geometry_msgs.msg import TwistStamped  # noqa: PLC0415
        from mavros_msgs.msg import (  # noqa: PLC0415
            EstimatorStatus,
            ExtendedState,
            HomePosition,
            State,
            SysStatus,
        )
        from sensor_msgs.msg import BatteryState, NavSatFix, NavSatStatus  # noqa: PLC0415
        from std_msgs.msg import Float64  # noqa: PLC0415

        from fleet_ros.mavros_io import NO_EVENTS, advertise  # noqa: PLC0415

        self._node = node
        # No QoS event handlers: each would join the executor's wait set (see fleet_sim), and
        # creating a publisher without one is safe while the executor spins on another thread.
        pubs = advertise(node, f"/{vehicle_id}/mavros", _PUBLISHED, event_callbacks=NO_EVENTS)
        self.state = pubs[T.STATE]
        self.extended_state = pubs[T.EXTENDED_STATE]
        self.battery = pubs[T.BATTERY]
        self.sys_status = pubs[T.SYS_STATUS]
        self.estimator_status = pubs[T.ESTIMATOR_STATUS]
        self.home = pubs[T.HOME]
        self.rel_alt = pubs[T.REL_ALT]
        self.compass = pubs[T.HEADING]
        self.velocity = pubs[T.VELOCITY]
        self.fix = pubs[T.FIX]
        self.all = tuple(pubs.values())
        # Messages are reused: publish() serializes at once, and one vehicle's samples are
        # published by one task at a time (IngestService holds the vehicle's lock).
        nan = math.nan
        self._state = State(connected=True, guided=False, manual_input=False)
        self._extended = ExtendedState()
        self._battery = BatteryState(
            charge=nan, capacity=nan, design_capacity=nan, present=True,
            power_supply_technology=BatteryState.POWER_SUPPLY_TECHNOLOGY_UNKNOWN)
        self._battery_status = {None: BatteryState.POWER_SUPPLY_STATUS_UNKNOWN,
                                True: BatteryState.POWER_SUPPLY_STATUS_CHARGING,
                                False: BatteryState.POWER_SUPPLY_STATUS_DISCHARGING}
        self._sys = SysStatus(sensors_present=SENSORS_PRESENT, sensors_enabled=SENSORS_PRESENT)
        self._estimator = EstimatorStatus(
            attitude_status_flag=True, velocity_vert_status_flag=True,
            pos_vert_abs_status_flag=True, pos_vert_agl_status_flag=True,
            accel_error_status_flag=False)
        self._home = HomePosition()
        self._home.orientation.w = 1.0
        self._float = Float64()
        self._twist = TwistStamped()
        self._twist.header.frame_id = "map"
        self._fix = NavSatFix(position_covariance_type=NavSatFix.COVARIANCE_TYPE_UNKNOWN)
        self._fix.status.status = NavSatStatus.STATUS_FIX
        self._fix.status.service = NavSatStatus.SERVICE_GPS
        self._fix.header.frame_id = "base_link"
        self._sent: dict[T, tuple[float, object]] = {}  # topic -> (sample stamp, content)

    def _due(self, topic: T, stamp: float, content: object) -> bool:
        """Return whether a heartbeat-rate topic is to be published for this sample."""
        last = self._sent.get(topic)
        if last is not None and last[1] == content and 0.0 <= stamp - last[0] < HEARTBEAT_S:
            return False
        self._sent[topic] = (stamp, content)
        return True

    def publish(self, s: SampleIn) -> None:
        """Publish one sample; the fix goes last so the recorder's row carries the rest."""
        sec = int(s.stamp)
        nanosec = min(round((s.stamp - sec) * 1e9), 999_999_999)
        t = s.stamp
        if self._due(T.STATE, t, (s.armed, s.mode)):
            st = self._state
            st.armed, st.mode = s.armed, s.mode
            st.system_status = int(MavState.ACTIVE if s.armed else MavState.STANDBY)
            self.state.publish(stamp_header(st, sec, nanosec))
        if s.landed_state is not None and self._due(T.EXTENDED_STATE, t, s.landed_state):
            self._extended.landed_state = int(LANDED_STATES[s.landed_state])
            self.extended_state.publish(stamp_header(self._extended, sec, nanosec))
        battery = (s.battery_percent, s.voltage, s.current, s.charging)
        if any(v is not None for v in battery) and self._due(T.BATTERY, t, s.charging):
            self.battery.publish(stamp_header(self._battery_of(s), sec, nanosec))
        if s.sensors_healthy is not None and self._due(T.SYS_STATUS, t, s.sensors_healthy):
            sm = self._sys
            sm.sensors_health = SENSORS_PRESENT if s.sensors_healthy else 0
            sm.voltage_battery = 0 if s.voltage is None else min(65535, int(s.voltage * 1000))
            sm.current_battery = -1 if s.current is None else max(
                -32768, min(32767, int(s.current * 100)))
            sm.battery_remaining = -1 if s.battery_percent is None else round(s.battery_percent)
            self.sys_status.publish(stamp_header(sm, sec, nanosec))
        if s.position_ok is not None and self._due(T.ESTIMATOR_STATUS, t, s.position_ok):
            ok = s.position_ok
            em = self._estimator
            em.velocity_horiz_status_flag = em.pos_horiz_rel_status_flag = ok
            em.pos_horiz_abs_status_flag = em.pred_pos_horiz_rel_status_flag = ok
            em.pred_pos_horiz_abs_status_flag = ok
            em.const_pos_mode_status_flag = em.gps_glitch_status_flag = not ok
            self.estimator_status.publish(stamp_header(em, sec, nanosec))
        home = s.home
        if home is not None and self._due(
                T.HOME, t, (home.latitude, home.longitude, home.altitude)):
            geo = self._home.geo
            geo.latitude, geo.longitude, geo.altitude = (
                home.latitude, home.longitude, home.altitude)
            self.home.publish(stamp_header(self._home, sec, nanosec))
        f = self._float
        if s.relative_altitude is not None:
            f.data = float(s.relative_altitude)
            self.rel_alt.publish(f)
        if s.heading is not None:
            f.data = float(s.heading)
            self.compass.publish(f)
        if s.ground_speed is not None:
            course = s.course if s.course is not None else s.heading
            assert course is not None  # parse_sample refuses a speed without a direction
            lin = self._twist.twist.linear
            lin.x = s.ground_speed * math.sin(math.radians(course))  # ENU: x east
            lin.y = s.ground_speed * math.cos(math.radians(course))
            lin.z = float(s.climb_rate or 0.0)
            self.velocity.publish(stamp_header(self._twist, sec, nanosec))
        fix = self._fix
        fix.latitude, fix.longitude, fix.altitude = s.latitude, s.longitude, s.altitude
        self.fix.publish(stamp_header(fix, sec, nanosec))

    def _battery_of(self, s: SampleIn) -> Any:
        b = self._battery
        nan = math.nan
        # sensor_msgs: percentage 0..1, current negative while discharging, NaN = unknown.
        b.percentage = nan if s.battery_percent is None else s.battery_percent / 100.0
        b.voltage = nan if s.voltage is None else s.voltage
        b.current = nan if s.current is None else -s.current
        b.power_supply_status = self._battery_status[s.charging]
        return b

    def destroy(self) -> None:
        """Drop the vehicle's publishers."""
        for p in self.all:
            self._node.destroy_publisher(p)


def stamp_header(msg: Any, sec: int, nanosec: int) -> Any:
    """Set a message's header stamp and return the message."""
    msg.header.stamp.sec = sec
    msg.header.stamp.nanosec = nanosec
    return msg


# --- keys and the ingest service ----------------------------------------------------------


class KeyRefusedError(Exception):
    """An API key is missing, malformed, unknown, wrong, revoked or expired: 401."""


class RateLimitedError(Exception):
    """A key or an address is over its limit: 429 after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BatchTooLargeError(Exception):
    """A batch has more than MAX_BATCH samples: 413."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What became of a batch."""

    accepted: int
    rejected: list[Rejection]
    last_stamp: float | None


@dataclass(slots=True)
class _CachedKey:
    principal: Principal
    prefix: str
    expires_at: float | None  # POSIX
    verified_at: float  # monotonic


@dataclass
class IngestService:
    """Per-bridge ingest state: the key cache, the per-vehicle publishers, locks and stamps."""

    bridge: Bridge
    keys: dict[str, _CachedKey] = field(default_factory=dict)  # sha256(key) -> principal
    publishers: dict[str, VehiclePublishers] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    last_stamps: dict[str, float] = field(default_factory=dict)
    blocked: dict[str, float] = field(default_factory=dict)  # address -> monotonic until
    audited_limits: dict[str, float] = field(default_factory=dict)  # prefix -> monotonic

    # ---------------------------------------------------------------- authentication
    async def authenticate(self, key: str | None, address: str) -> Principal:
        """Return the principal of an API key; raise KeyRefusedError or RateLimitedError."""
        if not key:
            raise KeyRefusedError("not authenticated: send X-API-Key: <key> "
                                  "(or Authorization: ApiKey <key>)")
        try:
            prefix = api_key_prefix(key)
        except TokenError as exc:
            raise KeyRefusedError(str(exc)) from None
        await self._rate_limit(prefix)
        fingerprint = hashlib.sha256(key.encode()).hexdigest()
        cached = self.keys.get(fingerprint)
        if cached is not None and time.monotonic() - cached.verified_at < KEY_CACHE_S:
            if await self._revoked_marker(prefix):
                self.forget(prefix)
                raise KeyRefusedError(f"API key {prefix} was revoked")
            if cached.expires_at is not None and cached.expires_at <= time.time():
                self.forget(prefix)
                raise KeyRefusedError(f"API key {prefix} has expired")
            return cached.principal
        until = self.blocked.get(address)
        if until is not None:
            wait = until - time.monotonic()
            if wait > 0:
                raise RateLimitedError(f"too many failed API keys from {address}",
                                       math.ceil(wait))
            del self.blocked[address]
        try:
            entry = await self._verify(key, prefix)
        except KeyRefusedError:
            await self._count_failure(address)
            raise
        if len(self.keys) >= KEY_CACHE_SIZE:
            self._prune()
        self.keys[fingerprint] = entry
        return entry.principal

    async def _rate_limit(self, prefix: str) -> None:
        rate = self.bridge.settings.ingest_rate_per_second
        limit, window = (round(rate), 1) if rate >= 1 else (1, math.ceil(1 / rate))
        wait = await self.bridge.redis.hit(f"ingest:{prefix}", limit, window)
        if wait is not None:
            raise RateLimitedError(f"rate limit of {rate:g} batches per second reached for "
                                   f"API key {prefix}", wait)

    async def _revoked_marker(self, prefix: str) -> bool:
        redis = self.bridge.redis
        try:
            found = await redis.client.exists(redis.key("apikey", "revoked", prefix))
        except (RedisError, OSError) as exc:
            redis.failed(exc, "api key revocation check")
            return False  # the cache window bounds how long a revoked key lives on
        redis.succeeded()
        return bool(found)

    async def _count_failure(self, address: str) -> None:
        limit = self.bridge.settings.login_rate_limit_per_minute
        wait = await self.bridge.redis.hit(f"ingest-fail:{address}", limit, 60)
        if wait is not None:
            # Held in memory so that further guesses from there cost no argon2 at all.
            self.blocked[address] = time.monotonic() + wait

    async def _verify(self, key: str, prefix: str) -> _CachedKey:
        async with system(self.bridge.engine) as conn:
            row = await accounts.api_key_row(conn, prefix)
        if row is None:
            raise KeyRefusedError(f"API key {prefix} is unknown")
        # argon2 is deliberately slow: off the event loop, and holding no connection.
        if not await asyncio.to_thread(self.bridge.passwords.verify, row.key_hash, key):
            raise KeyRefusedError(f"API key {prefix} is wrong")
        # Only the key's holder learns that it was revoked or has expired.
        now = datetime.now(UTC)
        if row.revoked_at is not None:
            raise KeyRefusedError(f"API key {prefix} was revoked at "
                                  f"{row.revoked_at.isoformat(timespec='seconds')}")
        if row.expires_at is not None and row.expires_at <= now:
            raise KeyRefusedError(f"API key {prefix} expired at "
                                  f"{row.expires_at.isoformat(timespec='seconds')}")
        if not row.vehicle_id:
            raise KeyRefusedError(f"API key {prefix} is not a vehicle's key")
        async with system(self.bridge.engine) as conn:
            await conn.execute(update(ApiKey).where(ApiKey.id == row.id)
                               .values(last_used_at=now))
        principal = Principal(user_id=0, username=f"api key {prefix}", grants=(),
                              api_key_id=int(row.id), vehicle_id=row.vehicle_id,
                              extra={"site_id": row.site_id, "prefix": prefix})
        return _CachedKey(principal, prefix,
                          row.expires_at.timestamp() if row.expires_at else None,
                          time.monotonic())

    def _prune(self) -> None:
        now = time.monotonic()
        for fingerprint, entry in list(self.keys.items()):
            if now - entry.verified_at >= KEY_CACHE_S:
                del self.keys[fingerprint]
        if len(self.keys) >= KEY_CACHE_SIZE:  # all fresh: start over rather than grow
            self.keys.clear()
        for address, until in list(self.blocked.items()):
            if until <= now:
                del self.blocked[address]

    def forget(self, prefix: str) -> None:
        """Drop a key from this instance's cache (revoked)."""
        for fingerprint, entry in list(self.keys.items()):
            if entry.prefix == prefix:
                del self.keys[fingerprint]

    def should_audit_limit(self, prefix: str) -> bool:
        """Return whether a 429 of this key is audited (at most once a minute per key)."""
        now = time.monotonic()
        if now - self.audited_limits.get(prefix, -math.inf) < 60.0:
            return False
        if len(self.audited_limits) > KEY_CACHE_SIZE:
            self.audited_limits.clear()
        self.audited_limits[prefix] = now
        return True

    # ---------------------------------------------------------------- samples
    async def ingest(self, principal: Principal, raw: Sequence[object]) -> IngestResult:
        """Check a batch, publish its good samples, and return what became of each."""
        if len(raw) > MAX_BATCH:
            raise BatchTooLargeError(f"batch of {len(raw)} samples is over the limit of "
                                     f"{MAX_BATCH}; split it")
        ros = self.bridge.ros
        if ros is None or not ros.ok():
            raise GraphUnavailableError("this bridge has no ROS graph: samples cannot be "
                                        "published")
        vehicle = principal.vehicle_id
        assert vehicle is not None  # only vehicle keys authenticate
        # Shielded: a client that hangs up mid-batch must not leave samples published but
        # their stamps unrecorded (a retry would publish them twice).
        return await asyncio.shield(self._ingest(vehicle, raw))

    async def _ingest(self, vehicle: str, raw: Sequence[object]) -> IngestResult:
        lock = self.locks.setdefault(vehicle, asyncio.Lock())
        async with lock:
            last = max((s for s in (self.last_stamps.get(vehicle),
                                    await self._shared_last(vehicle)) if s is not None),
                       default=None)
            checked = check_batch(raw, vehicle, last, time.time())
            published, failure = await self._publish(vehicle, checked.accepted)
            rejected = list(checked.rejected)
            if failure is not None:
                rejected.extend(Rejection(i, f"not published: {failure}")
                                for i, _ in checked.accepted[published:])
                rejected.sort(key=lambda r: r.index)
            newest = checked.accepted[published - 1][1].stamp if published else last
            if published:
                self.last_stamps[vehicle] = checked.accepted[published - 1][1].stamp
                await self._share_last(vehicle, self.last_stamps[vehicle])
        metrics = self.bridge.metrics.ingest_samples
        if published:
            metrics.labels("accepted").inc(published)
        if rejected:
            metrics.labels("rejected").inc(len(rejected))
        return IngestResult(published, rejected, newest)

    async def _publish(self, vehicle: str, samples: list[tuple[int, SampleIn]]
                       ) -> tuple[int, str | None]:
        """Publish in order; return how many went out and why the rest did not (or None)."""
        if not samples:
            return 0, None
        done = 0

        def run() -> None:
            nonlocal done
            pubs = self.publishers.get(vehicle)
            if pubs is None:
                pubs = self.publishers[vehicle] = VehiclePublishers(self.bridge.ros.node,
                                                                    vehicle)
            for _, sample in samples:
                pubs.publish(sample)
                done += 1

        try:
            # A big batch is thousands of messages: off the loop so other clients go on.
            if len(samples) > 50:
                await asyncio.to_thread(run)
            else:
                run()
        except Exception as exc:  # rclpy raises its own types when the context is gone
            log.warning("publishing %s's samples failed after %d: %s", vehicle, done, exc)
            return done, f"the ROS graph refused it ({type(exc).__name__}: {exc})"[:200]
        return done, None

    async def _shared_last(self, vehicle: str) -> float | None:
        redis = self.bridge.redis
        try:
            value = await redis.client.get(redis.key("ingest", "last", vehicle))
        except (RedisError, OSError) as exc:
            redis.failed(exc, "ingest last stamp")
            return None
        redis.succeeded()
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    async def _share_last(self, vehicle: str, stamp: float) -> None:
        redis = self.bridge.redis
        try:
            await redis.client.set(redis.key("ingest", "last", vehicle), repr(stamp),
                                   ex=int(MAX_AGE_S) * 2)
        except (RedisError, OSError) as exc:
            redis.failed(exc, "ingest last stamp")

    def close(self) -> None:
        """Drop every publisher."""
        for pubs in self.publishers.values():
            try:
                pubs.destroy()
            except Exception as exc:  # the node may already be gone at shutdown
                log.debug("destroying publishers: %s", exc)
        self.publishers.clear()


def service(bridge: Bridge) -> IngestService:
    """Return the bridge's ingest service."""
    svc = bridge.extras.get("ingest")
    if svc is None:
        svc = bridge.extras["ingest"] = IngestService(bridge)
    assert isinstance(svc, IngestService)
    return svc


async def _start(bridge: Bridge) -> None:
    service(bridge)


async def _stop(bridge: Bridge) -> None:
    svc = bridge.extras.pop("ingest", None)
    if isinstance(svc, IngestService):
        svc.close()


on_lifespan("ingest", _start, _stop)


async def audit_ingest(bridge: Bridge, *, principal: Principal | None, status_code: int,
                       method: str, address: str | None, key: str | None = None,
                       **details: Any) -> None:
    """Write one audit entry of the ingest path (the middleware does not audit it).

    Refused before a key was known, the entry names the key's prefix as its target.
    """
    result = "allowed" if status_code < 400 else "refused"
    target_type: str | None
    target_id: str | None
    if principal is not None:
        target_type, target_id = "vehicle", principal.vehicle_id
    else:
        prefix = key.partition(".")[0][:16] if key else None
        target_type, target_id = ("api_key", prefix) if prefix else (None, None)
    try:
        async with system(bridge.engine) as conn:
            await accounts.audit(
                conn, action="ingest", result=result, status_code=status_code,
                principal=principal, method=method, target_type=target_type,
                target_id=target_id,
                site_id=principal.extra.get("site_id") if principal else None,
                remote_addr=address, details=details)
    except (DBAPIError, OSError) as exc:
        # The samples are published already; a lost audit line must at least be loud.
        bridge.metrics.audit_failures += 1
        log.error("audit entry of ingest (%s) not written: %s", status_code, exc)


# --- key management -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An API key as listings show it (never its hash)."""

    id: int
    prefix: str
    name: str
    vehicle_id: str | None
    site_id: str | None
    created_by: int
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


_KEY_COLUMNS = (ApiKey.id, ApiKey.prefix, ApiKey.name, ApiKey.vehicle_id, ApiKey.site_id,
                ApiKey.user_id, ApiKey.created_at, ApiKey.expires_at, ApiKey.last_used_at,
                ApiKey.revoked_at)


def _record(row: Any) -> KeyRecord:
    return KeyRecord(int(row.id), row.prefix, row.name, row.vehicle_id, row.site_id,
                     int(row.user_id), row.created_at, row.expires_at, row.last_used_at,
                     row.revoked_at)


async def create_key(conn: AsyncConnection, hash_key: Callable[[str], str], *, user_id: int,
                     vehicle_id: str, site_id: str, name: str,
                     expires_at: datetime | None, picture_site: str | None
                     ) -> tuple[str, KeyRecord]:
    """Store a new key of ``vehicle_id`` at ``site_id``; return (the key, its record).

    Raises NotFoundError for an unknown site, RefusedError when the vehicle belongs to
    another site (in the fleet picture, ``picture_site``, or in the registry).
    """
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise InvalidInputError(f"expires_at {expires_at.isoformat()} is in the past")
    if await conn.scalar(select(Site.id).where(Site.id == site_id)) is None:
        raise NotFoundError(f"site {site_id!r} does not exist")
    registered = await conn.scalar(select(Vehicle.site_id).where(Vehicle.id == vehicle_id))
    for where, other in (("the fleet picture", picture_site), ("the registry", registered)):
        if other is not None and other != site_id:
            raise RefusedError(f"vehicle {vehicle_id!r} is at site {other!r} in {where}, "
                               f"not {site_id!r}")
    for _ in range(3):  # a prefix is 32 random bits: a clash is rare, twice is rarer still
        key, prefix = new_api_key()
        digest = await asyncio.to_thread(hash_key, key)
        try:
            async with conn.begin_nested():
                row = (await conn.execute(insert(ApiKey).values(
                    user_id=user_id, name=name, prefix=prefix, key_hash=digest,
                    expires_at=expires_at, site_id=site_id, vehicle_id=vehicle_id)
                    .returning(*_KEY_COLUMNS))).one()
        except IntegrityError:
            continue
        return key, _record(row)
    raise RefusedError("could not find a free key prefix; try again")


async def list_keys(conn: AsyncConnection, sites: frozenset[str] | None, *,
                    site_id: str | None = None, vehicle_id: str | None = None,
                    after_id: int | None = None, limit: int = 100) -> list[KeyRecord]:
    """Return keys of ``sites`` (None: every site), newest first, after ``after_id``."""
    query = select(*_KEY_COLUMNS).order_by(ApiKey.id.desc()).limit(limit)
    if sites is not None:
        query = query.where(ApiKey.site_id.in_(sorted(sites)))
    if site_id is not None:
        query = query.where(ApiKey.site_id == site_id)
    if vehicle_id is not None:
        query = query.where(ApiKey.vehicle_id == vehicle_id)
    if after_id is not None:
        query = query.where(ApiKey.id < after_id)
    return [_record(r) for r in await conn.execute(query)]


async def find_key(conn: AsyncConnection, prefix: str) -> KeyRecord | None:
    """Return the key with ``prefix``, or None."""
    row = (await conn.execute(select(*_KEY_COLUMNS).where(ApiKey.prefix == prefix))).first()
    return _record(row) if row is not None else None


async def revoke_key(conn: AsyncConnection, prefix: str) -> KeyRecord:
    """Revoke a key (a revoked key stays revoked); raise NotFoundError."""
    await conn.execute(update(ApiKey).where(ApiKey.prefix == prefix,
                                            ApiKey.revoked_at.is_(None))
                       .values(revoked_at=datetime.now(UTC)))
    record = await find_key(conn, prefix)
    if record is None:
        raise NotFoundError(f"API key {prefix} does not exist")
    return record


async def announce_revocation(bridge: Bridge, prefix: str) -> None:
    """Tell every instance (Redis marker) and this one (its cache) that a key is revoked."""
    service(bridge).forget(prefix)
    redis = bridge.redis
    try:
        # Longer than any cache entry lives: after it, every instance asks the database.
        await redis.client.set(redis.key("apikey", "revoked", prefix), "1",
                               ex=int(KEY_CACHE_S * 2))
    except (RedisError, OSError) as exc:
        redis.failed(exc, "api key revocation")


__all__ = ["MAX_BATCH", "BatchTooLargeError", "CheckedBatch", "HomeIn",
           "IngestResult", "IngestService", "KeyRecord", "KeyRefusedError", "RateLimitedError",
           "Rejection", "SampleError", "SampleIn", "announce_revocation", "audit_ingest",
           "check_batch", "create_key", "find_key", "list_keys", "parse_sample", "parse_stamp",
           "revoke_key", "service"]
