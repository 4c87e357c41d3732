"""Before it starts, the demo finds PostgreSQL, Redis and the dashboard, or names what is
missing with the command that provides it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_bringup import demo, preflight
from tests.fleet_bringup.conftest import WEB_DIST
from tests.web_bridge.conftest import REDIS_URL, TEST_URL


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nobody listens on (held bound, not listening, for the test)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def test_the_test_database_redis_and_the_built_dashboard_are_all_found() -> None:
    assert preflight.missing(TEST_URL, REDIS_URL, WEB_DIST) == []


def test_an_unreachable_postgresql_is_named_with_the_commands_that_start_it(
        closed_port: int) -> None:
    found = preflight.check_database(f"postgresql+psycopg://fleet@127.0.0.1:{closed_port}/fleet")
    assert str(found) == (f"PostgreSQL is not reachable at 127.0.0.1:{closed_port}: run "
                          "`make setup` (it provisions and migrates the database) or "
                          "`sudo service postgresql start`")


def test_a_database_that_does_not_exist_is_named_with_make_setup() -> None:
    found = preflight.check_database("postgresql+psycopg://fleet@127.0.0.1:5432/no_such_fleet")
    assert found is not None
    assert 'database "no_such_fleet" does not exist' in found.what
    assert found.fix == preflight.SETUP_DB


def test_an_unreachable_redis_is_named_with_the_command_that_starts_it(
        closed_port: int) -> None:
    found = preflight.check_redis(f"redis://127.0.0.1:{closed_port}/0")
    assert str(found) == (f"Redis is not reachable at 127.0.0.1:{closed_port}: start it with "
                          "`sudo service redis-server start` (or `redis-server --daemonize "
                          "yes`)")


def test_a_dashboard_not_built_is_named_with_make_setup(tmp_path: Path) -> None:
    found = preflight.check_dashboard(tmp_path)
    assert found is not None
    assert found.what == f"the dashboard is not built ({tmp_path}/index.html is missing)"
    assert found.fix == "run `make setup` (it builds web/dist)"


def test_the_demo_says_everything_it_misses_and_exits_1(
        closed_port: int, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FLEET_DATABASE_URL", f"postgresql+psycopg://fleet@127.0.0.1:{closed_port}/f")
    monkeypatch.setenv("FLEET_REDIS_URL", f"redis://127.0.0.1:{closed_port}/0")
    monkeypatch.setenv("FLEET_WEB_DIR", str(WEB_DIST))
    assert demo.main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("the demo cannot start:\n")
    assert f"  - PostgreSQL is not reachable at 127.0.0.1:{closed_port}: run `make setup`" in err
    assert f"  - Redis is not reachable at 127.0.0.1:{closed_port}: start it" in err
