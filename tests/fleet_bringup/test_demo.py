"""`make demo` runs the whole graph from fleet_bringup and flies its missions to the end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fleet_bringup import demo
from tests.conftest import claimed_domain


def test_a_time_factor_out_of_range_is_refused_naming_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        demo.main(["--time-factor", "50"])
    assert exit_info.value.code == 2
    assert "--time-factor must be 0.5..20, got 50.0" in capsys.readouterr().err


@pytest.mark.ros
def test_the_demo_flies_a_survey_and_a_delivery_and_charges() -> None:
    with claimed_domain() as domain:
        done = subprocess.run(
            [sys.executable, "-m", "fleet_bringup.demo", "--time-factor", "20", "--timeout",
             "120", "--no-recorder"],
            env={**os.environ, "ROS_DOMAIN_ID": str(domain)}, capture_output=True, text=True,
            timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "survey: completed" in done.stdout
    assert "delivery: completed" in done.stdout
    assert "charge: done" in done.stdout
