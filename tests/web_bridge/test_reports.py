"""Reports over REST: every figure of the JSON and the CSV equals what independent SQL over
the same rows says; the PDFs render (page 1 is converted to PNG to be looked at)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from fleet_db.models import MISSION_STATUSES

from .conftest import Accounts, BridgeServer, token_of
from .fleet_rows import FleetRows, Scenario, scenario

API = "/api/v1/reports"
# Where the PNGs of the PDFs' first pages are left for a human to look at.
PNG_DIR = Path("/tmp/web_bridge_reports")


@pytest.fixture
def world(accounts: Accounts) -> Iterator[Scenario]:
    """Yield the shared scenario, its rows deleted after the test."""
    with FleetRows(accounts) as rows:
        yield scenario(rows)


def _period(w: Scenario) -> dict[str, str]:
    return {"t0": w.t0.isoformat(), "t1": w.t1.isoformat()}


def expected_summary(conn: Connection, sites: list[str], t0: datetime,
                     t1: datetime) -> dict[str, Any]:
    """Compute every summary figure of ``sites`` with its own SQL, straight from the rows."""
    p = {"sites": sites, "t0": t0, "t1": t1}

    def one(sql: str) -> Any:
        return conn.execute(text(sql), p).scalar_one()

    vehicles = one("select count(*) from vehicles where site_id = any(:sites)")
    by_state = dict.fromkeys(MISSION_STATUSES, 0)
    for status, n in conn.execute(text(
            "select status, count(*) from missions where site_id = any(:sites) "
            "and created_at >= :t0 and created_at < :t1 group by status"), p):
        by_state[status] = n
    finished = one("select count(*) from missions where site_id = any(:sites) and "
                   "status in ('completed', 'aborted', 'failed') and ended_at >= :t0 "
                   "and ended_at < :t1")
    completed = one("select count(*) from missions where site_id = any(:sites) and "
                    "status = 'completed' and ended_at >= :t0 and ended_at < :t1")
    # Clip each overlapping flight to the period, in seconds.
    flight_s = one("""
        select coalesce(sum(extract(epoch from
                   case when f.ended_at > :t1 then :t1 else f.ended_at end
                 - case when f.started_at < :t0 then :t0 else f.started_at end)), 0)
        from flights f where f.vehicle_id in (select id from vehicles
                                              where site_id = any(:sites))
          and f.started_at < :t1 and f.ended_at > :t0""")
    started = ("from flights where vehicle_id in (select id from vehicles where "
               "site_id = any(:sites)) and started_at >= :t0 and started_at < :t1")
    flights = one(f"select count(*) {started}")
    distance_m = one(f"select coalesce(sum(distance_m), 0) {started}")
    energy_wh, energy_m = conn.execute(text(
        f"select sum(energy_wh), sum(distance_m) {started} and energy_wh is not null"),
        p).one()
    waits = [w for (w,) in conn.execute(text(
        "select cs.queue_wait_s from charging_sessions cs where cs.station_id in "
        "(select id from charging_stations where site_id = any(:sites)) "
        "and cs.requested_at >= :t0 and cs.requested_at < :t1"), p)]
    known = sorted(w for w in waits if w is not None)
    p95 = one("select percentile_cont(0.95) within group (order by queue_wait_s) "
              "from charging_sessions where station_id in (select id from charging_stations "
              "where site_id = any(:sites)) and requested_at >= :t0 and requested_at < :t1")
    hours = float(flight_s) / 3600
    period_h = (t1 - t0).total_seconds() / 3600
    return {
        "vehicles": vehicles, "missions_by_state": by_state, "finished": finished,
        "completed": completed, "success_rate": completed / finished if finished else None,
        "flight_hours": hours, "utilisation": hours / (vehicles * period_h) if vehicles else None,
        "flights": flights, "distance_km": float(distance_m) / 1000,
        "energy_wh": energy_wh,
        "energy_per_km_wh": energy_wh / (energy_m / 1000) if energy_wh is not None else None,
        "charging_sessions": len(waits),
        "charging_wait_mean_s": sum(known) / len(known) if known else None,
        "charging_wait_p95_s": p95, "charging_wait_max_s": max(known) if known else None,
    }


def assert_figures(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Assert each expected figure (floats to 1e-9 relative: sums may be ordered apart)."""
    for name, value in expected.items():
        got = actual[name]
        if isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-9, abs=1e-12), name
        else:
            assert got == value, name


def csv_summary(row: dict[str, str]) -> dict[str, Any]:
    """Read a summary CSV row back into the JSON's shape."""
    ints = {"vehicles", "finished", "completed", "flights", "charging_sessions"}
    out: dict[str, Any] = {"missions_by_state": {
        s: int(row[f"missions_{s}"]) for s in MISSION_STATUSES}}
    for name, value in row.items():
        if name.startswith("missions_") or name in ("site_id", "t0", "t1"):
            continue
        out[name] = None if value == "" else int(value) if name in ints else float(value)
    return out


