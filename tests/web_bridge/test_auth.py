"""Accounts over HTTP: login, refresh rotation with reuse detection, logout, roles, audit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from .conftest import PASSWORD, Accounts, login, token_of


def _audit(accounts: Accounts, username: str) -> list[Any]:
    with accounts.engine.connect() as conn:
        return list(conn.execute(text(
            "select action, result, status_code, role, method from audit_log "
            "where username = :u or target_id = :u order by id"), {"u": username}))


def test_login_gives_a_token_that_says_who_i_am(start_bridge: Any, accounts: Accounts) -> None:
    site = accounts.site("north")
    name = accounts.user("op", ("operator", site))
    server = start_bridge(with_ros=False)
    with server.client(token_of(server, name)) as c:
        me = c.get("/api/v1/auth/me").json()
    assert me["username"] == name
    assert me["grants"] == [{"role": "operator", "site_id": site}]
    assert me["sites"] == [site]


def test_a_wrong_password_is_refused_and_audited(start_bridge: Any, accounts: Accounts) -> None:
    name = accounts.user("v", ("viewer", None))
    server = start_bridge(with_ros=False)
    with server.client() as c:
        r = c.post("/api/v1/auth/login", data={"username": name, "password": "wrong one!!"})
    assert r.status_code == 401
    assert "wrong username or password" in r.json()["detail"]
    assert ("login", "refused", 401) in [(a, r, s) for a, r, s, _, _ in _audit(accounts, name)]


def test_refresh_rotates_and_a_reused_token_revokes_the_whole_login(
        start_bridge: Any, accounts: Accounts) -> None:
    name = accounts.user("v", ("viewer", None))
    server = start_bridge(with_ros=False)
    first = login(server, name)
    with server.client() as c:
        r1 = c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r1.status_code == 200, r1.text
        second = r1.json()
        assert second["refresh_token"] != first["refresh_token"]
        # The old token again: a replay. Refused, and the successor dies with it.
        r2 = c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r2.status_code == 401
        assert "already used" in r2.json()["detail"]
        r3 = c.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert r3.status_code == 401
        assert "revoked" in r3.json()["detail"]
    # Access tokens of that user issued before the replay are void too.
    with server.client(second["access_token"]) as c:
        assert c.get("/api/v1/auth/me").status_code == 401


def test_the_refresh_cookie_is_http_only_and_rotates(start_bridge: Any,
                                                     accounts: Accounts) -> None:
    name = accounts.user("v", ("viewer", None))
    server = start_bridge(with_ros=False)
    with server.client() as c:
        r = c.post("/api/v1/auth/login", data={"username": name, "password": PASSWORD})
        cookie = r.headers["set-cookie"]
        assert "fleet_refresh=" in cookie
        assert "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower()
        before = c.cookies.get("fleet_refresh")
        r = c.post("/api/v1/auth/refresh")
        assert r.status_code == 200, r.text
        assert c.cookies.get("fleet_refresh") not in (None, before)


def test_logout_revokes_the_access_token(start_bridge: Any, accounts: Accounts) -> None:
    name = accounts.user("v", ("viewer", None))
    server = start_bridge(with_ros=False)
    tokens = login(server, name)
    with server.client(tokens["access_token"]) as c:
        assert c.post("/api/v1/auth/logout",
                      json={"refresh_token": tokens["refresh_token"]}).status_code == 204
        r = c.get("/api/v1/auth/me")
    assert r.status_code == 401
    assert "revoked" in r.json()["detail"]
    with server.client() as c:
        assert c.post("/api/v1/auth/refresh",
                      json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_garbage_tokens_are_refused_with_a_reason(start_bridge: Any) -> None:
    server = start_bridge(with_ros=False)
    with server.client("not.a.jwt") as c:
        r = c.get("/api/v1/auth/me")
    assert r.status_code == 401
    assert "token is invalid" in r.json()["detail"]
    with server.client() as c:
        r = c.get("/api/v1/auth/me")
    assert r.status_code == 401
    assert "not authenticated" in r.json()["detail"]


def test_only_an_admin_manages_users_and_a_viewer_is_told_why(
        start_bridge: Any, accounts: Accounts) -> None:
    site = accounts.site("north")
    admin = accounts.user("admin", ("admin", None))
    viewer = accounts.user("viewer", ("viewer", site))
    server = start_bridge(with_ros=False)
    with server.client(token_of(server, viewer)) as c:
        r = c.get("/api/v1/users")
    assert r.status_code == 403
    assert "admin" in r.json()["detail"]
    with server.client(token_of(server, admin)) as c:
        r = c.post("/api/v1/users", json={"username": f"{accounts.tag}_new",
                                          "password": "long enough pw",
                                          "grants": [{"role": "operator", "site_id": site}]})
        assert r.status_code == 201, r.text
        accounts.users.append(r.json()["id"])
        bad = c.post("/api/v1/users", json={"username": f"{accounts.tag}_x",
                                            "password": "long enough pw",
                                            "grants": [{"role": "pilot"}]})
        assert bad.status_code == 422
        assert "grants" in bad.json()["detail"]
        missing = c.post("/api/v1/users", json={"username": f"{accounts.tag}_y",
                                                "password": "long enough pw",
                                                "grants": [{"role": "viewer",
                                                            "site_id": "nowhere"}]})
        assert missing.status_code == 422
        assert "site 'nowhere' does not exist" in missing.json()["detail"]
    entries = _audit(accounts, viewer)
    assert any(status == 403 and result == "refused" for _, result, status, _, _ in entries)


def test_the_login_rate_limit_answers_429_with_retry_after(start_bridge: Any,
                                                          accounts: Accounts) -> None:
    name = accounts.user("v", ("viewer", None))
    server = start_bridge(with_ros=False, login_rate_limit_per_minute=3)
    with server.client() as c:
        codes = [c.post("/api/v1/auth/login",
                        data={"username": name, "password": "wrong one!!"}).status_code
                 for _ in range(4)]
        r = c.post("/api/v1/auth/login", data={"username": name, "password": PASSWORD})
    assert codes[:3] == [401, 401, 401]
    assert codes[3] == 429
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
