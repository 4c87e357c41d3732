"""The WebSocket hub: authenticated sessions, channel subscriptions, per-client back-pressure.

Each client has one sender task and bounded queues: control messages (hello, snapshots,
answers; bounded in bytes), events (a FIFO of ``ws_event_queue`` that drops the oldest and
says how many in a ``status`` message) and vehicle states (coalesced: the newest per
vehicle). A send blocked past ``ws_stuck_timeout_s`` closes the client with 1013, so a slow or
silent client never delays another nor grows memory. Every channel is filtered by the sites
the user may see. The protocol is described in ``routes/ws.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from web_bridge.app import on_lifespan
from web_bridge.live_redis import (
    DOWN,
    LiveRedis,
    Update,
    VehicleUpdate,
    event_scope,
    live_of,
    parse_seq,
    visible,
)
from web_bridge.security import Principal, TokenError, read_token

if TYPE_CHECKING:
    from web_bridge.app import Bridge

log = logging.getLogger(__name__)

PROTOCOL = 1
AUTH_TIMEOUT_S = 5.0
MAX_MESSAGE_CHARS = 65_536
MAX_SUBSCRIPTIONS = 256
CONTROL_MAX_BYTES = 8_000_000  # unread snapshots and answers of one client
VEHICLES_PER_MESSAGE = 500
SNAPSHOT_EVENTS = 100
CLOSE_GRACE_S = 30.0
CHANNEL = re.compile(r"^(fleet|missions|events|zones|charging"
                     r"|vehicle/[A-Za-z][A-Za-z0-9_]{0,63}|mission/[^\s]{1,128})$")
CHANNELS_HELP = "fleet, vehicle/<id>, missions, mission/<id>, events, zones, charging"
LOGGED = ("missions", "mission/", "events", "zones", "charging")  # resumable from the stream
CAPABILITIES = ["snapshot", "resume", "coalesced-vehicles", "reauth", "ping"]


class SessionCloseError(Exception):
    """End the session with a WebSocket close code and a reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _channel(value: str) -> str:
    if not CHANNEL.match(value):
        raise ValueError(f"unknown channel {value[:60]!r} (channels: {CHANNELS_HELP})")
    return value


class AuthMessage(BaseModel):
    """``{"type": "auth", "token": <access token>}``: authenticate, or re-authenticate."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["auth"]
    token: str = Field(min_length=10, max_length=8192)


class SubscribeMessage(BaseModel):
    """``{"type": "subscribe", "channel": ..., "since": <last seq>?}``."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["subscribe"]
    channel: str = Field(max_length=200)
    since: str | None = Field(None, max_length=64)

    _check = field_validator("channel")(_channel)


class UnsubscribeMessage(BaseModel):
    """``{"type": "unsubscribe", "channel": ...}``."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["unsubscribe"]
    channel: str = Field(max_length=200)

    _check = field_validator("channel")(_channel)


class PingMessage(BaseModel):
    """``{"type": "ping", "id": ...}``: answered with a ``pong`` carrying the server time."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["ping"]
    id: str | int | None = Field(None)


ClientMessage = Annotated[AuthMessage | SubscribeMessage | UnsubscribeMessage | PingMessage,
                          Field(discriminator="type")]
_messages: TypeAdapter[Any] = TypeAdapter(ClientMessage)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _reason(text: str) -> str:
    # A close reason must fit in 123 bytes of UTF-8.
    raw = text.encode()[:123]
    return raw.decode(errors="ignore")