def _get(server: BridgeServer, token: str, path: str, **params: Any) -> Any:
    with server.client(token) as c:
        r = c.get(path, params=params)
    assert r.status_code == 200, r.text
    return r


def render_page_one(pdf: bytes, name: str) -> Path:
    """Check ``pdf`` is a PDF and convert its first page to PNG_DIR/<name>.png."""
    assert pdf.startswith(b"%PDF")
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    (PNG_DIR / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                    str(PNG_DIR / f"{name}.pdf"), str(PNG_DIR / name)],
                   check=True, timeout=30)
    png = PNG_DIR / f"{name}.png"
    assert png.stat().st_size > 5000  # a blank page is a few hundred bytes
    return png


def test_a_site_report_equals_sql_over_its_rows_in_json_and_csv(
        start_bridge: Any, accounts: Accounts, world: Scenario) -> None:
    server = start_bridge(with_ros=False)
    token = token_of(server, accounts.user("a", ("viewer", world.site_a)))
    path = f"{API}/sites/{world.site_a}"
    as_json = _get(server, token, path, **_period(world)).json()
    as_csv = list(csv.DictReader(io.StringIO(
        _get(server, token, path, format="csv", **_period(world)).text)))
    with accounts.engine.connect() as conn:
        expected = expected_summary(conn, [world.site_a], world.t0, world.t1)
    assert_figures(as_json, expected)
    assert len(as_csv) == 1
    assert as_csv[0]["site_id"] == world.site_a
    assert_figures(csv_summary(as_csv[0]), expected)
    # And by hand, for the figures a reader checks first.
    assert as_json["success_rate"] == 0.5  # survey1 and "before" of 4 finished
    assert as_json["missions_by_state"]["completed"] == 2  # survey1, "after"
    assert as_json["flight_hours"] == pytest.approx((30 + 25 + 10) / 60)
    assert as_json["energy_per_km_wh"] == pytest.approx(38.5 / 1.1)  # va2 flew off before t0
    assert as_json["charging_wait_max_s"] == 90.0


def test_the_organisation_report_sums_my_sites_and_equals_sql(
        start_bridge: Any, accounts: Accounts, world: Scenario) -> None:
    server = start_bridge(with_ros=False)
    token = token_of(server, accounts.user(
        "ab", ("viewer", world.site_a), ("viewer", world.site_b)))
    as_json = _get(server, token, f"{API}/organisation", **_period(world)).json()
    as_csv = {row["site_id"]: row for row in csv.DictReader(io.StringIO(_get(
        server, token, f"{API}/organisation", format="csv", **_period(world)).text))}
    sites = [world.site_a, world.site_b]
    assert [s["site_id"] for s in as_json["sites"]] == sites
    with accounts.engine.connect() as conn:
        for site, report in zip(sites, as_json["sites"], strict=True):
            expected = expected_summary(conn, [site], world.t0, world.t1)
            assert_figures(report, expected)
            assert_figures(csv_summary(as_csv[site]), expected)
        total = expected_summary(conn, sites, world.t0, world.t1)
    assert_figures(as_json["total"], total)
    assert_figures(csv_summary(as_csv["total"]), total)
    assert as_json["total"]["vehicles"] == 3
    # A user of site a only: neither site b nor its rows are in any figure.
    token_a = token_of(server, accounts.user("a", ("viewer", world.site_a)))
    only_a = _get(server, token_a, f"{API}/organisation", **_period(world)).json()
    assert [s["site_id"] for s in only_a["sites"]] == [world.site_a]
    with accounts.engine.connect() as conn:
        assert_figures(only_a["total"], expected_summary(conn, [world.site_a], world.t0,
                                                         world.t1))


