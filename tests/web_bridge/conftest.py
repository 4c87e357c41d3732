"""Fixtures of the web bridge tests: real bridge servers (uvicorn on a loopback port, in a
thread) against the real PostGIS test database, the machine's Redis under a private key
prefix, and a private ROS graph.

Rows the bridge commits (users, tokens, audit entries, sites) are made under a unique
prefix and deleted after the test; Redis keys under the test's prefix are deleted too.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, text

from tests.fleet_db.conftest import DEFAULT_TEST_URL, migrate

TEST_URL = os.environ.get("FLEET_TEST_DATABASE_URL", DEFAULT_TEST_URL)
REDIS_URL = os.environ.get("FLEET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "correct horse battery"


def bridge_settings(**overrides: Any) -> Any:
    """Return bridge Settings for a test (cheap argon2, private Redis prefix, test DB)."""
    from web_bridge.settings import Settings

    values: dict[str, Any] = {
        "database_url": TEST_URL, "redis_url": REDIS_URL,
        "redis_prefix": f"fleettest:{secrets.token_hex(4)}:",
        "jwt_secret": secrets.token_hex(32), "argon2_time_cost": 1, "argon2_memory_kib": 64,
        "cookie_secure": False, "port": 0,
    }
    values.update(overrides)
    return Settings(**values)


class BridgeServer:
    """One bridge instance served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, settings: Any, *, with_ros: bool = True) -> None:
        from web_bridge.app import create_app

        self.settings = settings
        self.app = create_app(settings, with_ros=with_ros)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", settings.port))  # 0: any free port
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, loop="uvloop", http="httptools", ws="websockets-sansio",
                                log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]},
                                        name=f"bridge-{self.port}", daemon=True)

    def start(self, timeout: float = 30.0) -> BridgeServer:
        """Start serving; raise when the lifespan has not completed within ``timeout``."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the bridge server stopped during start-up (see the log)")
            if time.monotonic() > deadline:
                raise TimeoutError(f"bridge not started within {timeout} s")
            time.sleep(0.02)
        return self

    @property
    def bridge(self) -> Any:
        """The running Bridge (its picture, Redis tier, ...)."""
        return self.app.state.bridge

    def client(self, token: str | None = None) -> httpx.Client:
        """Return an HTTP client for this server (with a bearer token when given)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)

    def stop(self) -> None:
        """Stop serving and wait for the lifespan to close."""
        self.server.should_exit = True
        self._thread.join(timeout=20.0)
        self._sock.close()


@pytest.fixture(scope="session")
def web_db() -> Iterator[Engine]:
    """Yield a (sync) engine on the test database, migrated to head."""
    migrate(TEST_URL)
    engine = create_engine(TEST_URL)
    try:
        yield engine
    finally:
        engine.dispose()


@dataclass
class Accounts:
    """Users and sites made for one test (deleted after it)."""

    engine: Engine
    tag: str
    users: list[int]
    sites: list[str]

    def site(self, name: str, lat: float = 47.398, lon: float = 8.546) -> str:
        """Create a site ``<tag>_<name>`` and return its id."""
        site_id = f"{self.tag}_{name}"
        with self.engine.begin() as conn:
            conn.execute(text(
                "insert into sites (id, name, location, time_zone) values "
                "(:id, :id, st_setsrid(st_makepoint(:lon, :lat), 4326), 'UTC')"),
                {"id": site_id, "lat": lat, "lon": lon})
        self.sites.append(site_id)
        return site_id

    def user(self, name: str, *grants: tuple[str, str | None]) -> str:
        """Create user ``<tag>_<name>`` (password PASSWORD) with (role, site) grants."""
        from argon2 import PasswordHasher

        username = f"{self.tag}_{name}"
        digest = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
        with self.engine.begin() as conn:
            user_id = conn.execute(text(
                "insert into users (username, password_hash) values (:u, :h) returning id"),
                {"u": username, "h": digest}).scalar_one()
            for role, site in grants:
                conn.execute(text("insert into roles (user_id, site_id, role) "
                                  "values (:u, :s, :r)"), {"u": user_id, "s": site, "r": role})
        self.users.append(user_id)
        return username


@pytest.fixture
def accounts(web_db: Engine) -> Iterator[Accounts]:
    """Yield a factory of users and sites, all removed after the test."""
    acc = Accounts(web_db, f"t{secrets.token_hex(3)}", [], [])
    try:
        yield acc
    finally:
        with web_db.begin() as conn:
            if acc.users:
                conn.execute(text("delete from audit_log where user_id = any(:u)"),
                             {"u": acc.users})
                conn.execute(text("delete from users where id = any(:u)"), {"u": acc.users})
            conn.execute(text("delete from audit_log where username like :p"),
                         {"p": f"{acc.tag}%"})
            if acc.sites:
                conn.execute(text("delete from api_keys where site_id = any(:s)"),
                             {"s": acc.sites})
                conn.execute(text("update vehicles set site_id = null where site_id = any(:s)"),
                             {"s": acc.sites})
                conn.execute(text("update missions set site_id = null where site_id = any(:s)"),
                             {"s": acc.sites})
                conn.execute(text("delete from sites where id = any(:s)"), {"s": acc.sites})


def login(server: BridgeServer, username: str, password: str = PASSWORD) -> dict[str, Any]:
    """Log in through the API and return its JSON answer (tokens)."""
    with server.client() as c:
        r = c.post("/api/v1/auth/login", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return dict(r.json())


def token_of(server: BridgeServer, username: str) -> str:
    """Return an access token of ``username``."""
    return str(login(server, username)["access_token"])


@pytest.fixture
def start_bridge() -> Iterator[Callable[..., BridgeServer]]:
    """Yield ``start_bridge(**settings)`` → a started BridgeServer, stopped after the test."""
    servers: list[BridgeServer] = []

    def start(with_ros: bool = True, **overrides: Any) -> BridgeServer:
        server = BridgeServer(bridge_settings(**overrides), with_ros=with_ros)
        servers.append(server)
        return server.start()

    try:
        yield start
    finally:
        prefixes = set()
        for s in servers:
            s.stop()
            prefixes.add(s.settings.redis_prefix)
        _clean_redis(prefixes)


def _clean_redis(prefixes: set[str]) -> None:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        for prefix in prefixes:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        client.close()
    except redis.RedisError:
        pass
