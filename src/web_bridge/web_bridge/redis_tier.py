"""The Redis live tier: what several bridge instances share.

Keys (all under the configured prefix, e.g. ``fleet:``):
- ``rl:<bucket>:<window>`` rate-limit counters (fixed one-minute / one-second windows);
- ``revoked:<jti>`` access tokens revoked by logout, until they would have expired;
- ``nbf:<user id>`` tokens of a user issued before this time are void (role change);
- the live state, GEO set, counters, event stream and pub/sub channels (see ``live_redis``).

Redis being down never fails a request: rate limits and revocation checks fail open (logged,
counted, ``/health`` says degraded) and everything resumes when Redis answers again.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from web_bridge.settings import Settings

log = logging.getLogger(__name__)


class RedisTier:
    """One async Redis client with the bridge's key scheme and its health."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.prefix = settings.redis_prefix
        self.client: aioredis.Redis = aioredis.from_url(
            settings.redis_url, decode_responses=True, socket_timeout=1.0,
            socket_connect_timeout=1.0, retry_on_timeout=False, health_check_interval=5)
        self.healthy = False
        self.last_error = "not checked yet"
        self.errors = 0

    def key(self, *parts: object) -> str:
        """Return a key under the prefix."""
        return self.prefix + ":".join(str(p) for p in parts)

    def failed(self, exc: BaseException, what: str) -> None:
        """Record a Redis failure (degraded) without raising."""
        if self.healthy:
            log.warning("redis unavailable during %s: %s", what, exc)
        self.healthy = False
        self.errors += 1
        self.last_error = f"{what}: {exc}"

    def succeeded(self) -> None:
        """Record that Redis answered."""
        if not self.healthy:
            log.info("redis available")
        self.healthy = True
        self.last_error = ""

    async def ping(self) -> bool:
        """Return whether Redis answers now (and record it)."""
        try:
            await self.client.ping()
        except (RedisError, OSError) as exc:
            self.failed(exc, "ping")
            return False
        self.succeeded()
        return True

    async def hit(self, bucket: str, limit: int, window_s: int) -> float | None:
        """Count one request in ``bucket``; return seconds to wait when over ``limit``.

        Fixed windows: cheap (one INCR and one EXPIRE in a pipeline) and shared by every
        instance. Fails open when Redis is down.
        """
        window = int(time.time() // window_s)
        key = self.key("rl", bucket, window)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, window_s + 1)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            self.failed(exc, "rate limit")
            return None
        self.succeeded()
        if int(count) > limit:
            return max(1.0, math.ceil((window + 1) * window_s - time.time()))
        return None

    async def revoke_token(self, jti: str, expires_at: float) -> None:
        """Deny an access token until it would have expired."""
        ttl = max(1, int(expires_at - time.time()) + 1)
        try:
            await self.client.set(self.key("revoked", jti), "1", ex=ttl)
        except (RedisError, OSError) as exc:
            self.failed(exc, "revoke token")

    async def void_user_tokens(self, user_id: int, ttl_s: int) -> None:
        """Void every access token of a user issued before now."""
        try:
            await self.client.set(self.key("nbf", user_id), f"{time.time():.3f}", ex=ttl_s + 1)
        except (RedisError, OSError) as exc:
            self.failed(exc, "void tokens")

    async def token_revoked(self, jti: str, user_id: int, issued_at: float) -> bool:
        """Return whether a token was revoked (False when Redis cannot tell)."""
        try:
            revoked, nbf = await self.client.mget(self.key("revoked", jti),
                                                  self.key("nbf", user_id))
        except (RedisError, OSError) as exc:
            self.failed(exc, "token check")
            return False
        self.succeeded()
        return revoked is not None or (nbf is not None and issued_at < float(nbf))

    async def close(self) -> None:
        """Close the client's connections."""
        with contextlib.suppress(RedisError, OSError):
            await self.client.aclose()
