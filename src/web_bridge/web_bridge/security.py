"""Passwords, tokens and who may do what: pure functions, no database and no web framework.

- Passwords and API keys are hashed with argon2id (argon2-cffi).
- Access tokens are JWTs (HS256, 15 minutes) carrying the user's grants, so a request needs
  no database round trip to be authorised; a logout or a role change revokes them through
  Redis (``jti`` deny-list, and a per-user "not before").
- Refresh tokens and API keys are random strings; only their hashes are stored.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("viewer", "operator", "admin")
RANK = {name: i for i, name in enumerate(ROLES)}
Role = Literal["viewer", "operator", "admin"]
JWT_ALGORITHM = "HS256"
API_KEY_PREFIX = "fk_"


class TokenError(ValueError):
    """A token is malformed, expired, forged or of the wrong kind; the message says which."""


@dataclass(frozen=True)
class Grant:
    """A role at one site, or at every site when ``site_id`` is None."""

    role: Role
    site_id: str | None = None


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user (with grants), or a vehicle's API key (scoped to one vehicle)."""

    user_id: int
    username: str
    grants: tuple[Grant, ...]
    api_key_id: int | None = None
    vehicle_id: str | None = None
    token_id: str = ""
    expires_at: float = 0.0
    issued_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def all_sites(self) -> bool:
        """Whether some grant covers every site."""
        return any(g.site_id is None for g in self.grants)

    def sites(self, min_role: Role = "viewer") -> frozenset[str] | None:
        """Return the sites where the user holds ``min_role`` or more; None means every site."""
        ok = [g for g in self.grants if RANK[g.role] >= RANK[min_role]]
        if any(g.site_id is None for g in ok):
            return None
        return frozenset(g.site_id for g in ok if g.site_id is not None)

    def can(self, role: Role, site_id: str | None = None) -> bool:
        """Return whether the user holds ``role`` (or more) at ``site_id``.

        ``site_id`` None asks for a grant at every site (e.g. a vehicle without a site).
        """
        for g in self.grants:
            if RANK[g.role] >= RANK[role] and (g.site_id is None or g.site_id == site_id):
                return True
        return False

    def sees(self, site_id: str | None) -> bool:
        """Return whether an object of ``site_id`` is visible to this user."""
        return self.can("viewer", site_id)

    @property
    def top_role(self) -> str:
        """The highest role held anywhere ('' for none): what the audit log records."""
        if not self.grants:
            return "vehicle" if self.api_key_id is not None else ""
        return max((g.role for g in self.grants), key=RANK.__getitem__)


class Passwords:
    """argon2id hashing with the configured cost."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65_536) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                                      parallelism=1)

    def hash(self, password: str) -> str:
        """Return the argon2id hash of ``password``."""
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Return whether ``password`` matches ``stored`` (False for a missing or bad hash)."""
        if not stored:
            return False
        try:
            return bool(self._hasher.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False


def check_password_strength(password: str) -> None:
    """Raise ValueError unless ``password`` is at least 10 characters."""
    if len(password) < 10:
        raise ValueError("password must be at least 10 characters")


def new_secret(nbytes: int = 32) -> str:
    """Return a random URL-safe string."""
    return secrets.token_urlsafe(nbytes)


def digest(token: str) -> str:
    """Return the SHA-256 hex of a high-entropy random token (refresh tokens, tickets).

    A fast hash is right here: the token is 256 random bits, so nothing can be guessed;
    argon2 is for what people choose (passwords) and what lives long (API keys).
    """
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """Return (key, prefix): the key shown once, and the prefix that identifies it."""
    prefix = API_KEY_PREFIX + secrets.token_hex(4)
    return f"{prefix}.{secrets.token_urlsafe(32)}", prefix


def api_key_prefix(key: str) -> str:
    """Return the prefix of an API key; raise TokenError when it is not one."""
    prefix, dot, rest = key.partition(".")
    if not dot or not prefix.startswith(API_KEY_PREFIX) or len(prefix) != 11 or len(rest) < 20:
        raise TokenError("malformed API key (expected fk_xxxxxxxx.<secret>)")
    return prefix


def grants_claim(grants: tuple[Grant, ...]) -> list[list[str | None]]:
    """Encode grants for a token."""
    return [[g.role, g.site_id] for g in grants]


def grants_from_claim(raw: Any) -> tuple[Grant, ...]:
    """Decode grants from a token; raise TokenError on garbage."""
    if not isinstance(raw, list):
        raise TokenError("token grants are malformed")
    out = []
    for item in raw:
        if (not isinstance(item, list) or len(item) != 2 or item[0] not in ROLES
                or not (item[1] is None or isinstance(item[1], str))):
            raise TokenError("token grants are malformed")
        out.append(Grant(item[0], item[1]))
    return tuple(out)


def issue_token(secret: str, user_id: int, username: str, grants: tuple[Grant, ...],
                ttl_s: float, *, kind: str = "access",
                now: float | None = None) -> tuple[str, str, float]:
    """Return (token, jti, expiry) of a new signed token of ``kind`` (access or ws)."""
    issued = time.time() if now is None else now
    jti = secrets.token_hex(12)
    exp = issued + ttl_s
    claims = {"sub": str(user_id), "name": username, "grants": grants_claim(grants),
              "typ": kind, "jti": jti, "iat": round(issued, 3), "exp": int(exp)}
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM), jti, exp


def read_token(secret: str, token: str, kind: str = "access") -> Principal:
    """Verify a token and return its principal; raise TokenError naming what is wrong."""
    try:
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM],
                            options={"require": ["exp", "iat", "sub", "jti", "typ"]})
    except jwt.ExpiredSignatureError:
        raise TokenError("token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"token is invalid: {exc}") from None
    if claims.get("typ") != kind:
        raise TokenError(f"token is a {claims.get('typ')!r} token, not {kind!r}")
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError):
        raise TokenError("token subject is malformed") from None
    return Principal(user_id=user_id, username=str(claims.get("name", "")),
                     grants=grants_from_claim(claims.get("grants")), token_id=claims["jti"],
                     expires_at=float(claims["exp"]), issued_at=float(claims["iat"]))
