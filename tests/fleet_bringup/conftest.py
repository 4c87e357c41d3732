"""Fixtures of the bring-up tests: a tag of their own for every id the graph writes to the
shared test database, and the deletion of every row made under it afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fleet_bringup.cleanup import forget_tag
from tests.web_bridge import conftest as _bridge_fixtures

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"

web_db = _bridge_fixtures.web_db  # the migrated test database, a fixture here too
start_bridge = _bridge_fixtures.start_bridge  # a bridge without the graph

@pytest.fixture
def tag(web_db: Engine) -> Iterator[str]:
    """A prefix for every id a test's graph writes; its rows are deleted after the test."""
    value = f"t{secrets.token_hex(3)}_"
    try:
        yield value
    finally:
        forget_tag(web_db, value)
