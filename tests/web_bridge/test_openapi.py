"""schemathesis over the bridge's OpenAPI spec, authenticated as an admin of every site, against
a real graph (fleet_sim, fleet_manager, mission_planner), PostGIS and Redis: no answer may be a
server error or break its own schema.

Graph-dependent answers (503/504 when a node does not answer in time) are allowed: they are
the documented answers of a graph that is busy, not crashes; every other 5xx fails.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)
from sqlalchemy import create_engine, text

from tests.conftest import claimed_domain

from .conftest import PASSWORD, TEST_URL, BridgeServer, _clean_redis, bridge_settings, login

pytestmark = pytest.mark.ros

MAX_EXAMPLES = 12


@pytest.fixture(scope="module")
def live_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BridgeServer, str]]:
    """Yield a bridge on a small simulated fleet and an admin's access token."""
    from fleet_ros.graph import RosGraph
    from tests.mission_planner.test_node import at, start_graph

    engine = create_engine(TEST_URL)
    username = f"schema_{secrets.token_hex(3)}"
    from argon2 import PasswordHasher

    with engine.begin() as conn:
        user_id = conn.execute(text(
            "insert into users (username, password_hash) values (:u, :h) returning id"),
            {"u": username, "h": PasswordHasher(time_cost=1, memory_cost=64,
                                                parallelism=1).hash(PASSWORD)}).scalar_one()
        conn.execute(text("insert into roles (user_id, site_id, role) "
                          "values (:u, null, 'admin')"), {"u": user_id})
    with claimed_domain() as domain:
        graph = RosGraph(domain_id=domain)
        server = None
        try:
            start_graph(graph, tmp_path_factory.mktemp("graph"), [
                {"id": "uav0", "home": at(0.0, 0.0)},
                {"id": "uav1", "home": at(10.0, 0.0)}], factor=5.0)
            server = BridgeServer(bridge_settings(
                ros_domain_id=domain, rate_limit_per_minute=100_000,
                login_rate_limit_per_minute=10_000, ros_timeout_s=3.0, ack_timeout_s=3.0))
            server.start()
            yield server, str(login(server, username)["access_token"])
        finally:
            if server is not None:
                server.stop()
                _clean_redis({server.settings.redis_prefix})
            graph.close()
            with engine.begin() as conn:
                conn.execute(text("delete from audit_log where user_id = :u or username = :n"),
                             {"u": user_id, "n": username})
                conn.execute(text("delete from users where id = :u"), {"u": user_id})
            engine.dispose()


def _operations(server: BridgeServer) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_no_operation_answers_with_a_server_error_or_breaks_its_schema(
        live_bridge: tuple[BridgeServer, str]) -> None:
    # schemathesis' pytest plugin does not run under pytest 9 (it reads a removed
    # attribute), so each operation's strategy is driven by hypothesis here.
    server, admin_token = live_bridge
    operations = _operations(server)
    assert len(operations) >= 10, "the spec lost its operations"
    failures: list[str] = []
    calls = 0

    def checker(operation: Any) -> Any:
        label = operation.label

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            nonlocal calls
            token = admin_token
            if case.path.endswith("/auth/logout"):
                # Logging out revokes the token: use one of its own.
                me = server.client(admin_token).get("/api/v1/auth/me").json()["username"]
                token = str(login(server, me)["access_token"])
            response = case.call(base_url=server.url,
                                 headers={"Authorization": f"Bearer {token}"}, timeout=30)
            calls += 1
            if response.status_code in (503, 504):
                if not response.json().get("detail"):
                    failures.append(f"{label}: {response.status_code} without a reason")
                return
            try:
                case.validate_response(response, checks=[
                    not_a_server_error, response_schema_conformance, content_type_conformance])
            except AssertionError as exc:  # schemathesis failures are AssertionErrors
                failures.append(f"{label}: {str(exc).splitlines()[0][:300]}")

        return check

    for operation in operations:
        checker(operation)()
    assert calls >= len(operations)
    assert not failures, "\n".join(dict.fromkeys(failures))
