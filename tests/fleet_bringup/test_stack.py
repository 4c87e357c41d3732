"""The stack's parts that hold no graph: Ctrl-C turned into a stop request, a busy port named
before anything starts, and the options refusing what the graph cannot run."""

from __future__ import annotations

import os
import signal
import socket

import pytest

from fleet_bringup.stack import BridgeServer, BringupError, StackOptions, StopSignals
from tests.web_bridge.conftest import bridge_settings


def test_a_ctrl_c_requests_a_stop_instead_of_raising(capfd: pytest.CaptureFixture[str]) -> None:
    with StopSignals("stopping", "still stopping") as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(5.0)
    assert capfd.readouterr().err == "\nstopping\n"


def test_a_second_ctrl_c_only_says_the_stop_is_under_way(
        capfd: pytest.CaptureFixture[str]) -> None:
    with StopSignals("stopping", "still stopping") as stop:
        os.kill(os.getpid(), signal.SIGINT)
        stop.wait(5.0)
        os.kill(os.getpid(), signal.SIGTERM)
        stop.wait(0.3)
    assert capfd.readouterr().err == "\nstopping\n\nstill stopping\n"


def test_the_handlers_before_are_back_after_the_stop() -> None:
    before = signal.getsignal(signal.SIGINT)
    with StopSignals():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def test_a_process_about_to_end_ignores_the_signals_after_the_stop() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with StopSignals(ignore_after=True):
            pass
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def test_no_stop_is_requested_until_a_signal_comes() -> None:
    with StopSignals() as stop:
        assert not stop.wait(0.3)


def test_a_port_in_use_is_named_before_anything_starts() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(BringupError, match=f"cannot listen on 127.0.0.1:{port}: Address "
                                               "already in use"):
            BridgeServer(bridge_settings(port=port))


@pytest.mark.parametrize(("options", "message"), [
    ({"vehicles": 0}, "vehicles must be 1..500, got 0"),
    ({"time_factor": 50.0}, "time factor must be 0.5..20, got 50"),
    ({"ros_log_level": "loud"}, "ROS log level must be one of debug, info, warn, error"),
])
def test_options_the_graph_cannot_run_are_refused_naming_them(
        options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StackOptions(**options)  # type: ignore[arg-type]
