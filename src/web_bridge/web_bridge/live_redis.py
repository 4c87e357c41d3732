"""The Redis live tier: what the graph says now, shared by every bridge instance.

One instance at a time, the leader (lease ``<prefix>leader``: SET NX PX 3000, renewed every
second), writes the ROS-sourced updates, so two instances never write them twice; when it
dies a follower takes over within the lease. Every instance subscribes to the pub/sub channel
and feeds its WebSocket hub. Keys under the prefix:

- ``v:<vehicle>`` hash (json, site, status, stamp) with a TTL, so a silent vehicle expires;
- ``geo`` GEO set of live positions (GEOSEARCH answers "vehicles near a point");
- ``counts`` hash ``<site>|<status>`` → vehicles; ``progress`` hash mission → JSON;
- ``stream`` Stream of every non-coalesced update, MAXLEN ~stream_maxlen: the entry ID is the
  sequence number, and the WebSocket's resume log; ``live`` pub/sub channel (entries and,
  coalesced and throttled, vehicle states, which the stream does not log).

Redis down never raises: each instance then delivers its own ROS updates straight to its own
clients under local sequence numbers, and resumes by itself when Redis answers (re-subscribe,
full state rewritten by whoever holds the lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from fleet_core.geo import GeoPoint, haversine_m
from web_bridge.app import on_lifespan

if TYPE_CHECKING:
    from web_bridge.app import Bridge
    from web_bridge.live import FleetPicture

log = logging.getLogger(__name__)

LEASE_MS = 3000
RENEW_S = 1.0
PUBLISH_CHUNK = 250  # vehicles per pub/sub message: no single huge payload
OUTBOX_MAX = 20_000  # entries waiting for Redis; beyond, the oldest are dropped (logged)
REPLAY_PAGE = 1000
GEO_MAX_LATITUDE = 85.05112878  # what Redis GEO accepts
DOWN = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)

# XADD and PUBLISH in one step, so the message carries its stream ID (the sequence number)
# and subscribers see entries in stream order.
_APPEND = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'h', ARGV[2], 'd', ARGV[3])
redis.call('PUBLISH', KEYS[2], id .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[3])
return id
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

Source = Literal["redis", "picture"]
Sites = tuple[str | None, ...] | None  # None: every viewer (zones); () or (None,): all-site users


@dataclass(frozen=True, slots=True)
class Update:
    """One sequenced update: what it is about (for routing and site scoping), data as JSON."""

    seq: str
    kind: str  # mission, mission_removed, mission_event, event, zones, charging
    sites: Sites  # of ``vehicles`` in order when it names them (events, charging)
    vehicles: tuple[str, ...]
    mission: str | None
    data: str


@dataclass(frozen=True, slots=True)
class VehicleUpdate:
    """The newest state of one vehicle (``data`` None: it left the fleet)."""

    vehicle_id: str
    site: str | None
    data: str | None


class LiveSink(Protocol):
    """What the live tier feeds (the WebSocket hub)."""

    def deliver(self, update: Update) -> None:
        """Take one sequenced update."""

    def deliver_vehicles(self, vehicles: list[VehicleUpdate]) -> None:
        """Take a batch of vehicle states (coalesced)."""

    def mode_changed(self, mode: str) -> None:
        """Hear that delivery is now ``shared`` (through Redis) or ``local``."""


def parse_seq(seq: str) -> tuple[int, int] | None:
    """Return a stream ID as a comparable pair, None for anything else (local numbers)."""
    ms, dash, n = seq.partition("-")
    if not dash or not ms.isdigit() or not n.isdigit():
        return None
    return int(ms), int(n)


def visible(allowed: frozenset[str] | None, sites: Sites) -> bool:
    """Return whether a viewer of ``allowed`` sites (None: all) may see an object of ``sites``.

    Objects without a site are for all-site viewers only, so nothing leaks by omission.
    """
    if sites is None or allowed is None:
        return True
    return any(s is not None and s in allowed for s in sites)


def event_scope(picture: FleetPicture, event: dict[str, Any]) -> tuple[Sites, tuple[str, ...],
                                                                       str | None]:
    """Return (sites, vehicles, mission) of a coordination or mission event."""
    if event.get("kind") == "mission":
        mission_id = event.get("mission_id") or None
        mission = picture.missions.get(mission_id or "")
        vid = event.get("vehicle_id")
        site = (picture.mission_site(mission) if mission else None) or picture.vehicle_site(vid)
        return (site,), ((vid,) if vid else ()), mission_id
    vids = tuple(str(v) for v in event.get("vehicle_ids") or ())
    # One site per vehicle, in order: a vehicle/<id> channel shows only its own vehicle's.
    return tuple(picture.vehicle_site(v) for v in vids) or (None,), vids, None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _progress(picture: FleetPicture, m: dict[str, Any]) -> str:
    return _dumps({k: m.get(k) for k in (
        "state", "progress_pct", "current_waypoint", "waypoint_count", "vehicle_id",
        "distance_remaining_m", "eta_s", "updated")} | {"site_id": picture.mission_site(m)})


class LiveRedis:
    """Writes the picture into Redis (when leader), fans updates out, answers live queries."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.tier = bridge.redis
        self.picture = bridge.picture
        self.settings = bridge.settings
        self.instance = bridge.settings.instance_id
        k = self.tier.key
        self.k_leader, self.k_geo, self.k_counts = k("leader"), k("geo"), k("counts")
        self.k_progress, self.k_stream, self.channel = k("progress"), k("stream"), k("live")
        client = self.tier.client
        self._append = client.register_script(_APPEND)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self.sinks: list[LiveSink] = []
        self.online = False  # subscribed to the channel: delivery is shared
        self.leader = False
        self.last_seq = "0-0"
        self._local_n = 0
        self._full = True  # the next write rewrites the whole state
        # What changed since the last write / publish (vehicle id → state, None: removed).
        self._seen: dict[str, dict[str, Any]] = {}
        self._dirty: dict[str, dict[str, Any] | None] = {}
        self._fanout: dict[str, tuple[str | None, dict[str, Any] | None]] = {}
        self._outbox: list[tuple[list[Any], str, str]] = []
        self._missions_seen: dict[str, dict[str, Any]] = {}
        self._zones_seen: list[dict[str, Any]] | None = None
        self._counts_written: dict[str, int] = {}
        self._progress_written: dict[str, str] = {}
        self._write_wake = asyncio.Event()
        self._fanout_wake = asyncio.Event()
        self._lease_wake = asyncio.Event()
        self._last_fanout = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self.settled = asyncio.Event()  # the first subscribe and lease attempts are over

    # -- lifetime -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the subscriber, lease, writer and publisher tasks."""
        self.loop = asyncio.get_running_loop()  # tests feed the picture through it
        for name, run in (("subscribe", self._subscriber), ("lease", self._lease),
                          ("write", self._writer), ("fanout", self._publisher)):
            self._tasks.append(asyncio.create_task(self._guard(name, run),
                                                   name=f"live-{name}"))

    async def stop(self) -> None:
        """Stop the tasks and hand the lease over at once."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.leader:
            with contextlib.suppress(RedisError, *DOWN):
                await self._release(keys=[self.k_leader], args=[self.instance])
        self.leader = False

    async def _guard(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        # A bug in one loop must not silently end live delivery: log it and start over.
        while True:
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live %s loop failed; restarting it", name)
                await asyncio.sleep(1.0)

    def _lost(self, exc: BaseException, what: str) -> None:
        self.tier.failed(exc, what)
        self.leader = False
        if self.online:
            self.online = False
            log.warning("live delivery is local until Redis answers (%s)", what)
            for sink in self.sinks:
                sink.mode_changed("local")

    # -- the feed from the picture (event loop) -------------------------------------------

    def on_update(self, kind: str, payload: Any) -> None:
        """Take one update of the picture (a ``FleetPicture`` listener)."""
        try:
            if kind == "fleet":
                self._fleet()
            elif kind == "missions":
                self._missions()
            elif kind == "zones":
                zones = list(payload)
                if zones != self._zones_seen:
                    self._zones_seen = zones
                    self._emit("zones", None, (), None, zones)
            elif kind in ("event", "mission_event"):
                sites, vids, mission = event_scope(self.picture, payload)
                self._emit("mission_event" if kind == "mission_event" else "event", sites,
                           vids, mission, payload)
            elif kind == "charging_session":
                vid = payload.get("vehicle_id")
                self._emit("charging", (self.picture.vehicle_site(vid),),
                           (vid,) if vid else (), None, payload)
        except Exception:
            log.exception("live tier dropped a %s update", kind)

    def _fleet(self) -> None:
        vehicles = self.picture.vehicles
        for vid, v in vehicles.items():
            if self._seen.get(vid) != v:
                self._dirty[vid] = v
                self._fanout[vid] = (v.get("site_id"), v)
        for vid, old in self._seen.items():
            if vid not in vehicles:
                self._dirty[vid] = None
                self._fanout[vid] = (old.get("site_id"), None)
        self._seen = dict(vehicles)
        self._write_wake.set()
        self._fanout_wake.set()

    def _missions(self) -> None:
        missions = self.picture.missions
        for mid, m in missions.items():
            if self._missions_seen.get(mid) != m:
                self._emit("mission", (self.picture.mission_site(m),), (), mid, m)
        for mid, old in self._missions_seen.items():
            if mid not in missions:
                self._emit("mission_removed", (self.picture.mission_site(old),), (), mid,
                           {"mission_id": mid, "removed": True})
        self._missions_seen = dict(missions)
        self._write_wake.set()

    def _emit(self, kind: str, sites: Sites, vehicles: tuple[str, ...], mission: str | None,
              data: Any) -> None:
        header = [kind, None if sites is None else list(sites), list(vehicles), mission]
        if not self.online:
            self._local(header, _dumps(data))
        elif self.leader:
            if len(self._outbox) >= OUTBOX_MAX:
                del self._outbox[0]
                log.warning("live outbox full: the oldest update was dropped")
            self._outbox.append((header, _dumps(header), _dumps(data)))
            self._write_wake.set()
        # An online follower: the leader writes this one.

    def _local(self, header: list[Any], data: str) -> None:
        self._local_n += 1
        self.last_seq = f"L{self._local_n}@{self.instance}"
        update = Update(self.last_seq, header[0],
                        None if header[1] is None else tuple(header[1]), tuple(header[2]),
                        header[3], data)
        for sink in self.sinks:
            sink.deliver(update)

    # -- what comes back from Redis --------------------------------------------------------

    def _received(self, raw: str) -> None:
        seq, _, rest = raw.partition("\n")
        header, _, data = rest.partition("\n")
        if header == "V":
            batch = []
            for line in data.split("\n"):
                vid, site, body = line.split("\t", 2)
                batch.append(VehicleUpdate(vid, site or None, body or None))
            for sink in self.sinks:
                sink.deliver_vehicles(batch)
            return
        kind, sites, vids, mission = json.loads(header)
        self.last_seq = seq
        update = Update(seq, kind, None if sites is None else tuple(sites), tuple(vids),
                        mission, data)
        for sink in self.sinks:
            sink.deliver(update)

    async def _subscriber(self) -> None:
        backoff = 0.2
        while True:
            pubsub: Any = self.tier.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                last = await self.tier.client.xrevrange(self.k_stream, count=1)
                self.last_seq = str(last[0][0]) if last else "0-0"
                self._came_back()
                backoff = 0.2
                while self.online:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        try:
                            self._received(message["data"])
                        except (ValueError, TypeError):
                            log.warning("ignored a malformed live message: %.80r",
                                        message["data"])
            except DOWN as exc:
                self._lost(exc, "live subscription")
            except RedisError as exc:
                self._lost(exc, "live subscription")
            finally:
                with contextlib.suppress(RedisError, *DOWN):
                    await pubsub.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    def _came_back(self) -> None:
        self.tier.succeeded()
        self.online = True
        self._full = True
        self._lease_wake.set()
        log.info("live delivery is shared through Redis (instance %s)", self.instance)
        for sink in self.sinks:
            sink.mode_changed("shared")

    async def _lease(self) -> None:
        client = self.tier.client
        while True:
            if self.online:
                try:
                    held = bool(await client.set(self.k_leader, self.instance, nx=True,
                                                 px=LEASE_MS))
                    if not held:
                        held = bool(await self._renew(keys=[self.k_leader],
                                                      args=[self.instance, LEASE_MS]))
                except DOWN as exc:
                    self._lost(exc, "leader lease")
                    held = False
                if held and not self.leader:
                    log.info("instance %s leads the live tier", self.instance)
                    self._full = True
                    self._write_wake.set()
                    self._fanout_wake.set()
                self.leader = held
            if self.online or self.tier.errors:
                self.settled.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lease_wake.wait(), RENEW_S)
            self._lease_wake.clear()

    # -- writing ---------------------------------------------------------------------------

    async def _writer(self) -> None:
        while True:
            await self._write_wake.wait()
            self._write_wake.clear()
            if not (self.online and self.leader):
                self._dirty.clear()
                continue
            full, dirty, outbox = self._full, self._dirty, self._outbox
            self._dirty, self._outbox = {}, []
            try:
                # The full rewrite is one transaction: readers never see it half done.
                async with self.tier.client.pipeline(transaction=full) as pipe:
                    if full:
                        pipe.delete(self.k_geo, self.k_counts, self.k_progress)
                        self._counts_written, self._progress_written = {}, {}
                        dirty = dict(self.picture.vehicles)
                    self._write_vehicles(pipe, dirty)
                    self._write_counts(pipe)
                    self._write_progress(pipe)
                    for _, header, data in outbox:
                        await self._append(keys=[self.k_stream, self.channel],
                                           args=[self.settings.stream_maxlen, header, data],
                                           client=pipe)
                    await pipe.execute()
                self._full = False
            except DOWN as exc:
                self._lost(exc, "live write")
                self._full = True
                for parts, _, data in outbox:
                    self._local(parts, data)
            except RedisError:
                log.exception("live write refused by Redis")
                self._full = True

    def _write_vehicles(self, pipe: Any, vehicles: dict[str, dict[str, Any] | None]) -> None:
        ttl = self.settings.state_ttl_s
        positions: list[Any] = []
        gone: list[str] = []
        for vid, v in vehicles.items():
            key = self.tier.key("v", vid)
            if v is None:
                pipe.delete(key)
                gone.append(vid)
                continue
            pipe.hset(key, mapping={"json": _dumps(v), "site": v.get("site_id") or "",
                                    "status": v.get("status") or "",
                                    "stamp": v.get("stamp") or ""})
            pipe.expire(key, ttl)
            pos = v.get("position")
            if pos and abs(pos["latitude"]) <= GEO_MAX_LATITUDE:
                positions += [pos["longitude"], pos["latitude"], vid]
            else:
                gone.append(vid)
        if positions:
            pipe.geoadd(self.k_geo, positions)
        if gone:
            pipe.zrem(self.k_geo, *gone)

    def _write_counts(self, pipe: Any) -> None:
        counts = Counter(f"{v.get('site_id') or ''}|{v.get('status')}"
                         for v in self.picture.vehicles.values())
        changed = {k: n for k, n in counts.items() if self._counts_written.get(k) != n}
        stale = [k for k in self._counts_written if k not in counts]
        if changed:
            pipe.hset(self.k_counts, mapping=changed)
        if stale:
            pipe.hdel(self.k_counts, *stale)
        self._counts_written = dict(counts)

    def _write_progress(self, pipe: Any) -> None:
        now = {mid: _progress(self.picture, m) for mid, m in self.picture.missions.items()}
        changed = {k: v for k, v in now.items() if self._progress_written.get(k) != v}
        stale = [k for k in self._progress_written if k not in now]
        if changed:
            pipe.hset(self.k_progress, mapping=changed)
        if stale:
            pipe.hdel(self.k_progress, *stale)
        self._progress_written = now

    async def _publisher(self) -> None:
        period = 1.0 / self.settings.ws_fleet_rate_hz
        while True:
            await self._fanout_wake.wait()
            self._fanout_wake.clear()
            wait = self._last_fanout + period - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_fanout = time.monotonic()
            pending, self._fanout = self._fanout, {}
            if not pending:
                continue
            batch = [VehicleUpdate(vid, site, None if v is None else _dumps(v))
                     for vid, (site, v) in pending.items()]
            if self.online and self.leader:
                try:
                    async with self.tier.client.pipeline(transaction=False) as pipe:
                        for i in range(0, len(batch), PUBLISH_CHUNK):
                            lines = "\n".join(f"{u.vehicle_id}\t{u.site or ''}\t{u.data or ''}"
                                              for u in batch[i:i + PUBLISH_CHUNK])
                            pipe.publish(self.channel, f"-\nV\n{lines}")
                        await pipe.execute()
                    continue
                except DOWN as exc:
                    self._lost(exc, "live publish")
            if not self.online:
                for sink in self.sinks:
                    sink.deliver_vehicles(batch)

    # -- reading ---------------------------------------------------------------------------

    async def replay(self, since: str, keep: Callable[[Update], bool],
                     limit: int) -> list[Update] | None:
        """Return the updates after ``since`` that ``keep`` wants, oldest first.

        None when they cannot all be given: ``since`` is not in the stream (trimmed, from
        another Redis, a local number), more than ``limit`` match, or Redis is down.
        """
        if not self.online or parse_seq(since) is None:
            return None
        client: Any = self.tier.client
        out: list[Update] = []
        try:
            if not await client.xrange(self.k_stream, min=since, max=since, count=1):
                return None
            start = f"({since}"
            while True:
                page = await client.xrange(self.k_stream, min=start, max="+",
                                           count=REPLAY_PAGE)
                for seq, fields in page:
                    kind, sites, vids, mission = json.loads(fields["h"])
                    u = Update(seq, kind, None if sites is None else tuple(sites),
                               tuple(vids), mission, fields["d"])
                    if keep(u):
                        out.append(u)
                        if len(out) > limit:
                            return None
                if len(page) < REPLAY_PAGE:
                    return out
                start = f"({page[-1][0]}"
        except DOWN as exc:
            self._lost(exc, "replay")
            return None
        except (RedisError, ValueError, KeyError):
            log.exception("replay from %s failed", since)
            return None

    async def near(self, latitude: float, longitude: float, radius_m: float, limit: int,
                   allowed: frozenset[str] | None) -> tuple[Source, list[dict[str, Any]]]:
        """Return (source, vehicles with ``distance_m``) nearest first, within ``radius_m``."""
        if self.tier.healthy and abs(latitude) <= GEO_MAX_LATITUDE:
            try:
                return "redis", await self._near_redis(latitude, longitude, radius_m, limit,
                                                        allowed)
            except DOWN as exc:
                self._lost(exc, "near query")
            except RedisError:
                log.exception("GEOSEARCH failed; answering from the picture")
        found = []
        centre = GeoPoint(latitude, longitude, 0.0)
        for v in self.picture.vehicles.values():
            pos = v.get("position")
            if not pos or not visible(allowed, (v.get("site_id"),)):
                continue
            d = haversine_m(centre, GeoPoint(pos["latitude"], pos["longitude"], 0.0))
            if d <= radius_m:
                found.append(v | {"distance_m": round(d, 2)})
        found.sort(key=lambda v: v["distance_m"])
        return "picture", found[:limit]

    async def _near_redis(self, latitude: float, longitude: float, radius_m: float,
                          limit: int, allowed: frozenset[str] | None) -> list[dict[str, Any]]:
        client: Any = self.tier.client
        hits = await client.geosearch(self.k_geo, longitude=longitude, latitude=latitude,
                                      radius=radius_m, unit="m", sort="ASC", withdist=True)
        if not hits:
            return []
        async with client.pipeline(transaction=False) as pipe:
            for vid, _ in hits:
                pipe.hmget(self.tier.key("v", vid), "json", "site")
            states = await pipe.execute()
        self.tier.succeeded()
        out = []
        for (_, dist), (body, site) in zip(hits, states, strict=True):
            # A vehicle whose state expired is silent: its stale position is not "near".
            if body is None or not visible(allowed, (site or None,)):
                continue
            out.append(json.loads(body) | {"distance_m": round(float(dist), 2)})
            if len(out) >= limit:
                break
        return out

    async def counts(self) -> tuple[Source, dict[tuple[str | None, str], int]]:
        """Return (source, vehicles by (site, status))."""
        if self.tier.healthy:
            try:
                client: Any = self.tier.client
                raw = await client.hgetall(self.k_counts)
                self.tier.succeeded()
                out: dict[tuple[str | None, str], int] = {}
                for key, n in raw.items():
                    site, _, status = key.rpartition("|")
                    out[(site or None, status)] = int(n)
                return "redis", out
            except DOWN as exc:
                self._lost(exc, "counts")
            except (RedisError, ValueError):
                log.exception("reading the counters failed; answering from the picture")
        c = Counter((v.get("site_id"), str(v.get("status")))
                    for v in self.picture.vehicles.values())
        return "picture", dict(c)


def live_of(bridge: Bridge) -> LiveRedis:
    """Return the bridge's live tier."""
    live: LiveRedis = bridge.extras["live"]
    return live


async def _start(bridge: Bridge) -> None:
    live = LiveRedis(bridge)
    bridge.extras["live"] = live
    bridge.picture.listen(live.on_update)
    live.start()
    # Serve once this instance knows whether it leads, so that the first updates of a
    # single instance are not lost to an empty lease; a Redis that is down delays nothing.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(live.settled.wait(), 3.0)


async def _stop(bridge: Bridge) -> None:
    live = bridge.extras.get("live")
    if live is not None:
        await live.stop()


on_lifespan("live_redis", _start, _stop)

__all__ = ["LiveRedis", "LiveSink", "Update", "VehicleUpdate", "event_scope", "live_of",
           "parse_seq", "visible"]
