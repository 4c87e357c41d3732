"""docker/: what no schema checks and no engine here runs — the compose file's references
between services, volumes, networks, files and the workspace's executables, and the
Dockerfile's sources and user. (scripts/docker_check.sh runs hadolint and the schema.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (DOCKER / "Dockerfile").read_text()
ONE_SHOT = {"migrate", "backup"}  # run to completion; nothing to check the health of
ROS_NODES = {"fleet_manager", "mission_planner", "telemetry_recorder", "fleet_sim", "web_bridge"}


def _console_scripts(package: str) -> set[str]:
    setup = (ROOT / "src" / package / "setup.py").read_text()
    return set(re.findall(r'"(\w+) = \{PACKAGE\}', setup))


def test_the_stack_has_the_services_the_issue_names() -> None:
    assert {"postgis", "redis", "fleet_manager", "mission_planner", "telemetry_recorder",
            "fleet_sim", "web_bridge"} <= SERVICES.keys()


def test_the_simulated_fleet_and_the_backups_start_only_under_their_profiles() -> None:
    assert SERVICES["fleet_sim"]["profiles"] == ["sim"]
    assert SERVICES["backup"]["profiles"] == ["ops"]
    assert all("profiles" not in s for n, s in SERVICES.items() if n not in {"fleet_sim", "backup"})


@pytest.mark.parametrize("name", sorted(SERVICES.keys() - ONE_SHOT))
def test_every_long_running_service_has_a_health_check(name: str) -> None:
    check = SERVICES[name]["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert {"interval", "timeout", "retries"} <= check.keys()


@pytest.mark.parametrize("name", sorted(ROS_NODES))
def test_each_node_service_runs_its_packages_executable_and_checks_that_node(name: str) -> None:
    service = SERVICES[name]
    match = re.fullmatch(r"/opt/fleet/install/lib/(\w+)/(\w+)", service["command"][0])
    assert match, service["command"]
    package, executable = match.groups()
    assert executable in _console_scripts(package)
    assert service["stop_signal"] == "SIGINT"
    assert service["init"] is True
    if name != "web_bridge":  # the bridge is checked over HTTP (/health)
        assert service["healthcheck"]["test"] == ["CMD", "/opt/fleet/healthcheck.sh", name]


def test_depends_on_names_services_that_exist() -> None:
    for name, service in SERVICES.items():
        for other in service.get("depends_on", {}):
            assert other in SERVICES, f"{name} depends on unknown service {other}"


def test_named_volumes_and_networks_are_declared_and_bind_mounts_exist() -> None:
    for name, service in SERVICES.items():
        for network in service.get("networks", []):
            assert network in COMPOSE["networks"], f"{name}: network {network}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).is_file(), f"{name}: {source}"
            else:
                assert source in COMPOSE["volumes"], f"{name}: volume {source}"


def test_the_ros_network_is_internal_and_only_web_bridge_publishes_a_port() -> None:
    assert COMPOSE["networks"]["backend"]["internal"] is True
    published = {n: s["ports"] for n, s in SERVICES.items() if "ports" in s}
    assert list(published) == ["web_bridge"]
    assert all(port.startswith("127.0.0.1:") for port in published["web_bridge"])


def test_every_variable_the_compose_file_reads_is_in_env_example() -> None:
    used = set(re.findall(r"\$\{(\w+)", (DOCKER / "compose.yaml").read_text()))
    documented = set(re.findall(r"^#? ?(\w+)=", (DOCKER / "env.example").read_text(), re.M))
    assert used <= documented, used - documented


def test_the_dockerfile_copies_only_what_the_repository_has() -> None:
    context = [m.split() for m in re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.M)]
    from_build = re.findall(r"^COPY --from=build (.+) \S+$", DOCKERFILE, re.M)
    sources = [s for line in context for s in line if s != "."]
    sources += [s.removeprefix("/opt/fleet/") for line in from_build for s in line.split()]
    sources = [s for s in sources if s not in {".venv", "install"}]  # made by the build stage
    assert "alembic.ini" in sources
    for source in sources:
        assert (ROOT / source).exists(), source


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    user = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)[-1]
    uid, _, gid = user.partition(":")
    assert int(uid) > 0
    assert int(gid) > 0
    assert f"--uid {uid}" in DOCKERFILE


def test_the_scripts_the_containers_run_are_executable() -> None:
    for script in ("entrypoint.sh", "healthcheck.sh", "initdb/20-fleet.sh"):
        assert (DOCKER / script).stat().st_mode & 0o111, script
    for script in ("backup.sh", "restore.sh"):
        assert (ROOT / "scripts" / script).stat().st_mode & 0o111, script
