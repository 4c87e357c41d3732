"""The compat mavros_msgs/geographic_msgs are wire-identical to upstream (RIHS01 hashes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ament_index_python.packages import get_package_share_directory

UPSTREAM = Path(__file__).with_name("upstream_type_hashes.txt")


def _upstream() -> list[tuple[str, str]]:
    rows = []
    for line in UPSTREAM.read_text().splitlines():
        if line.strip():
            name, digest = line.split()
            rows.append((name, digest))
    return rows


@pytest.mark.parametrize(("type_name", "upstream_hash"), _upstream(), ids=str)
def test_generated_type_hash_equals_upstream(type_name: str, upstream_hash: str) -> None:
    package, kind, name = type_name.split("/")
    description = Path(get_package_share_directory(package)) / kind / f"{name}.json"
    data = json.loads(description.read_text())
    assert data["type_hashes"][0]["hash_string"] == upstream_hash, type_name


def test_upstream_list_covers_every_compat_definition() -> None:
    src = Path(__file__).parents[2] / "src" / "compat"
    defined = {
        f"{p.parents[1].name}/{p.parent.name}/{p.stem}"
        for p in src.glob("*/*/*") if p.suffix in (".msg", ".srv")
    }
    assert defined == {name for name, _ in _upstream()}


def test_mavros_msgs_is_the_real_package_when_a_distro_provides_it() -> None:
    share = Path(get_package_share_directory("mavros_msgs"))
    workspace_install = Path(__file__).parents[2] / "install"
    real_elsewhere = any(
        (Path(p) / "share" / "ament_index" / "resource_index" / "packages" / "mavros_msgs").exists()
        for p in os.environ.get("AMENT_PREFIX_PATH", "").split(":")
        if p and Path(p).resolve() != workspace_install.resolve()
    )
    # A shadow copy must never win over an installed upstream package.
    assert (workspace_install in share.parents) == (not real_elsewhere)
