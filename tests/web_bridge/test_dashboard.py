"""The bridge serves the dashboard: the page with its security policy, hashed assets cached,
a single-page-app fallback, nothing outside the build, and the UI's deployment settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from web_bridge.dashboard import content_security_policy
from web_bridge.settings import SettingsError, load_settings

from .conftest import bridge_settings


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A stand-in for web/dist: an index and one hashed asset (the real build is tested by
    the browser tests; here the serving rules are)."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Fleet</title><div id=app></div>")
    (dist / "assets" / "index-abc123.js").write_text("console.log('fleet')")
    (tmp_path / "secret.txt").write_text("outside the build")
    return dist


def test_the_page_is_served_with_a_policy_that_keeps_requests_on_this_origin(
        start_bridge: Any, build: Path) -> None:
    server = start_bridge(with_ros=False, web_dir=build)
    with server.client() as c:
        r = c.get("/")
        assert r.status_code == 200
        assert "<title>Fleet</title>" in r.text
        assert r.headers["cache-control"] == "no-cache"
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert "http" not in csp.replace("https:", "")  # no other host without a tile server


def test_hashed_assets_are_cached_and_unknown_paths_fall_back_to_the_page(
        start_bridge: Any, build: Path) -> None:
    server = start_bridge(with_ros=False, web_dir=build)
    with server.client() as c:
        asset = c.get("/assets/index-abc123.js")
        assert asset.status_code == 200
        assert "immutable" in asset.headers["cache-control"]
        assert c.get("/missions/some-view").text.startswith("<!doctype html>")
        assert c.get("/assets/missing.js").status_code == 404
        # The API keeps its own 404s; the page never shadows it.
        missing = c.get("/api/v1/no-such-route")
        assert missing.status_code == 404
        assert missing.json()["detail"]


def test_nothing_outside_the_build_is_served(start_bridge: Any, build: Path) -> None:
    server = start_bridge(with_ros=False, web_dir=build)
    with server.client() as c:
        for path in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt"):
            r = c.get(path)
            assert "outside the build" not in r.text, path


def test_without_a_build_the_page_says_how_to_build_it(start_bridge: Any, tmp_path: Path) -> None:
    server = start_bridge(with_ros=False, web_dir=tmp_path / "nowhere")
    with server.client() as c:
        r = c.get("/")
    assert r.status_code == 503
    assert "make setup" in r.text


def test_the_ui_config_names_the_base_map_tiles(start_bridge: Any, build: Path) -> None:
    tiles = "http://127.0.0.1:8081/tiles/{z}/{x}/{y}.png"
    server = start_bridge(with_ros=False, web_dir=build, basemap_tiles=tiles,
                          basemap_attribution="© local")
    with server.client() as c:
        assert c.get("/api/v1/ui/config").json() == {
            "basemap_tiles": tiles, "basemap_attribution": "© local"}
        assert "http://127.0.0.1:8081" in c.get("/").headers["content-security-policy"]


def test_a_tile_url_without_placeholders_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match=r"FLEET_BASEMAP_TILES .*not a tile URL"):
        load_settings(jwt_secret="x" * 40, basemap_tiles="http://tiles.example/static.png")


def test_the_policy_allows_the_tile_host_for_images_and_fetches() -> None:
    s = bridge_settings(basemap_tiles="https://tiles.local:9000/{z}/{x}/{y}.png")
    csp = content_security_policy(s)
    assert "img-src 'self' data: blob: https://tiles.local:9000" in csp
    assert "connect-src 'self' https://tiles.local:9000;" in csp
