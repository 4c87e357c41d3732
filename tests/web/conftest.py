"""Fixtures of the dashboard's browser tests: the real graph (fleet_sim, fleet_manager,
mission_planner, telemetry_recorder) in a private DDS domain, a real bridge serving the built
page (web/dist), PostGIS, Redis, and Debian's chromium driven by Playwright.

The browser may talk to 127.0.0.1 only: every other request is aborted and fails the test.
Screenshots of each step are kept in ``artifacts/dashboard/`` (FLEET_ARTIFACTS to move it).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from rclpy.parameter import Parameter
from sqlalchemy import Engine, text

from fleet_core.geo import GeoPoint, LocalFrame
from tests.conftest import claimed_domain
from tests.web_bridge import conftest as _bridge_fixtures
from tests.web_bridge.conftest import (
    PASSWORD,
    TEST_URL,
    Accounts,
    BridgeServer,
    _clean_redis,
    bridge_settings,
)

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
CHROMIUM = os.environ.get("FLEET_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("FLEET_ARTIFACTS", ROOT / "artifacts")) / "dashboard"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic",
                 "--disable-dev-shm-usage"]

HOME = GeoPoint(47.397742, 8.545594, 488.0)
FRAME = LocalFrame.at(HOME)
# Rows the recorder stores for these vehicles are deleted after the module (vehicle ids are
# unique per run: a coordination event's key, "fm-1", is not, and must not meet another
# test's).
VEHICLE_TABLES = ("charging_sessions", "coordination_events", "flights", "missions",
                  "telemetry", "telemetry_1min", "telemetry_rollup_dirty")


web_db = _bridge_fixtures.web_db  # the migrated test database, a fixture here too


def at(east: float, north: float) -> dict[str, float]:
    g = FRAME.to_geo(east, north, 0.0)
    return {"latitude": g.latitude, "longitude": g.longitude, "altitude": 488.0}


@dataclass
class Stack:
    """The running graph and bridge, and the accounts made for them."""

    graph: Any
    server: BridgeServer
    site: str
    users: dict[str, str]  # role → username
    vehicles: tuple[str, ...]
    shared: dict[str, Any] = field(default_factory=dict)  # state handed between steps

    @property
    def url(self) -> str:
        return self.server.url

    def restart_bridge(self, down_s: float) -> None:
        """Stop the bridge, stay away ``down_s`` seconds, start it again on the same port."""
        settings = self.server.settings.model_copy(update={"port": self.server.port})
        self.server.stop()
        time.sleep(down_s)
        self.server = BridgeServer(settings).start()


def _write(tmp: Path, name: str, doc: dict[str, Any]) -> str:
    path = tmp / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


@pytest.fixture(scope="module")
def stack(web_db: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Start the whole graph and a bridge serving the built page, with one site and an
    admin, an operator and a viewer of it."""
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail(f"the dashboard is not built ({WEB_DIST}/index.html): run make setup")
    from fleet_manager.node import FleetManagerNode
    from fleet_ros.graph import RosGraph
    from fleet_sim.node import FleetSimNode
    from mission_planner.node import MissionPlannerNode
    from telemetry_recorder.node import TelemetryRecorderNode

    tmp = tmp_path_factory.mktemp("dashboard")
    acc = Accounts(web_db, f"t{secrets.token_hex(3)}", [], [])
    site = acc.site("field", HOME.latitude, HOME.longitude)
    vehicles = tuple(f"{acc.tag}v{i}" for i in range(3))
    users = {role: acc.user(role, (role, site)) for role in ("admin", "operator", "viewer")}
    station = {"id": f"{acc.tag}_pad", "location": at(-40.0, 0.0), "charge_rate_w": 3000.0,
               "pad_radius_m": 2.0, "pads": [{"east": 0.0, "north": 0.0}]}
    sim = _write(tmp, "sim.yaml", {"fleet_sim": {
        "seed": 7, "time_factor": 4.0, "link_timeout_s": 3000.0,
        "vehicles": [{"id": v, "home": at(30.0 * i, 0)} for i, v in enumerate(vehicles)],
        "charging_stations": [station]}})
    fleet = _write(tmp, "fleet.yaml", {"fleet_manager": {
        "origin": at(0, 0), "status_rate_hz": 2.0, "check_rate_hz": 4.0,
        "command_timeout_s": 2.0, "discovery": {"enabled": False},
        "vehicles": [{"id": v, "home_site": site} for v in vehicles],
        "liveness": {"stale_after_s": 3.0, "lost_after_s": 120.0},
        "separation": {"enabled": False}}})
    missions = _write(tmp, "missions.yaml", {"mission_planner": {
        "tick_rate_hz": 2.0, "command_timeout_s": 2.0, "charging_stations": [station]}})
    server: BridgeServer | None = None
    with claimed_domain() as domain:
        graph = RosGraph(domain_id=domain)
        try:
            graph.add(FleetSimNode(context=graph.context,
                                   parameter_overrides=[Parameter("config_file", value=sim)]))
            graph.add(FleetManagerNode(context=graph.context, parameter_overrides=[
                Parameter("config_file", value=fleet)]))
            planner = MissionPlannerNode(context=graph.context, parameter_overrides=[
                Parameter("config_file", value=missions),
                Parameter("fleet_config_file", value=fleet)])
            graph.add(planner)
            graph.add(TelemetryRecorderNode(context=graph.context, parameter_overrides=[
                Parameter("database_url", value=TEST_URL),
                Parameter("spool_dir", value=str(tmp / "spool")),
                Parameter("fleet_config_file", value=fleet)]))
            graph.wait_for(lambda: len(planner.candidates()) == len(vehicles), 30.0,
                           "the planner sees every vehicle")
            server = BridgeServer(bridge_settings(
                ros_domain_id=domain, web_dir=WEB_DIST, ack_timeout_s=15.0,
                access_token_ttl_s=900)).start()
            stack = Stack(graph, server, site, users, vehicles)
            yield stack
        finally:
            if server is not None:
                stack.server.stop()
                _clean_redis({stack.server.settings.redis_prefix})
            graph.close()
            _forget(web_db, acc, vehicles)


