"""Stored events and the audit log over REST: filters, cursor pages, site scope, CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from .conftest import Accounts, token_of
from .fleet_rows import FleetRows, Scenario, scenario

API = "/api/v1"


@pytest.fixture
def world(accounts: Accounts) -> Iterator[Scenario]:
    """Yield the shared scenario, its rows deleted after the test."""
    with FleetRows(accounts) as rows:
        yield scenario(rows)


def _keys(page: dict[str, Any]) -> list[str]:
    return [e["key"] for e in page["items"]]


def test_coordination_events_are_filtered_and_scoped_to_my_sites(
        start_bridge: Any, accounts: Accounts, world: Scenario) -> None:
    server = start_bridge(with_ros=False)
    tag = accounts.tag
    user = accounts.user("a", ("viewer", world.site_a))
    window = {"t0": world.t0.isoformat(), "t1": world.t1.isoformat()}
    with server.client(token_of(server, user)) as c:
        page = c.get(f"{API}/events/coordination", params=window).json()
        # Newest opening first; vb1's event (site b) is not shown.
        assert _keys(page) == [f"{tag}_link", f"{tag}_lowbat", f"{tag}_sep"]
        assert page["items"][0]["state"] == "open"
        assert page["items"][1]["state"] == "closed"
        assert page["items"][1]["message"] == "recovered"
        get = lambda **q: _keys(c.get(f"{API}/events/coordination",  # noqa: E731
                                      params={**window, **q}).json())
        assert get(state="open") == [f"{tag}_link"]
        assert get(type="link_lost") == [f"{tag}_link"]
        assert get(severity="info") == [f"{tag}_sep"]
        assert get(vehicle=world.va1) == [f"{tag}_link", f"{tag}_lowbat"]
        assert get(t1=(world.t0 + timedelta(minutes=30)).isoformat()) == [f"{tag}_sep"]
        r = c.get(f"{API}/events/coordination", params={"vehicle": world.vb1})
        assert r.status_code == 404
        r = c.get(f"{API}/events/coordination", params={"severity": "apocalyptic"})
        assert r.status_code == 422
        assert "severity" in r.json()["detail"]


def test_cursor_pages_walk_every_event_once_in_time_order(
        start_bridge: Any, accounts: Accounts, world: Scenario) -> None:
    server = start_bridge(with_ros=False)
    user = accounts.user("ab", ("viewer", world.site_a), ("viewer", world.site_b))
    params: dict[str, Any] = {"t0": world.t0.isoformat(), "t1": world.t1.isoformat(),
                              "limit": 1}
    seen: list[dict[str, Any]] = []
    with server.client(token_of(server, user)) as c:
        for _ in range(10):
            page = c.get(f"{API}/events/coordination", params=params).json()
            seen += page["items"]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        r = c.get(f"{API}/events/coordination", params={"cursor": "garbage!"})
        assert r.status_code == 422
        assert "cursor" in r.json()["detail"]
    keys = [e["key"] for e in seen]
    assert len(keys) == len(set(keys)) == 4
    opened = [(e["opened_at"], e["id"]) for e in seen]
    assert opened == sorted(opened, reverse=True)


def test_mission_events_are_those_of_my_sites_missions(
        start_bridge: Any, accounts: Accounts, world: Scenario) -> None:
    server = start_bridge(with_ros=False)
    user = accounts.user("a", ("viewer", world.site_a))
    with server.client(token_of(server, user)) as c:
        page = c.get(f"{API}/events/missions", params={"mission": world.flown}).json()
        assert [e["to_state"] for e in page["items"]] == [
            "completed", "active", "assigned", "queued", "planned"]
        assert page["items"][0]["vehicle_id"] == world.va1
        assert page["items"][0]["site_id"] == world.site_a
        other = c.get(f"{API}/events/missions",
                      params={"mission": world.other_site_mission}).json()
        assert other["items"] == []
        done = c.get(f"{API}/events/missions", params={
            "to_state": "completed", "t0": world.t0.isoformat(),
            "t1": world.t1.isoformat(), "site": world.site_a}).json()
        assert [e["mission_id"] for e in done["items"]] == [world.flown]
        r = c.get(f"{API}/events/missions", params={"site": world.site_b})
        assert r.status_code == 404


def _audit_rows(accounts: Accounts, site_a: str, site_b: str) -> datetime:
    now = datetime.now(UTC).replace(microsecond=0)
    entries = [
        ("login", "allowed", None, 0), ("POST /api/v1/missions", "allowed", site_a, 1),
        ("POST /api/v1/missions", "refused", site_b, 2),
        ("PUT /api/v1/vehicles/{vehicle_id}/maintenance", "failed", site_a, 3),
    ]
    with accounts.engine.begin() as conn:
        for action, result, site, i in entries:
            conn.execute(text(
                "insert into audit_log (time, username, role, action, result, status_code, "
                "site_id, method, details) values (:t, :u, 'operator', :a, :r, 200, :s, "
                "'POST', cast(:d as jsonb))"),
                {"t": now - timedelta(seconds=10 - i), "u": f"{accounts.tag}_someone",
                 "a": action, "r": result, "s": site, "d": json.dumps({"n": i})})
    return now


def test_the_audit_log_is_for_admins_filtered_and_scoped_to_their_sites(
        start_bridge: Any, accounts: Accounts) -> None:
    site_a, site_b = accounts.site("a"), accounts.site("b")
    now = _audit_rows(accounts, site_a, site_b)
    server = start_bridge(with_ros=False)
    someone = f"{accounts.tag}_someone"
    admin = accounts.user("admin", ("admin", None))
    a_admin = accounts.user("a_admin", ("admin", site_a))
    viewer = accounts.user("viewer", ("viewer", None))
    window = {"user": someone, "t0": (now - timedelta(minutes=1)).isoformat()}
    with server.client(token_of(server, admin)) as c:
        page = c.get(f"{API}/audit", params=window).json()
        assert [e["details"]["n"] for e in page["items"]] == [3, 2, 1, 0]
        refused = c.get(f"{API}/audit", params={**window, "result": "refused"}).json()
        assert [e["site_id"] for e in refused["items"]] == [site_b]
        missions = c.get(f"{API}/audit", params={**window, "action": "/missions"}).json()
        assert [e["details"]["n"] for e in missions["items"]] == [2, 1]
        first = c.get(f"{API}/audit", params={**window, "limit": 3}).json()
        rest = c.get(f"{API}/audit", params={**window, "limit": 3,
                                             "cursor": first["next_cursor"]}).json()
        assert [e["details"]["n"] for e in first["items"] + rest["items"]] == [3, 2, 1, 0]
        r = c.get(f"{API}/audit", params={"t0": "2026-01-01T00:00:00"})
        assert r.status_code == 422
        assert "t0" in r.json()["detail"]
    with server.client(token_of(server, a_admin)) as c:
        page = c.get(f"{API}/audit", params=window).json()
        assert [e["details"]["n"] for e in page["items"]] == [3, 1]  # site a only
    with server.client(token_of(server, viewer)) as c:
        r = c.get(f"{API}/audit")
        assert r.status_code == 403
        assert "admin" in r.json()["detail"]


def test_the_audit_csv_export_streams_the_same_entries_as_the_list(
        start_bridge: Any, accounts: Accounts) -> None:
    site_a, site_b = accounts.site("a"), accounts.site("b")
    now = _audit_rows(accounts, site_a, site_b)
    server = start_bridge(with_ros=False)
    admin = accounts.user("admin", ("admin", None))
    window = {"user": f"{accounts.tag}_someone",
              "t0": (now - timedelta(minutes=1)).isoformat()}
    with server.client(token_of(server, admin)) as c:
        listed = c.get(f"{API}/audit", params=window).json()["items"]
        with c.stream("GET", f"{API}/audit/export.csv", params=window) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/csv")
            assert "attachment" in r.headers["content-disposition"]
            body = "".join(r.iter_text())
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [int(row["id"]) for row in rows] == [e["id"] for e in listed]
    for row, entry in zip(rows, listed, strict=True):
        assert row["action"] == entry["action"]
        assert row["result"] == entry["result"]
        assert row["site_id"] == (entry["site_id"] or "")
        assert datetime.fromisoformat(row["time"]) == datetime.fromisoformat(entry["time"])
        assert json.loads(row["details"]) == entry["details"]
