"""docs/configuration.md is what scripts/config_reference.py generates from the code today."""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "docs" / "configuration.md"
COMMAND = "python scripts/config_reference.py --write"

pytestmark = pytest.mark.ros


def test_the_configuration_reference_is_up_to_date() -> None:
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "config_reference.py")],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    written = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
    if done.stdout != written:
        diff = "".join(difflib.unified_diff(
            written.splitlines(keepends=True), done.stdout.splitlines(keepends=True),
            "docs/configuration.md", "generated from the code", n=0))
        pytest.fail(f"docs/configuration.md is out of date; regenerate it with `{COMMAND}` "
                    f"(after `source scripts/env.sh`):\n{diff[:4000]}", pytrace=False)


def test_the_reference_lists_every_node_file_and_setting() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    for heading in ("### fleet_sim", "### fleet_manager", "### mission_planner",
                    "### telemetry_recorder", "### config/fleet.yaml",
                    "### config/fleet_sim.yaml", "### config/missions.yaml",
                    "### config/stations.yaml", "### config/recorder.yaml",
                    "## web_bridge settings"):
        assert f"\n{heading}\n" in text
    assert "| `FLEET_JWT_SECRET` | secret string | required |" in text
