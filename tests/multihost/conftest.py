"""Fixtures of the multi-host tests: the migrated test database, test users, and a tag for
every id the graph writes (its rows are deleted after the test)."""

from __future__ import annotations

from tests.fleet_bringup import conftest as _bringup_fixtures
from tests.web_bridge import conftest as _bridge_fixtures

web_db = _bridge_fixtures.web_db
accounts = _bridge_fixtures.accounts
tag = _bringup_fixtures.tag