def parse_message(text: str) -> Any:
    """Return the client message in ``text``; raise SessionCloseError(1008) naming the fault."""
    if len(text) > MAX_MESSAGE_CHARS:
        raise SessionCloseError(1008, f"message of {len(text)} characters is over "
                                      f"{MAX_MESSAGE_CHARS}")
    try:
        raw = json.loads(text)
    except ValueError:
        raise SessionCloseError(1008, "message is not JSON") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise SessionCloseError(1008, "message must be a JSON object with a \"type\"")
    if raw["type"] not in ("auth", "subscribe", "unsubscribe", "ping"):
        raise SessionCloseError(1008, f"unknown message type {raw['type'][:40]!r} "
                            "(auth, subscribe, unsubscribe, ping)")
    try:
        return _messages.validate_python(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"][1:]) or "message"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise SessionCloseError(1008, f"{raw['type']}: {where}: {msg}") from None


@dataclass
class Subscription:
    """One channel a client follows; while it replays the stream, live updates wait here."""

    channel: str
    replaying: bool = False
    held: list[Update] = field(default_factory=list)
    overflow: bool = False


class Session:
    """One connected client: who, what it follows, and what waits to be sent to it."""

    def __init__(self, hub: Hub, ws: WebSocket, principal: Principal, expires_at: float,
                 session_id: str) -> None:
        self.hub = hub
        self.ws = ws
        self.principal = principal
        self.allowed = principal.sites()
        self.expires_at = expires_at
        self.session_id = session_id
        self.subs: dict[str, Subscription] = {}
        self.control: deque[str] = deque()
        self.control_bytes = 0
        self.events: deque[str] = deque()
        self.vehicles: dict[str, dict[str, str | None]] = {}  # channel → vehicle → JSON
        self.dropped = 0  # since the last status message
        self.dropped_total = 0
        self.wake = asyncio.Event()
        self.close: SessionCloseError | None = None
        self._vehicles_turn = False

    def reauthenticated(self, principal: Principal, expires_at: float) -> None:
        """Take a fresh principal (its grants may have changed)."""
        self.principal = principal
        self.allowed = principal.sites()
        self.expires_at = expires_at

    # -- queues ----------------------------------------------------------------------------

    def send_control(self, message: dict[str, Any] | str) -> None:
        """Queue a control message (ahead of updates); close 1013 past the byte bound."""
        text = message if isinstance(message, str) else _dumps(message)
        if self.control_bytes + len(text) > CONTROL_MAX_BYTES:
            self.stop(1013, "too many unread snapshots and answers")
            return
        self.control.append(text)
        self.control_bytes += len(text)
        self.wake.set()

    def send_event(self, text: str) -> None:
        """Queue an update; past the bound the oldest is dropped and counted."""
        if len(self.events) >= self.hub.event_queue:
            self.events.popleft()
            self.dropped += 1
            self.dropped_total += 1
            self.hub.metrics.ws_dropped.labels("event").inc()
        self.events.append(text)
        self.wake.set()

    def set_vehicle(self, channel: str, vehicle_id: str, data: str | None) -> None:
        """Keep the newest state of a vehicle for a channel (coalescing)."""
        self.vehicles.setdefault(channel, {})[vehicle_id] = data
        self.wake.set()

    def stop(self, code: int, reason: str) -> None:
        """Ask the session to end with ``code``."""
        if self.close is None:
            self.close = SessionCloseError(code, reason)
        self.wake.set()

    def next_message(self) -> str | None:
        """Return the next text to send: control first, then events and vehicle states."""
        if self.control:
            text = self.control.popleft()
            self.control_bytes -= len(text)
            return text
        if self.dropped:
            n, self.dropped = self.dropped, 0
            return _dumps({"type": "status", "dropped": n, "dropped_total": self.dropped_total,
                           "detail": f"{n} updates were dropped: this client reads too slowly "
                                     "(subscribe again for a fresh snapshot)"})
        # Alternate, so a flood of events does not starve the vehicles, nor the reverse.
        self._vehicles_turn = not self._vehicles_turn
        if self._vehicles_turn and self.vehicles:
            return self._vehicle_message()
        if self.events:
            return self.events.popleft()
        if self.vehicles:
            return self._vehicle_message()
        return None

    def _vehicle_message(self) -> str:
        channel = next(iter(self.vehicles))
        pending = self.vehicles[channel]
        parts: list[str] = []
        while pending and len(parts) < VEHICLES_PER_MESSAGE:
            vid, data = pending.popitem()
            parts.append(data if data is not None else
                         _dumps({"vehicle_id": vid, "removed": True}))
        if not pending:
            del self.vehicles[channel]
        return (f'{{"type":"update","channel":{_dumps(channel)},"kind":"vehicles",'
                f'"seq":{_dumps(self.hub.live.last_seq)},"data":[{",".join(parts)}]}}')

    # -- routing ---------------------------------------------------------------------------

    def channels_of(self, u: Update) -> list[str]:
        """Return the channels of this client that ``u`` belongs to (none if not visible)."""
        if not self.subs or not visible(self.allowed, u.sites):
            return []
        names: list[str] = []
        if u.kind in ("mission", "mission_removed"):
            names.append("missions")
        elif u.kind in ("mission_event", "event"):
            names.append("events")
        elif u.kind == "zones":
            names.append("zones")
        elif u.kind == "charging":
            names.append("charging")
        if u.mission and u.kind != "event":
            names.append(f"mission/{u.mission}")
        if u.kind in ("event", "charging") and u.sites is not None:
            names.extend(f"vehicle/{v}" for v, site in zip(u.vehicles, u.sites, strict=False)
                         if visible(self.allowed, (site,)))
        return [n for n in names if n in self.subs]

    def take(self, u: Update, only: str | None = None) -> None:
        """Queue ``u`` on each matching channel (``only``: just that one)."""
        for name in self.channels_of(u):
            if only is not None and name != only:
                continue
            sub = self.subs[name]
            if sub.replaying:
                if len(sub.held) >= self.hub.event_queue:
                    sub.overflow = True
                else:
                    sub.held.append(u)
                continue
            self.send_event(update_text(name, u))


def update_text(channel: str, u: Update) -> str:
    """Return the ``update`` message of ``u`` on ``channel`` (data is already JSON)."""
    return (f'{{"type":"update","channel":{_dumps(channel)},"kind":"{u.kind}",'
            f'"seq":{_dumps(u.seq)},"data":{u.data}}}')


class Hub:
    """Every WebSocket session of this instance, fed by the live tier."""

    def __init__(self, bridge: Bridge, live: LiveRedis) -> None:
        self.bridge = bridge
        self.live = live
        self.settings = bridge.settings
        self.metrics = bridge.metrics
        self.event_queue = bridge.settings.ws_event_queue
        self.sessions: set[Session] = set()

    # -- the feed ---------------------------------------------------------------------------

    def deliver(self, update: Update) -> None:
        """Route one sequenced update to the sessions that follow it and may see it."""
        for s in self.sessions:
            s.take(update)

    def deliver_vehicles(self, vehicles: list[VehicleUpdate]) -> None:
        """Route vehicle states to ``fleet`` and ``vehicle/<id>`` followers (coalesced)."""
        for s in self.sessions:
            fleet = "fleet" in s.subs
            if not fleet and len(s.subs) == 0:
                continue
            for v in vehicles:
                if not visible(s.allowed, (v.site,)):
                    continue
                if fleet:
                    s.set_vehicle("fleet", v.vehicle_id, v.data)
                one = f"vehicle/{v.vehicle_id}"
                if one in s.subs:
                    s.set_vehicle(one, v.vehicle_id, v.data)

    def mode_changed(self, mode: str) -> None:
        """Tell every client whether delivery is shared through Redis or local."""
        text = _dumps({"type": "status", "mode": mode, "seq": self.live.last_seq,
                       "detail": "updates come from every instance through Redis"
                       if mode == "shared" else "Redis is unavailable: updates come from this "
                       "instance only and cannot be resumed after a reconnect"})
        for s in self.sessions:
            s.send_control(text)

    # -- snapshots -------------------------------------------------------------------------

    def snapshot(self, s: Session, channel: str) -> Any:
        """Return what ``channel`` shows now to ``s`` (from the in-memory picture)."""
        pic = self.bridge.picture
        allowed = s.allowed
        if channel == "fleet":
            return [v for v in pic.vehicles.values() if visible(allowed, (v.get("site_id"),))]
        if channel.startswith("vehicle/"):
            v = pic.vehicles.get(channel.removeprefix("vehicle/"))
            return v if v is not None and visible(allowed, (v.get("site_id"),)) else None
        if channel == "missions":
            return [m for m in pic.missions.values()
                    if visible(allowed, (pic.mission_site(m),))]
        if channel.startswith("mission/"):
            m = pic.missions.get(channel.removeprefix("mission/"))
            return m if m is not None and visible(allowed, (pic.mission_site(m),)) else None
        if channel == "events":
            seen = [e for e in pic.events if visible(allowed, event_scope(pic, e)[0])]
            return seen[-SNAPSHOT_EVENTS:]
        if channel == "zones":
            return pic.zones
        return [c for c in pic.charging.values()
                if visible(allowed, (pic.vehicle_site(c.get("vehicle_id")),))]

    def _send_snapshot(self, s: Session, channel: str, **extra: Any) -> None:
        s.vehicles.pop(channel, None)  # the snapshot supersedes pending states
        s.send_control({"type": "snapshot", "channel": channel, "seq": self.live.last_seq,
                        **extra, "data": self.snapshot(s, channel)})

    async def subscribe(self, s: Session, channel: str, since: str | None) -> None:
        """Follow ``channel``: a snapshot, or the missed updates after ``since``."""
        if channel not in s.subs and len(s.subs) >= MAX_SUBSCRIPTIONS:
            raise SessionCloseError(1008, f"more than {MAX_SUBSCRIPTIONS} subscriptions")
        logged = channel.startswith(LOGGED)
        if since is None or not logged or parse_seq(since) is None or not self.live.online:
            s.subs[channel] = Subscription(channel)
            self._send_snapshot(s, channel, **({"resumed": False} if since else {}))
            return
        sub = Subscription(channel, replaying=True)
        s.subs[channel] = sub
        missed = await self.live.replay(
            since, lambda u: channel in s.channels_of(u), self.event_queue)
        if s.subs.get(channel) is not sub:
            return  # unsubscribed meanwhile
        sub.replaying = False
        if missed is None or sub.overflow:
            self._send_snapshot(s, channel, resumed=False)
        else:
            last = parse_seq(missed[-1].seq) if missed else parse_seq(since)
            later = [u for u in sub.held if (q := parse_seq(u.seq)) is not None
                     and last is not None and q > last]
            s.send_control({"type": "resumed", "channel": channel, "since": since,
                            "missed": len(missed)})
            for u in [*missed, *later]:
                s.take(u, only=channel)
        sub.held = []

    # -- sessions --------------------------------------------------------------------------

    async def _principal(self, token: str, kind: str) -> Principal:
        bridge = self.bridge
        try:
            principal = read_token(bridge.settings.jwt_secret.get_secret_value(), token, kind)
        except TokenError as exc:
            raise SessionCloseError(1008, str(exc)) from None
        if await bridge.redis.token_revoked(principal.token_id, principal.user_id,
                                            principal.issued_at):
            raise SessionCloseError(1008, "token was revoked (logged out, or the account changed)")
        if not principal.grants:
            raise SessionCloseError(1008, "this account has no role at any site")
        return principal

    async def _from_ticket(self, ticket: str) -> tuple[Principal, float]:
        principal = await self._principal(ticket, "ws")
        # One connection per ticket: a ticket seen in a log or a proxy cannot be replayed.
        try:
            first = await self.bridge.redis.client.set(
                self.bridge.redis.key("ws_ticket", principal.token_id), "1", nx=True,
                ex=int(self.settings.ws_ticket_ttl_s) + 1)
        except (RedisError, *DOWN) as exc:
            self.bridge.redis.failed(exc, "ws ticket")
            first = True
        if not first:
            raise SessionCloseError(1008, "ticket was already used")
        # A ticket stands for the access token it was bought with: it lasts as long as one.
        return principal, principal.issued_at + self.settings.access_token_ttl_s

    async def serve(self, ws: WebSocket) -> None:
        """Run one WebSocket session until it closes."""
        await ws.accept()
        session_id = secrets.token_hex(8)
        ticket = ws.query_params.get("ticket")
        try:
            auth = await self._from_ticket(ticket) if ticket else None
            await ws.send_text(_dumps({
                "type": "hello", "protocol": PROTOCOL, "session": session_id,
                "instance": self.settings.instance_id, "capabilities": CAPABILITIES,
                "channels": CHANNELS_HELP.split(", "), "seq": self.live.last_seq,
                "mode": "shared" if self.live.online else "local",
                "authenticated": auth is not None,
                **({"user": auth[0].username, "expires_at": auth[1]} if auth else {})}))
            if auth is None:
                auth = await self._first_auth(ws)
                await ws.send_text(_dumps({"type": "auth_ok", "user": auth[0].username,
                                           "expires_at": auth[1]}))
        except SessionCloseError as closing:
            await _close(ws, closing.code, closing.reason, 2.0)
            return
        except (WebSocketDisconnect, OSError, RuntimeError):
            return
        await self._run(Session(self, ws, auth[0], auth[1], session_id))

    async def _first_auth(self, ws: WebSocket) -> tuple[Principal, float]:
        try:
            message = await asyncio.wait_for(ws.receive(), AUTH_TIMEOUT_S)
        except TimeoutError:
            raise SessionCloseError(1008, f"no auth message within {AUTH_TIMEOUT_S:g} s") from None
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text")
        if text is None:
            raise SessionCloseError(1008, "binary messages are not understood")
        parsed = parse_message(text)
        if not isinstance(parsed, AuthMessage):
            raise SessionCloseError(1008, "authenticate first: {\"type\":\"auth\",\"token\":...} "
                                "or ?ticket=")
        principal = await self._principal(parsed.token, "access")
        return principal, principal.expires_at

    async def _run(self, s: Session) -> None:
        self.sessions.add(s)
        self.metrics.ws_clients.inc()
        receiver = asyncio.create_task(self._receive_loop(s))
        sender = asyncio.create_task(self._send_loop(s))
        disconnected = False
        try:
            done, _ = await asyncio.wait({receiver, sender},
                                         return_when=asyncio.FIRST_COMPLETED)
            disconnected = receiver in done and receiver.result() is True
        finally:
            self.sessions.discard(s)
            self.metrics.ws_clients.dec()
            for task in (receiver, sender):
                task.cancel()
            for task in (receiver, sender):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if not disconnected:
            closing = s.close or SessionCloseError(1011, "server error")
            # Out of the hub already, a stuck client holds no more than its socket buffers:
            # it may still read its close frame for a while.
            await _close(s.ws, closing.code, closing.reason, CLOSE_GRACE_S)

    async def _receive_loop(self, s: Session) -> bool:
        """Read client messages until it leaves (True) or the session must end (False)."""
        ws = s.ws
        while s.close is None:
            left = s.expires_at - time.time()
            if left <= 0:
                s.stop(1008, "token expired")
                return False
            try:
                message = await asyncio.wait_for(ws.receive(), left)
            except TimeoutError:
                continue
            except (WebSocketDisconnect, OSError, RuntimeError):
                return True
            if message["type"] == "websocket.disconnect":
                return True
            text = message.get("text")
            try:
                if text is None:
                    raise SessionCloseError(1008, "binary messages are not understood")
                await self._handle(s, parse_message(text))
            except SessionCloseError as closing:
                s.stop(closing.code, closing.reason)
                return False
        return False

    async def _handle(self, s: Session, m: Any) -> None:
        if isinstance(m, SubscribeMessage):
            await self.subscribe(s, m.channel, m.since)
        elif isinstance(m, UnsubscribeMessage):
            s.subs.pop(m.channel, None)
            s.vehicles.pop(m.channel, None)
            s.send_control({"type": "unsubscribed", "channel": m.channel})
        elif isinstance(m, PingMessage):
            s.send_control({"type": "pong", "id": m.id, "time": time.time(),
                            "seq": self.live.last_seq})
        else:
            principal = await self._principal(m.token, "access")
            if principal.user_id != s.principal.user_id:
                raise SessionCloseError(1008, "re-authentication must be by the same user")
            s.reauthenticated(principal, principal.expires_at)
            s.send_control({"type": "auth_ok", "user": principal.username,
                            "expires_at": principal.expires_at})

    async def _send_loop(self, s: Session) -> None:
        stuck = self.settings.ws_stuck_timeout_s
        while s.close is None:
            text = s.next_message()
            if text is None:
                s.wake.clear()
                await s.wake.wait()
                continue
            try:
                async with asyncio.timeout(stuck):
                    await s.ws.send_text(text)
            except TimeoutError:
                self.metrics.ws_closed_slow.inc()
                log.warning("closing WebSocket session %s of %s: stuck for %g s",
                            s.session_id, s.principal.username, stuck)
                s.stop(1013, f"client stuck for {stuck:g} s: not reading")
                return
            except (WebSocketDisconnect, OSError, RuntimeError):
                s.stop(1006, "gone")
                return
            self.metrics.ws_messages.inc()

    async def close_all(self) -> None:
        """Close every session (the server is stopping)."""
        for s in list(self.sessions):
            s.stop(1001, "server shutting down")


async def _close(ws: WebSocket, code: int, reason: str, timeout: float) -> None:
    if ws.application_state != WebSocketState.CONNECTED:
        return
    with contextlib.suppress(TimeoutError, WebSocketDisconnect, OSError, RuntimeError):
        await asyncio.wait_for(ws.close(code, _reason(reason)), timeout)


def hub_of(bridge: Bridge) -> Hub:
    """Return the bridge's WebSocket hub."""
    hub: Hub = bridge.extras["hub"]
    return hub


async def _start(bridge: Bridge) -> None:
    live = live_of(bridge)
    hub = Hub(bridge, live)
    live.sinks.append(hub)
    bridge.extras["hub"] = hub


async def _stop(bridge: Bridge) -> None:
    hub = bridge.extras.get("hub")
    if hub is not None:
        await hub.close_all()


on_lifespan("ws_hub", _start, _stop)

__all__ = ["Hub", "Session", "SessionCloseError", "hub_of", "parse_message"]