def _forget(engine: Engine, acc: Accounts, vehicles: tuple[str, ...]) -> None:
    """Delete what the module made: its vehicles' rows, missions of its site, its users and
    its site."""
    with engine.begin() as conn:
        for table in VEHICLE_TABLES:
            conn.execute(text(f"delete from {table} where vehicle_id = any(:v)"),
                         {"v": list(vehicles)})
        conn.execute(text("delete from vehicles where id = any(:v)"), {"v": list(vehicles)})
        conn.execute(text("delete from missions where site_id = any(:s) or created_by like :p"),
                     {"s": acc.sites, "p": f"{acc.tag}%"})
        conn.execute(text("delete from audit_log where user_id = any(:u) or username like :p"),
                     {"u": acc.users, "p": f"{acc.tag}%"})
        conn.execute(text("delete from users where id = any(:u)"), {"u": acc.users})
        conn.execute(text("update vehicles set site_id = null where site_id = any(:s)"),
                     {"s": acc.sites})
        conn.execute(text("delete from sites where id = any(:s)"), {"s": acc.sites})


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's chromium under Playwright (never a downloaded browser).

    Module-scoped: Playwright's sync API keeps an asyncio loop running on this thread while
    it is open, and a later test's ``asyncio.run`` would refuse to start."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make setup installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Browser:
    """One browser context (one operator's tab), watching what the page asks and says."""

    page: Any
    base: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        """Keep a screenshot of the page as a test artifact."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def login(self, username: str, password: str = PASSWORD) -> None:
        self.page.goto(self.base + "/")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_selector(".shell", timeout=20_000)

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def until(self, expression: str, timeout_s: float, what: str) -> Any:
        """Wait until a JS expression is truthy in the page; return its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.page.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                self.shot(f"timeout-{what.replace(' ', '-')[:40]}")
                raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
            self.page.wait_for_timeout(250)


@pytest.fixture
def browser(chromium: Any, stack: Stack) -> Iterator[Callable[..., Browser]]:
    """Yield ``browser(width, height)`` → a fresh context; each fails its test on a request to
    another host than 127.0.0.1 or an uncaught page error."""
    contexts: list[tuple[Any, Browser]] = []

    def make(width: int = 1366, height: int = 768) -> Browser:
        context = chromium.new_context(viewport={"width": width, "height": height})
        b = Browser(context.new_page(), stack.url)

        def guard(route: Any) -> None:
            host = urlsplit(route.request.url).hostname
            if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
                route.continue_()
            else:
                b.foreign.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        b.page.on("pageerror", lambda e: b.errors.append(str(e)))
        contexts.append((context, b))
        return b

    yield make
    for context, b in contexts:
        context.close()
        assert not b.foreign, f"the page asked another host than 127.0.0.1: {b.foreign[:5]}"
        assert not b.errors, f"uncaught errors in the page: {b.errors[:5]}"


@pytest.fixture(scope="session", autouse=True)
def fresh_artifacts() -> None:
    """Start each run with an empty screenshot folder."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
