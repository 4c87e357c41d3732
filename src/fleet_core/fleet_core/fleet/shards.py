"""Splitting one fleet over several fleet_manager processes.

DDS entity creation costs more the more entities a process already has (docs/capacity.md:
the fifth 200 services of one process took ten times the first), and one Python process
receives on one core. So a large fleet is taken in by several *ingest* shards, each
subscribing to the MAVROS topics of a disjoint share of the vehicles, and one *merge* process
builds the one fleet picture (status, coordination across every vehicle, commands) from the
samples the shards accepted. ``whole`` is one process doing all of it (the default).
"""

from __future__ import annotations

import enum
import re
import zlib
from dataclasses import dataclass

from fleet_core.errors import ConfigError


class Role(enum.Enum):
    """What one fleet_manager process does."""

    WHOLE = "whole"    # subscribes to every vehicle and keeps the picture
    INGEST = "ingest"  # subscribes to its shard's vehicles; sends what it accepted on
    MERGE = "merge"    # keeps the picture from the ingest shards' samples

    @classmethod
    def parse(cls, text: str) -> Role:
        """Read a role name; ConfigError naming the value and the choices."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ConfigError(f"role {text!r} is not one of "
                              f"{[r.value for r in cls]}") from None


_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count``: the vehicles whose id hashes to ``index``.

    The hash is CRC-32 of the id: stable across processes, machines and restarts (Python's
    own ``hash`` of a str is salted per process), so every shard agrees on who owns whom
    without talking to the others.
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ConfigError(f"shard count {self.count} must be at least 1")
        if not 0 <= self.index < self.count:
            raise ConfigError(f"shard index {self.index} must be in 0..{self.count - 1}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Read ``"k/N"`` (shard k of N, k from 0); ConfigError naming the bad value."""
        m = _SHARD.match(text)
        if m is None:
            raise ConfigError(f"shard {text!r} is not of the form 'k/N' (say '0/4')")
        return cls(int(m.group(1)), int(m.group(2)))

    def owns(self, vehicle_id: str) -> bool:
        """Whether this shard takes the vehicle in."""
        return zlib.crc32(vehicle_id.encode()) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def role_and_shard(role: str, shard: str) -> tuple[Role, Shard | None]:
    """Check a process's role and shard together: an ingest process needs its shard, the
    others take none. ConfigError naming what does not fit."""
    r = Role.parse(role)
    if r is Role.INGEST:
        if not shard.strip():
            raise ConfigError("role 'ingest' needs a shard ('k/N')")
        return r, Shard.parse(shard)
    if shard.strip():
        raise ConfigError(f"shard {shard!r} is only for role 'ingest', not {r.value!r}")
    return r, None
