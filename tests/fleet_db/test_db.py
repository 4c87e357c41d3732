"""Engine construction: settings, and errors that name the URL without its password."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import text

from fleet_db.db import (
    DEFAULT_URL,
    DatabaseUnavailableError,
    InvalidArgumentError,
    database_url,
    make_engine,
    safe_url,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_url_comes_from_the_environment_or_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEET_DATABASE_URL", raising=False)
    assert database_url().render_as_string() == DEFAULT_URL
    monkeypatch.setenv("FLEET_DATABASE_URL", "postgresql+psycopg://u@db.example:6543/x")
    assert database_url().port == 6543


def test_an_unreachable_database_is_named_without_its_password() -> None:
    url = f"postgresql+psycopg://fleet:s3cret@127.0.0.1:{_free_port()}/fleet"
    with pytest.raises(DatabaseUnavailableError, match=r"fleet:\*\*\*@127\.0\.0\.1") as info:
        make_engine(url, connect_timeout_s=2)
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(("url", "message"), [
    pytest.param("sqlite:///fleet.db", "is not PostgreSQL", id="not-postgres"),
    pytest.param("no url at all", "scheme 'no url at all' is malformed", id="garbage"),
])
def test_a_url_that_is_not_postgres_is_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        make_engine(url)


def test_safe_url_masks_the_password() -> None:
    assert safe_url("postgresql+psycopg://a:b@h/d") == "postgresql+psycopg://a:***@h/d"


def test_connections_use_utc_and_the_statement_timeout(db_url: str) -> None:
    engine = make_engine(db_url, statement_timeout_ms=1234)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("show timezone")).scalar_one() == "UTC"
            assert conn.execute(text("show statement_timeout")).scalar_one() == "1234ms"
    finally:
        engine.dispose()
