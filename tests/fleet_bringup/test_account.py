"""The demo's login: made for one run with a new password, removed at its end, and never
confused with a real user of the same name."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import Engine, text

from fleet_bringup.account import (
    DEMO_MARK,
    create_demo_login,
    demo_login_exists,
    new_password,
    remove_demo_login,
)
from tests.web_bridge.conftest import TEST_URL, Accounts
from web_bridge.security import Passwords

CHEAP = Passwords(time_cost=1, memory_kib=64)


def test_a_demo_password_is_three_groups_of_four_easy_to_type_characters() -> None:
    passwords = {new_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(re.fullmatch(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}", p) for p in passwords)


def test_the_demo_login_is_an_operator_of_its_site_and_goes_at_the_end(
        web_db: Engine, tag: str, start_bridge: object) -> None:
    acc = Accounts(web_db, tag.rstrip("_"), [], [])
    site = acc.site("field")
    login = create_demo_login(TEST_URL, site, username=f"{tag}demo", passwords=CHEAP)
    assert login.username == f"{tag}demo"
    server = start_bridge(with_ros=False)  # type: ignore[operator]
    with server.client() as c:
        r = c.post("/api/v1/auth/login", data={"username": login.username,
                                               "password": login.password})
        assert r.status_code == 200, r.text
        me = httpx.get(f"{server.url}/api/v1/auth/me", timeout=10, headers={
            "Authorization": f"Bearer {r.json()['access_token']}"}).json()
    assert [(g["role"], g["site_id"]) for g in me["grants"]] == [("operator", site)]
    remove_demo_login(TEST_URL, login)
    assert not demo_login_exists(TEST_URL, login)


def test_a_login_left_by_a_killed_demo_is_replaced(web_db: Engine, tag: str) -> None:
    first = create_demo_login(TEST_URL, None, username=f"{tag}demo", passwords=CHEAP)
    second = create_demo_login(TEST_URL, None, username=f"{tag}demo", passwords=CHEAP)
    assert second.username == first.username
    assert not demo_login_exists(TEST_URL, first)
    assert second.password != first.password
    remove_demo_login(TEST_URL, second)


def test_a_real_user_of_the_same_name_is_never_touched(web_db: Engine, tag: str) -> None:
    acc = Accounts(web_db, tag.rstrip("_"), [], [])
    real = acc.user("demo", ("viewer", None))  # named <tag>_demo, with PASSWORD
    login = create_demo_login(TEST_URL, None, username=real, passwords=CHEAP)
    assert login.username.startswith(f"{real}-")
    remove_demo_login(TEST_URL, login)
    with web_db.connect() as conn:
        kept = conn.execute(text("select display_name from users where username = :u"),
                            {"u": real}).one()
    assert kept.display_name != DEMO_MARK
