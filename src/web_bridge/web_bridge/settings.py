"""The bridge's settings, from ``FLEET_*`` environment variables, validated once at start-up.

No secret has a default: without ``FLEET_JWT_SECRET`` the bridge refuses to start, naming the
variable. Errors name the variable and the bad value (never a secret's value).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet_db.db import DEFAULT_URL


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the environment variable."""


class Settings(BaseSettings):
    """Everything the bridge reads from its environment (prefix ``FLEET_``)."""

    model_config = SettingsConfigDict(env_prefix="FLEET_", extra="ignore", frozen=True)

    # Where it listens and what it talks to.
    host: str = Field("127.0.0.1", description="address the HTTP server listens on")
    port: int = Field(8080, ge=0, le=65535, description="TCP port of the HTTP server")
    database_url: str = Field(DEFAULT_URL, description="the fleet database (postgresql URL)")
    db_role: str = Field("fleet_web", description="role row-level security applies to "
                         "(SET LOCAL ROLE)")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="the live tier (redis://, "
                           "rediss:// or unix:// URL)")
    redis_prefix: str = Field("fleet:", min_length=1, max_length=64,
                              description="prefix of every Redis key this deployment uses")
    instance_id: str = Field(default_factory=lambda: secrets.token_hex(4),
                             pattern=r"^[a-z0-9_]{1,32}$",
                             description="names this bridge among several (its ROS node is "
                                         "web_bridge_<id>); default: random")
    ros_domain_id: int | None = Field(None, ge=0, le=232, description="DDS domain of the ROS "
                                      "graph; none: $ROS_DOMAIN_ID")
    fleet_manager_ns: str = Field("/fleet_manager", description="namespace of fleet_manager's "
                                  "services")
    mission_planner_ns: str = Field("/mission_planner", description="namespace of "
                                    "mission_planner's services and actions")

    # Accounts.
    jwt_secret: SecretStr = Field(description="signs access and refresh tokens; at least 32 "
                                  "characters (e.g. `openssl rand -hex 32`)")
    access_token_ttl_s: int = Field(900, ge=30, le=86_400,
                                    description="lifetime of an access token")
    refresh_token_ttl_s: int = Field(30 * 86_400, ge=60,
                                     description="lifetime of a refresh token")
    ws_ticket_ttl_s: int = Field(30, ge=5, le=600, description="lifetime of a one-use "
                                 "WebSocket ticket")
    cookie_secure: bool = Field(True, description="send the refresh cookie over HTTPS only "
                                "(false for plain-HTTP development)")
    # argon2id cost; tests lower these (never in production).
    argon2_time_cost: int = Field(3, ge=1, le=20, description="argon2id passes per password "
                                  "hash")
    argon2_memory_kib: int = Field(65_536, ge=8, le=4_194_304,
                                   description="argon2id memory per password hash")

    # Limits.
    rate_limit_per_minute: int = Field(600, ge=1, description="requests per user, all routes "
                                       "(per client address: 4 times this)")
    login_rate_limit_per_minute: int = Field(20, ge=1, description="login attempts per client "
                                             "address")
    ingest_rate_per_second: float = Field(20.0, gt=0, description="telemetry batches per API "
                                          "key")
    max_body_bytes: int = Field(2_000_000, ge=1024, description="largest request body")
    ros_timeout_s: float = Field(5.0, gt=0, le=120, description="timeout of a ROS service "
                                 "call")
    ack_timeout_s: float = Field(10.0, gt=0, le=300, description="how long a command waits "
                                 "for the fleet to show it acted")

    # Live tier and WebSocket.
    state_ttl_s: int = Field(30, ge=1, description="a silent vehicle's live state expires "
                             "after this")
    stream_maxlen: int = Field(10_000, ge=10, description="updates kept in each Redis stream "
                               "(a reconnecting client resumes from them)")
    ws_event_queue: int = Field(256, ge=8, le=100_000, description="updates queued per "
                                "WebSocket client")
    ws_stuck_timeout_s: float = Field(10.0, gt=0, description="a client that reads nothing "
                                      "this long is disconnected")
    ws_fleet_rate_hz: float = Field(2.0, gt=0, le=50, description="rate of fleet updates to "
                                    "each WebSocket client")
    # permessage-deflate costs the server CPU per client per message (measured in
    # bench/web_bridge.py); off by default: loopback and LAN dashboards do not need it.
    ws_compression: bool = Field(False, description="permessage-deflate on WebSockets")

    # The dashboard: the built front end (web/dist; scripts/env.sh sets FLEET_WEB_DIR) and an
    # optional raster base map for deployments that have a tile server ({z}/{x}/{y} URL).
    web_dir: Path | None = Field(None, description="the built dashboard; none: web/dist of the "
                                 "checkout it runs from")
    basemap_tiles: str | None = Field(None, max_length=500, description="raster tile URL with "
                                      "{z}, {x} and {y}; none: no base map")
    basemap_attribution: str | None = Field(None, max_length=200,
                                            description="attribution shown with the base map")

    @field_validator("jwt_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("basemap_tiles")
    @classmethod
    def _tiles(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://", "/")) or not all(
                part in value for part in ("{z}", "{x}", "{y}")):
            raise ValueError(f"{value[:80]!r} is not a tile URL with {{z}}, {{x}} and {{y}}")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres(cls, value: str) -> str:
        if not value.startswith("postgresql"):
            raise ValueError(f"{value.split(':', 1)[0]!r} is not a postgresql URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{value.split(':', 1)[0]!r} is not a redis:// URL")
        return value


def load_settings(**overrides: object) -> Settings:
    """Return the settings from the environment (and ``overrides``); raise SettingsError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = "_".join(str(p) for p in err["loc"]).upper()
            what = "is required" if err["type"] == "missing" else err["msg"]
            problems.append(f"FLEET_{key} {what}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
