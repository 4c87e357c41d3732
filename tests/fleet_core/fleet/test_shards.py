"""Shards: every vehicle in exactly one, the same one in every process; bad values named."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fleet_core.errors import ConfigError
from fleet_core.fleet.shards import Role, Shard, role_and_shard


def test_every_vehicle_belongs_to_exactly_one_shard_of_a_split() -> None:
    ids = [f"uav{k}" for k in range(1000)]
    for count in (1, 2, 3, 7):
        shards = [Shard(i, count) for i in range(count)]
        for vid in ids:
            assert sum(s.owns(vid) for s in shards) == 1


def test_a_split_is_roughly_even() -> None:
    shards = [Shard(i, 4) for i in range(4)]
    sizes = [sum(s.owns(f"uav{k}") for k in range(1000)) for s in shards]
    assert min(sizes) > 200, sizes


def test_another_process_assigns_the_same_shards() -> None:
    # Python salts str hashes per process; the assignment must not depend on that.
    code = ("from fleet_core.fleet.shards import Shard;"
            "print([k for k in range(50) if Shard(1, 3).owns(f'uav{k}')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONHASHSEED": "123"}).stdout.strip()
    assert out == str([k for k in range(50) if Shard(1, 3).owns(f"uav{k}")])


def test_a_shard_is_read_from_k_slash_n() -> None:
    assert Shard.parse("2/5") == Shard(2, 5)
    assert Shard.parse(" 0 / 1 ") == Shard(0, 1)
    assert str(Shard(1, 4)) == "1/4"


@pytest.mark.parametrize(("text", "named"), [
    ("2", "'2'"), ("a/b", "'a/b'"), ("5/5", "index 5"), ("0/0", "count 0"), ("-1/3", "'-1/3'")])
def test_a_bad_shard_is_refused_naming_it(text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Shard.parse(text)


def test_roles_and_shards_go_together() -> None:
    assert role_and_shard("whole", "") == (Role.WHOLE, None)
    assert role_and_shard("MERGE", " ") == (Role.MERGE, None)
    assert role_and_shard("ingest", "1/2") == (Role.INGEST, Shard(1, 2))
    with pytest.raises(ConfigError, match="needs a shard"):
        role_and_shard("ingest", "")
    with pytest.raises(ConfigError, match="only for role 'ingest'"):
        role_and_shard("merge", "0/2")
    with pytest.raises(ConfigError, match="'boss' is not one of"):
        role_and_shard("boss", "")
