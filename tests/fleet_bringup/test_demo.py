"""`make demo` end to end, without the launch system: the whole graph and the dashboard play
the scripted scenario; every mission is dispatched and completed (the preempted survey
resumed), stored in PostGIS, served over REST and pushed over the WebSocket; the vehicles are
in /fleet/status; and the demo stops cleanly, also on a double Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from shapely.geometry import LineString, Polygon
from sqlalchemy import Engine, text
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from fleet_bringup import demo
from fleet_bringup.cleanup import forget_tag
from fleet_bringup.scenario import Narrator, ScenarioReport
from fleet_bringup.stack import StackOptions
from fleet_core.dispatch.state import MissionState
from tests.conftest import claimed_domain
from tests.fleet_bringup.conftest import WEB_DIST
from tests.web_bridge.conftest import REDIS_URL, TEST_URL, _clean_redis, bridge_settings

TIME_FACTOR = 15.0  # the scenario in about a minute
VEHICLES = 6


def test_a_time_factor_out_of_range_is_refused_naming_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        demo.main(["--time-factor", "50"])
    assert exit_info.value.code == 2
    assert "--time-factor (TIME_FACTOR) must be 0.5..20, got 50" in capsys.readouterr().err


def test_the_vehicle_count_comes_from_the_environment_and_is_checked(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VEHICLES", "2")
    with pytest.raises(SystemExit):
        demo.main([])
    assert "--vehicles (VEHICLES) must be 5..500 for the scenario, got 2" in \
        capsys.readouterr().err


class WsWatch:
    """The dashboard's view: the WebSocket's missions and fleet channels, kept as they come."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.states: dict[str, list[str]] = {}  # mission id -> states pushed, in order
        self.vehicles: set[str] = set()
        for channel in ("missions", "fleet"):
            ws.send(json.dumps({"type": "subscribe", "channel": channel}))
        self._thread = threading.Thread(target=self._read, name="test-ws", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            for raw in self.ws:
                self._take(json.loads(raw))

    def _take(self, m: dict[str, Any]) -> None:
        data = m.get("data")
        if m.get("channel") == "missions" and m["type"] in ("snapshot", "update"):
            for mission in data if isinstance(data, list) else [data]:
                seen = self.states.setdefault(mission["mission_id"], [])
                if not seen or seen[-1] != mission["state"]:
                    seen.append(mission["state"])
        elif m.get("channel") == "fleet" and isinstance(data, list):
            self.vehicles.update(v["vehicle_id"] for v in data if "vehicle_id" in v)

    def join(self) -> None:
        self._thread.join(5.0)


@contextlib.contextmanager
def ws_watch(base: str, token: str) -> Iterator[WsWatch]:
    """Watch the WebSocket as the dashboard does, with a ticket bought with ``token``."""
    ticket = httpx.post(f"{base}/api/v1/auth/ws-ticket", timeout=10,
                        headers={"Authorization": f"Bearer {token}"}).json()["ticket"]
    with connect(f"{base.replace('http', 'ws', 1)}/api/v1/ws?ticket={ticket}",
                 open_timeout=10) as ws:
        watch = WsWatch(ws)
        try:
            yield watch
        finally:
            ws.close()
            watch.join()


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def _until(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.2)
    return value


@contextlib.contextmanager
def stderr_into(path: Path) -> Iterator[None]:
    """Send file descriptor 2 (rclpy's log lines, Python's tracebacks) to ``path``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("w") as f:
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


@pytest.fixture(scope="module")
def played(web_db: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Run the demo's session in this process, play the scenario, ask the running bridge,
    then stop it all; yield what was seen, with what was written to stderr meanwhile."""
    tag = f"t{secrets.token_hex(3)}_"
    tmp = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    seen: dict[str, Any] = {"lines": lines}
    opts = StackOptions(VEHICLES, TIME_FACTOR, tag=tag, database_url=TEST_URL,
                        spool_dir=str(tmp / "spool"), ros_log_level="error")
    prefixes: set[str] = set()
    try:
        with claimed_domain() as domain, stderr_into(tmp / "stderr.txt"):
            settings = bridge_settings(ros_domain_id=domain, web_dir=WEB_DIST)
            prefixes.add(settings.redis_prefix)
            with demo.demo_session(opts, settings, stop=threading.Event(),
                                   say=Narrator(lines.append), domain_id=domain,
                                   username=f"{tag}demo") as session:
                seen["login"] = session.login
                seen["configs"] = session.stack.fleet.configs
                base = session.stack.bridge.url.rstrip("/")
                token = httpx.post(f"{base}/api/v1/auth/login", timeout=30, data={
                    "username": session.login.username,
                    "password": session.login.password}).json()["access_token"]
                with ws_watch(base, token) as ws:
                    seen["ws"] = ws
                    seen["status"] = set(session.scenario.watch.ready())
                    seen["report"] = report = session.scenario.run()
                    with httpx.Client(base_url=base, timeout=30, headers={
                            "Authorization": f"Bearer {token}"}) as api:
                        seen["rest"] = {run.mission_id: api.get(
                            f"/api/v1/missions/{run.mission_id}")
                            for run in report.missions.values()}
                        seen["page"] = api.get("/")
                    time.sleep(1.0)  # the last pushes
        seen["threads"] = [t.name for t in threading.enumerate()]
        seen["stderr"] = (tmp / "stderr.txt").read_text()
        yield seen
    finally:
        _clean_redis(prefixes)
        forget_tag(web_db, tag)


@pytest.mark.ros
def test_the_scenario_plays_end_to_end_and_is_seen_everywhere(
        played: dict[str, Any], web_db: Engine) -> None:
    report: ScenarioReport = played["report"]
    configs = played["configs"]
    assert report.ok, "\n".join(played["lines"])
    assert played["status"] == set(configs.vehicle_ids)  # every vehicle in /fleet/status
    roles = report.missions
    assert set(roles) == {"survey", "delivery", "preempted_survey", "emergency"}
    assert {run.state for run in roles.values()} == {MissionState.COMPLETED}

    # The low-battery return: the first vehicle went home, another finished the survey.
    survey = roles["survey"]
    assert survey.vehicles[0] == report.low_battery_vehicle
    assert len(survey.vehicles) >= 2
    # The emergency took the surveying vehicle; the survey resumed on another.
    emergency, preempted = roles["emergency"], roles["preempted_survey"]
    assert preempted.preempted
    assert emergency.vehicles == [preempted.vehicles[0]]
    assert preempted.vehicles[-1] != emergency.vehicles[0]
    # The delivery was planned around the zone set across its route.
    assert report.zone is not None
    zone = Polygon([(p.longitude, p.latitude) for p in report.zone.polygon])
    path = LineString([(p.longitude, p.latitude) for p in report.delivery_path])
    assert not path.intersects(zone)
    # The charging cycle.
    assert report.charge is not None
    assert report.charge.success
    assert report.charge.charged_pct >= report.charge.target_pct - 1.0

    # PostGIS: each mission's row, completed by its last vehicle, at the fleet's site.
    ids = [run.mission_id for run in roles.values()]
    rows = _until(lambda: (r := _rows(web_db, "select id, status, vehicle_id, site_id from "
                                      "missions where id = any(:ids)", ids=ids))
                  and all(x.status == "completed" for x in r) and len(r) == len(ids) and r,
                  20.0, "the missions completed in PostGIS")
    assert {r.id: r.vehicle_id for r in rows} == {run.mission_id: run.vehicles[-1]
                                                    for run in roles.values()}
    assert {r.site_id for r in rows} == {configs.site_id}
    reasons = [r.reason for r in _rows(web_db, "select reason from mission_events where "
                                       "mission_id = :m", m=preempted.mission_id)]
    assert any(f"preempted by {emergency.mission_id}" in (r or "") for r in reasons)

    # REST: the same missions, completed, by the same vehicles.
    for run in roles.values():
        answer = played["rest"][run.mission_id]
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "completed"
        assert answer.json()["vehicle_id"] == run.vehicles[-1]
    assert played["page"].status_code == 200  # the dashboard itself
    assert "<html" in played["page"].text.lower()

    # WebSocket: each mission pushed as it went, active then completed; the whole fleet.
    ws = played["ws"]
    for run in roles.values():
        states = ws.states.get(run.mission_id, [])
        assert "active" in states, (run.mission_id, states)
        assert states[-1] == "completed", (run.mission_id, states)
    assert ws.states[preempted.mission_id].count("active") >= 2  # before and after
    assert ws.vehicles == set(configs.vehicle_ids)


@pytest.mark.ros
def test_the_demo_session_stops_cleanly_and_removes_its_login(
        played: dict[str, Any], web_db: Engine) -> None:
    assert not [n for n in played["threads"] if n == "ros-graph" or n.startswith("web-bridge")]
    assert "Traceback" not in played["stderr"]
    assert "context is invalid" not in played["stderr"]
    assert not [line for line in played["lines"] if "did not go as scripted" in line]
    assert not _rows(web_db, "select 1 from users where username = :u",
                     u=played["login"].username)


@pytest.mark.ros
def test_ctrl_c_twice_stops_the_demo_cleanly_leaving_no_process(
        web_db: Engine, tag: str, tmp_path: Path) -> None:
    prefix = f"fleettest:{tag}"
    with claimed_domain() as domain:
        env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "FLEET_DATABASE_URL": TEST_URL,
               "FLEET_REDIS_URL": REDIS_URL, "FLEET_REDIS_PREFIX": prefix,
               "FLEET_ARGON2_TIME_COST": "1", "FLEET_ARGON2_MEMORY_KIB": "64",
               "FLEET_WEB_DIR": str(WEB_DIST), "XDG_STATE_HOME": str(tmp_path),
               "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "fleet_bringup.demo", "--vehicles", "5", "--time-factor",
             "10", "--port", "0", "--tag", tag], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")),
                                  daemon=True)  # type: ignore[union-attr]
        reader.start()
        try:
            _until(lambda: any(re.search(r": active on ", line) for line in out), 120.0,
                   "a mission flying (the demo's output: " + "".join(out)[-1500:] + ")")
            os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole group
            time.sleep(0.1)  # the stop takes about half a second: a second press within it
            os.killpg(proc.pid, signal.SIGINT)
            code = proc.wait(60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            _clean_redis({prefix})
        reader.join(5.0)
        err = proc.stderr.read()  # type: ignore[union-attr]
    text_out = "".join(out)
    assert code == 0, text_out[-2000:] + err[-2000:]
    assert "demo stopped" in text_out
    assert "Traceback" not in err
    assert "context is invalid" not in text_out + err
    assert err.count("stopping") <= 2  # the second Ctrl-C only says the stop is under way
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # nothing left of its process group
    assert not _rows(web_db, "select 1 from users where username = :u", u=f"{tag}demo")
