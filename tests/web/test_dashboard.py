"""The operator dashboard in a real browser against the real graph, step by step, as an
operator's shift goes: log in and watch the fleet move, plan a survey on the map, preview and
submit it, watch it progress, pause and resume it, see a battery failure raise the alarm,
replay the finished mission; a viewer sees no controls; the page survives a server restart.

The steps run in file order and share one graph and one bridge (starting them costs more
than all the steps); each keeps a screenshot in artifacts/dashboard/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from fleet_interfaces.srv import InjectFailure
from tests.web_bridge.conftest import token_of

from .conftest import Browser, Stack, at

pytestmark = [pytest.mark.ros, pytest.mark.browser]

SURVEY = [at(40, 30), at(160, 30), at(160, 130), at(40, 130)]  # about 1 min at 4x


def vehicle_positions(b: Browser) -> dict[str, list[float]]:
    return b.js("""Object.fromEntries([...window.__fleetStore.vehicles.values()]
        .filter(v => v.position)
        .map(v => [v.vehicle_id, [v.position.longitude, v.position.latitude]]))""")


def click_on_map(b: Browser, lon: float, lat: float) -> None:
    x, y = b.js(f"(() => {{ const p = window.__fleetMap.project([{lon}, {lat}]);"
                f" const r = window.__fleetMap.getCanvas().getBoundingClientRect();"
                f" return [r.left + p.x, r.top + p.y]; }})()")
    b.page.mouse.move(x, y)
    b.page.mouse.click(x, y)
    b.page.wait_for_timeout(150)


def submit_survey(stack: Stack, ring: list[dict[str, float]]) -> str:
    """Submit a small survey through the API as the operator; return its mission id."""
    token = token_of(stack.server, stack.users["operator"])
    coords = [[p["longitude"], p["latitude"]] for p in [*ring, ring[0]]]
    with stack.server.client(token) as c:
        r = c.post("/api/v1/missions", json={"site_id": stack.site, "spec": {
            "type": "survey", "altitude_m": 20.0, "speed_mps": 6.0, "pattern": "lawnmower",
            "area": {"type": "Polygon", "coordinates": [coords]},
            "camera": {"footprint_width_m": 20.0, "footprint_height_m": 15.0}}})
    assert r.status_code == 201, r.text
    return str(r.json()["mission_id"])


def test_an_operator_logs_in_and_sees_the_vehicles_on_the_map(stack: Stack, browser: Any) -> None:
    b = browser()
    b.login(stack.users["operator"])
    b.until("Number(document.querySelector('[data-testid=map]')"
            "?.dataset.vehiclesDrawn ?? 0) >= 3", 30, "three vehicles drawn")
    assert set(vehicle_positions(b)) == set(stack.vehicles)
    b.until("document.querySelectorAll('[data-testid=vehicle-row]').length === 3", 10,
            "three rows in the fleet table")
    assert b.page.locator("[data-testid=tab-plan]").count() == 1  # an operator may plan
    assert b.page.locator("[data-testid=tab-admin]").count() == 0  # but not administer
    b.shot("01-fleet-map")


def test_a_survey_is_drawn_previewed_submitted_paused_and_resumed(
        stack: Stack, browser: Any) -> None:
    b = browser()
    b.login(stack.users["operator"])
    # loaded() stays false while live GeoJSON updates stream in: wait for drawn vehicles.
    b.until("window.__fleetMap?.isStyleLoaded() && Number(document.querySelector("
            "'[data-testid=map]')?.dataset.vehiclesDrawn ?? 0) >= 3", 30, "the map loaded")
    b.page.click("[data-testid=tab-plan]")
    b.page.select_option("[data-testid=plan-type]", "survey")
    b.page.fill("[data-testid=plan-altitude]", "25")
    b.page.fill("[data-testid=plan-speed]", "8")
    ring = [(p["longitude"], p["latitude"]) for p in SURVEY]
    west, south = min(x for x, _ in ring), min(y for _, y in ring)
    east, north = max(x for x, _ in ring), max(y for _, y in ring)
    b.js(f"window.__fleetMap.fitBounds([[{west}, {south}], [{east}, {north}]],"
         " {padding: 120, duration: 0})")
    b.page.wait_for_timeout(300)
    b.page.click("[data-testid=plan-draw]")
    for lon, lat in ring:
        click_on_map(b, lon, lat)
    b.page.click("[data-testid=plan-finish]")
    b.page.click("[data-testid=plan-preview]")
    summary = b.page.locator("[data-testid=plan-summary]")
    summary.wait_for(timeout=30_000)
    assert "m" in summary.inner_text()  # a distance is shown
    b.shot("02-plan-preview")

    b.page.click("[data-testid=plan-submit]")
    created = b.page.locator("[data-testid=plan-created]")
    created.wait_for(timeout=30_000)
    mission_id = created.get_attribute("data-mission") or ""
    if not mission_id:
        found = re.search(r"Mission (\S+) submitted", created.inner_text())
        assert found, created.inner_text()
        mission_id = found.group(1)
    stack.shared["mission"] = mission_id

    b.page.click("[data-testid=tab-missions]")
    row = b.page.locator(f"[data-testid=mission-row][data-mission='{mission_id}']")
    row.wait_for(timeout=20_000)
    first = b.until(f"(() => {{ const m = window.__fleetStore.missions.get('{mission_id}');"
                    f" return m && m.progress_pct > 0 ? m.progress_pct : 0; }})()", 90,
                    "the survey's progress to advance")
    b.until(f"(() => {{ const m = window.__fleetStore.missions.get('{mission_id}');"
            f" return m && m.progress_pct > {first} + 1; }})()", 60, "more progress")
    b.shot("03-mission-under-way")

    row.click()
    b.page.click("[data-testid=mission-pause]")
    result = b.page.locator("[data-testid=mission-pause-result]")
    result.wait_for(timeout=30_000)
    assert "error" not in (result.get_attribute("class") or ""), result.inner_text()
    b.until(f"window.__fleetStore.missions.get('{mission_id}')?.state === 'paused'", 20,
            "the mission to show paused")
    b.shot("04-mission-paused")
    b.page.click("[data-testid=mission-resume]")
    result = b.page.locator("[data-testid=mission-resume-result]")
    result.wait_for(timeout=30_000)
    assert "error" not in (result.get_attribute("class") or ""), result.inner_text()
    b.until(f"['active', 'completed'].includes("
            f"window.__fleetStore.missions.get('{mission_id}')?.state)", 20,
            "the mission to fly on")


def test_a_battery_failure_raises_a_critical_alarm_linked_to_its_vehicle(
        stack: Stack, browser: Any) -> None:
    b = browser()
    b.login(stack.users["operator"])
    b.until("window.__fleetStore.vehicles.size === 3", 20, "the fleet")
    # A battery fault is critical only in the air (on the ground it is a warning): put a
    # vehicle in the air with a mission sent through the API, then fail its battery.
    mission_id = submit_survey(stack, [at(-60, -40), at(-20, -40), at(-20, -80), at(-60, -80)])
    victim = b.until(f"(() => {{ const m = window.__fleetStore.missions.get('{mission_id}');"
                     f" const v = m && window.__fleetStore.vehicles.get(m.vehicle_id);"
                     f" return v && v.relative_altitude_m > 8 ? v.vehicle_id : null; }})()",
                     90, "a vehicle in the air")
    inject = stack.graph.node("dashboard_failures").create_client(
        InjectFailure, "/fleet_sim/inject_failure")
    answer = stack.graph.call(inject, InjectFailure.Request(
        vehicle_id=victim, failure=InjectFailure.Request.FAILURE_BATTERY_FAULT, active=True),
        timeout=10.0)
    assert answer.success, answer.message
    try:
        banner = b.page.locator("[data-testid=alert-banner]")
        banner.wait_for(timeout=60_000)
        assert victim in banner.inner_text()
        b.page.click("[data-testid=tab-events]")
        b.page.locator("[data-testid=event-row][data-severity=critical]").first.wait_for(
            timeout=10_000)
        b.shot("05-battery-alarm")
        banner.get_by_role("button", name=f"Show {victim}").click()
        b.until(f"window.__fleetStore.selected === '{victim}'", 5, "the vehicle selected")
        b.page.locator("[data-testid=vehicle-detail]").wait_for(timeout=5_000)
        b.shot("06-vehicle-detail")
    finally:
        stack.graph.call(inject, InjectFailure.Request(
            vehicle_id=victim, failure=InjectFailure.Request.FAILURE_BATTERY_FAULT,
            active=False), timeout=10.0)


def test_the_finished_survey_is_replayed_on_the_map(stack: Stack, browser: Any) -> None:
    mission_id = stack.shared.get("mission")
    if mission_id is None:
        pytest.fail("the survey step did not create a mission")
    b = browser()
    b.login(stack.users["operator"])
    b.until(f"['completed', 'failed', 'aborted'].includes("
            f"window.__fleetStore.missions.get('{mission_id}')?.state)", 240,
            "the survey to finish")
    b.page.click("[data-testid=tab-history]")
    b.page.locator(f"[data-testid=history-mission][data-mission='{mission_id}']").click()
    b.page.click("[data-testid=history-load]")
    slider = b.page.locator("[data-testid=replay-slider]")
    slider.wait_for(timeout=30_000)
    start = float(slider.input_value())
    b.page.click("[data-testid=replay-play]")
    b.page.wait_for_timeout(1500)
    assert float(slider.input_value()) > start, "the replay's slider did not move"
    b.shot("07-replay")


def test_a_viewer_sees_the_fleet_but_no_controls(stack: Stack, browser: Any) -> None:
    mission_id = submit_survey(stack, [at(-30, 60), at(10, 60), at(10, 90), at(-30, 90)])
    b = browser()
    b.login(stack.users["viewer"])
    b.until("window.__fleetStore.vehicles.size === 3", 20, "the fleet")
    assert b.page.locator("[data-testid=tab-plan]").count() == 0
    b.page.click("[data-testid=tab-missions]")
    b.page.click("[data-testid=missions-filter-all]")
    b.page.locator(f"[data-testid=mission-row][data-mission='{mission_id}']").click()
    b.page.locator("[data-testid=mission-detail]").wait_for(timeout=10_000)
    b.page.wait_for_timeout(500)
    for control in ("pause", "resume", "abort", "return-home", "priority", "pin"):
        assert b.page.locator(f"[data-testid=mission-{control}]").count() == 0, control
    b.shot("08-viewer")


def test_the_page_reconnects_by_itself_after_the_server_restarts(
        stack: Stack, browser: Any) -> None:
    b = browser()
    b.login(stack.users["operator"])
    b.until("document.querySelector('[data-testid=conn]')?.dataset.phase === 'open'", 20,
            "the live connection")
    stack.restart_bridge(down_s=4.0)
    b.until("document.querySelector('[data-testid=conn-banner]')", 30, "the lost-link banner")
    b.shot("09-server-away")
    b.until("document.querySelector('[data-testid=conn]')?.dataset.phase === 'open'", 60,
            "the page to reconnect")
    assert b.page.locator("[data-testid=conn-banner]").count() == 0
    # The new bridge's first snapshot may precede its first /fleet/status.
    b.until("window.__fleetStore.vehicles.size === 3", 20, "the fleet after the restart")
    stamp = b.js("Math.max(...[...window.__fleetStore.vehicles.values()].map(v => v.stamp))")
    b.until(f"Math.max(...[...window.__fleetStore.vehicles.values()].map(v => v.stamp)) > {stamp}",
            20, "live updates after the reconnect")
    b.shot("10-reconnected")
