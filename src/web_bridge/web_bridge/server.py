"""``web_bridge``: serve the API with uvicorn (uvloop + httptools) until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence

import uvicorn

from fleet_ros.entry import ignore_stop_signals
from web_bridge.app import create_app
from web_bridge.settings import SettingsError, load_settings


class _Server(uvicorn.Server):
    """uvicorn, but a second Ctrl-C does not cut the graceful shutdown short.

    A terminal's Ctrl-C under launch reaches the process twice (the terminal's and launch's);
    uvicorn's own handler forces an exit on the second one, cancelling the app's shutdown
    (ROS node, Redis, database) mid-way with a traceback.
    """

    def handle_exit(self, sig: int, frame: object) -> None:
        self.should_exit = True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bridge; settings come from FLEET_* variables (see README)."""
    parser = argparse.ArgumentParser(prog="web_bridge", description=__doc__)
    parser.add_argument("--host", help="listen address (FLEET_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (FLEET_PORT, default 8080)")
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"])
    # ROS passes --ros-args when launched as a node; they are not ours.
    args, _ = parser.parse_known_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = uvicorn.Config(create_app(settings), host=settings.host, port=settings.port,
                            loop="uvloop", http="httptools", ws="websockets-sansio",
                            log_level=args.log_level, proxy_headers=True,
                            timeout_graceful_shutdown=5, ws_max_size=1_048_576,
                            ws_per_message_deflate=settings.ws_compression)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            _Server(config).run()
    finally:
        ignore_stop_signals()  # only exiting now: a late signal must not kill the teardown
    return 0
