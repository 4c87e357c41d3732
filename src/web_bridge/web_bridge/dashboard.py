"""Serve the operator dashboard (the Vite build in ``web/dist``) beside the API.

The page is a single-page app: every path that is not the API, a built asset or a file of
the build answers ``index.html``. Hashed assets are cached for a year, ``index.html`` never
(a new build is picked up on reload). A Content-Security-Policy keeps every request the page
makes on this origin, plus the base-map tile host when ``FLEET_BASEMAP_TILES`` names one:
"no request leaves the machine" is enforced by the browser, not just hoped for.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel

from web_bridge.app import API
from web_bridge.deps import BridgeDep
from web_bridge.settings import Settings

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Fleet</title>
<body style="font:16px system-ui;background:#0f1216;color:#e6eaf0;padding:3em">
<h1>The dashboard is not built</h1><p>Run <code>make setup</code> (it runs <code>npm ci</code> and
the Vite build into <code>web/dist</code>), or point <code>FLEET_WEB_DIR</code> at a build.
The API is up: <a style="color:#2f8cff" href="/docs">/docs</a>.</p>"""


class UiConfig(BaseModel):
    """What the page needs to know that is the deployment's choice."""

    basemap_tiles: str | None
    basemap_attribution: str | None


def content_security_policy(settings: Settings) -> str:
    """Return the page's CSP: this origin only, plus the tile host if one is configured."""
    tile_host = ""
    tiles = settings.basemap_tiles
    if tiles and not tiles.startswith("/"):
        parts = urlsplit(tiles.replace("{z}", "0").replace("{x}", "0").replace("{y}", "0"))
        tile_host = f" {parts.scheme}://{parts.netloc}"
    return ("default-src 'self'; "
            f"img-src 'self' data: blob:{tile_host}; "
            # 'self' covers this origin's WebSocket too (CSP 3); MapLibre fetch()es tiles.
            f"connect-src 'self'{tile_host}; "
            "worker-src 'self' blob:; child-src 'self' blob:; "
            # MapLibre and the charts set inline style attributes.
            "style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")


def mount_dashboard(app: FastAPI, settings: Settings) -> None:
    """Add ``/api/v1/ui/config`` and, last of all routes, the page and its assets."""
    router = APIRouter()

    @router.get(f"{API}/ui/config", response_model=UiConfig, tags=["ui"])
    async def ui_config(bridge: BridgeDep) -> UiConfig:
        """The dashboard's deployment settings (no login needed: nothing secret)."""
        s = bridge.settings
        return UiConfig(basemap_tiles=s.basemap_tiles, basemap_attribution=s.basemap_attribution)

    web_dir = settings.web_dir or default_web_dir()
    root = web_dir.resolve() if web_dir else None
    csp = content_security_policy(settings)

    def index() -> Response:
        if root is None or not (root / "index.html").is_file():
            return HTMLResponse(NOT_BUILT, status_code=503)
        return FileResponse(root / "index.html", headers={
            "Cache-Control": "no-cache", "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"})

    @router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> Response:
        return index()

    @router.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def asset_or_page(path: str) -> Response:
        if path.startswith(("api/", "openapi.json", "docs", "health", "metrics")):
            raise HTTPException(404, f"no route /{path}")
        if root is not None and path:
            file = (root / path).resolve()
            # Never outside the build (``..`` in a path), never a directory.
            if file.is_relative_to(root) and file.is_file():
                immutable = path.startswith("assets/")
                return FileResponse(file, headers={
                    "Cache-Control": "public, max-age=31536000, immutable" if immutable
                    else "no-cache", "X-Content-Type-Options": "nosniff"})
        if "." in path.rsplit("/", 1)[-1]:
            raise HTTPException(404, f"no file /{path} in the dashboard build")
        return index()

    app.include_router(router)


def default_web_dir() -> Path | None:
    """The repository's ``web/dist`` when running from a checkout (symlink-installed)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "web" / "dist"
        if candidate.is_dir():
            return candidate
    return None