def expected_mission(conn: Connection, w: Scenario) -> dict[str, Any]:
    """Compute a mission's flown figures with SQL of its own."""
    window = {"v": w.va1, "m": w.flown}
    bounds = ("from telemetry t, missions m where m.id = :m and t.vehicle_id = :v "
              "and t.time between m.started_at and m.ended_at")
    n, length, max_alt = conn.execute(text(
        "select count(*), st_length(st_makeline(t.position order by t.time)::geography), "
        f"max(t.altitude_rel) {bounds}"), window).one()
    energy = conn.execute(text(f"""
        with s as (select row_number() over (order by t.time) as k, t.time, t.voltage_v,
                          t.current_a {bounds})
        select sum(extract(epoch from b.time - a.time)
                   * (a.voltage_v * a.current_a + b.voltage_v * b.current_a) / 2) / 3600
        from s a join s b on b.k = a.k + 1"""), window).scalar_one()
    first, last = conn.execute(text(
        f"select (select t.battery_pct {bounds} order by t.time limit 1), "
        f"(select t.battery_pct {bounds} order by t.time desc limit 1)"), window).one()
    duration = conn.execute(text("select extract(epoch from ended_at - started_at) "
                                 "from missions where id = :m"), window).scalar_one()
    return {"samples": n, "flown_distance_m": length, "max_alt_rel_m": max_alt,
            "energy_wh": energy, "battery_start_pct": first, "battery_end_pct": last,
            "battery_used_pct": first - last, "duration_s": float(duration),
            "avg_speed_mps": length / float(duration), "planned_distance_m": 1234.5,
            "planned_energy_wh": 42.0, "status": "completed", "vehicle_id": w.va1}


def test_a_mission_report_equals_sql_in_json_and_csv(
        start_bridge: Any, accounts: Accounts, world: Scenario) -> None:
    server = start_bridge(with_ros=False)
    token = token_of(server, accounts.user("a", ("viewer", world.site_a)))
    path = f"{API}/missions/{world.flown}"
    report = _get(server, token, path).json()
    rows = list(csv.DictReader(io.StringIO(_get(server, token, path, format="csv").text)))
    with accounts.engine.connect() as conn:
        expected = expected_mission(conn, world)
    assert_figures(report["figures"], expected)
    figures = {r["name"]: r["value"] for r in rows if r["record"] == "figure"}
    for name, value in expected.items():
        if isinstance(value, float):
            assert float(figures[name]) == pytest.approx(value, rel=1e-9), name
        else:
            assert figures[name] == str(value), name
    # The flown path is every sample here (181 <= 2000), in time order.
    assert len(report["flown_path"]["coordinates"]) == 181
    assert len([r for r in rows if r["record"] == "flown"]) == 181
    assert report["planned_path"]["coordinates"] == [[lon, lat] for lat, lon in world.path]
    events = [(e["kind"], e["name"]) for e in report["events"]]
    assert events[-1] == ("mission", "completed")
    assert ("coordination", "low_battery") in events
    assert ("coordination", "collision_avoidance") not in events  # another vehicle's
    assert len([r for r in rows if r["record"].endswith("_event")]) == len(events)


def test_reports_render_as_readable_pdfs(
        start_bridge: Any, accounts: Accounts, world: Scenario) -> None:
    server = start_bridge(with_ros=False)
    token = token_of(server, accounts.user(
        "ab", ("viewer", world.site_a), ("viewer", world.site_b)))
    for name, path, params in (
            ("mission_flown", f"{API}/missions/{world.flown}", {}),
            ("mission_planned_only", f"{API}/missions/{world.unflown}", {}),
            ("site", f"{API}/sites/{world.site_a}", _period(world)),
            ("organisation", f"{API}/organisation", _period(world))):
        r = _get(server, token, path, format="pdf", **params)
        assert r.headers["content-type"] == "application/pdf"
        render_page_one(r.content, name)


@pytest.mark.parametrize("case", [
    ("sites/{a}", {"t0": "2026-01-01T00:00:00", "t1": "2026-01-02T00:00:00Z"}, 422, "t0"),
    ("sites/{a}", {"t0": "2026-01-02T00:00:00Z", "t1": "2026-01-01T00:00:00Z"}, 422, "t1"),
    ("sites/{a}", {"t0": "2026-01-01T00:00:00Z", "t1": "2026-01-02T00:00:00Z",
                   "format": "xml"}, 422, "format"),
    ("sites/{b}", {"t0": "2026-01-01T00:00:00Z", "t1": "2026-01-02T00:00:00Z"}, 404, "site"),
    ("missions/{other}", {}, 404, "does not exist"),
    ("missions/{flown}", {"max_path_points": 1}, 422, "max_path_points"),
    ("organisation", {"t0": "2026-01-01T00:00:00Z"}, 422, "t1"),
], ids=["naive", "inverted", "format", "other-site", "other-mission", "points", "missing"])
def test_a_bad_report_request_is_4xx_naming_the_problem(
        start_bridge: Any, accounts: Accounts, world: Scenario,
        case: tuple[str, dict[str, str], int, str]) -> None:
    path, params, status, named = case
    server = start_bridge(with_ros=False)
    token = token_of(server, accounts.user("a", ("viewer", world.site_a)))
    url = f"{API}/" + path.format(a=world.site_a, b=world.site_b,
                                  other=world.other_site_mission, flown=world.flown)
    with server.client(token) as c:
        r = c.get(url, params=params)
    assert r.status_code == status, r.text
    assert named in r.json()["detail"]
