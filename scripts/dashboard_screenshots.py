"""Take the dashboard screenshots in docs/img/ from a running stack.

    python -m fleet_bringup.stack --vehicles 12 --time-factor 2 &   # then, as an admin:
    python scripts/dashboard_screenshots.py --user admin --password ... [--url ...]

Flies two surveys through the API, waits until they are under way, and shoots the map with
missions, the planner's preview of a drawn survey, a replay of a finished mission and the
reports, in Debian's chromium at 1366x768 (Playwright; loopback only).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic"]
HOME = (47.397742, 8.545594)


def square(lat: float, lon: float, d_lat: float, d_lon: float) -> list[list[float]]:
    ring = [[lon, lat], [lon + d_lon, lat], [lon + d_lon, lat + d_lat], [lon, lat + d_lat]]
    return [*ring, ring[0]]


def fly(api: httpx.Client, ring: list[list[float]], site: str | None) -> str:
    r = api.post("/api/v1/missions", json={"site_id": site, "spec": {
        "type": "survey", "altitude_m": 30.0, "speed_mps": 6.0, "pattern": "lawnmower",
        "area": {"type": "Polygon", "coordinates": [ring]},
        "camera": {"footprint_width_m": 30.0, "footprint_height_m": 20.0}}})
    r.raise_for_status()
    return str(r.json()["mission_id"])


def click_map(page: Any, lon: float, lat: float) -> None:
    x, y = page.evaluate(f"(() => {{ const p = window.__fleetMap.project([{lon}, {lat}]);"
                         " const r = window.__fleetMap.getCanvas().getBoundingClientRect();"
                         " return [r.left + p.x, r.top + p.y]; })()")
    page.mouse.click(x, y)
    page.wait_for_timeout(200)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--site", default="zurich")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    a = ap.parse_args()
    if not a.url.startswith(("http://127.0.0.1", "http://localhost")):
        ap.error("--url must be on this machine (127.0.0.1)")
    a.out.mkdir(parents=True, exist_ok=True)
    token = httpx.post(f"{a.url}/api/v1/auth/login", data={
        "username": a.user, "password": a.password}, timeout=30).json()["access_token"]
    with httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as api:
        missions = [fly(api, square(HOME[0] + 0.0012, HOME[1] - 0.0035, 0.0012, 0.0022), a.site),
                    fly(api, square(HOME[0] - 0.0028, HOME[1] + 0.0005, 0.0010, 0.0020), a.site)]
    print("flying", missions)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(a.url + "/")
        page.fill("input[name=username]", a.user)
        page.fill("input[name=password]", a.password)
        page.click("button[type=submit]")
        page.wait_for_selector(".shell")
        time.sleep(40)  # the surveys under way, trails drawn
        page.click("[data-testid=tab-missions]")
        page.locator(f"[data-testid=mission-row][data-mission='{missions[0]}']").click()
        time.sleep(2)
        page.click("[data-testid=fit-fleet]")
        time.sleep(2)
        page.screenshot(path=str(a.out / "dashboard-missions.png"))
        page.click("[data-testid=tab-fleet]")
        page.locator("[data-testid=vehicle-row]").first.click()
        time.sleep(3)
        page.screenshot(path=str(a.out / "dashboard-vehicle.png"))
        page.keyboard.press("Escape")

        page.click("[data-testid=tab-plan]")
        page.select_option("[data-testid=plan-type]", "survey")
        ring = square(HOME[0] + 0.0018, HOME[1] + 0.0008, 0.0012, 0.0018)[:-1]
        page.evaluate(f"window.__fleetMap.fitBounds([[{ring[0][0]}, {ring[0][1]}], "
                      f"[{ring[2][0]}, {ring[2][1]}]], {{padding: 140, duration: 0}})")
        time.sleep(1)
        page.click("[data-testid=plan-draw]")
        for lon, lat in ring:
            click_map(page, lon, lat)
        page.click("[data-testid=plan-finish]")
        page.click("[data-testid=plan-preview]")
        page.locator("[data-testid=plan-summary]").wait_for(timeout=30_000)
        page.locator("[data-testid=plan-summary]").scroll_into_view_if_needed()
        time.sleep(1)
        page.screenshot(path=str(a.out / "dashboard-plan.png"))

        page.click("[data-testid=tab-history]")
        done = page.locator("[data-testid=history-mission]")
        done.first.wait_for(timeout=20_000)
        done.first.click()
        page.click("[data-testid=history-load]")
        page.locator("[data-testid=replay-slider]").wait_for(timeout=30_000)
        page.click("[data-testid=replay-play]")
        time.sleep(4)
        page.screenshot(path=str(a.out / "dashboard-replay.png"))

        page.click("[data-testid=tab-reports]")
        page.select_option("[data-testid=reports-site]", a.site)
        page.click("[data-testid=reports-last-7]")
        page.click("[data-testid=reports-load]")
        page.locator("[data-testid=reports-cards]").wait_for(timeout=60_000)
        time.sleep(8)
        page.screenshot(path=str(a.out / "dashboard-reports.png"))
        page.click("[data-testid=theme-toggle]")
        page.click("[data-testid=tab-fleet]")
        time.sleep(2)
        page.screenshot(path=str(a.out / "dashboard-light.png"))
        browser.close()
    print("saved in", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
