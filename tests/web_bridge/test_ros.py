"""web_bridge's ROS link hands rclpy outcomes to the event loop, and leaves none unread."""

from __future__ import annotations

import asyncio
import gc

import pytest
from rclpy.task import Future

from web_bridge.ros import bridge_future


def test_a_result_reaches_the_event_loop() -> None:
    loop = asyncio.new_event_loop()
    try:
        rfut: Future[int] = Future()
        afut = bridge_future(loop, rfut)
        rfut.set_result(7)
        assert loop.run_until_complete(asyncio.wait_for(afut, 2.0)) == 7
    finally:
        loop.close()


def test_an_error_reaches_the_event_loop() -> None:
    loop = asyncio.new_event_loop()
    try:
        rfut: Future[int] = Future()
        afut = bridge_future(loop, rfut)
        rfut.set_exception(RuntimeError("the planner went away"))
        with pytest.raises(RuntimeError, match="the planner went away"):
            loop.run_until_complete(asyncio.wait_for(afut, 2.0))
    finally:
        loop.close()


def test_an_error_after_the_loop_closed_is_read_not_printed_at_exit(
        capsys: pytest.CaptureFixture[str]) -> None:
    loop = asyncio.new_event_loop()
    rfut: Future[int] = Future()
    bridge_future(loop, rfut)
    loop.close()  # web_bridge stopping: the graph closes after the loop
    rfut.set_exception(RuntimeError("cannot use Destroyable because destruction was requested"))
    del rfut
    gc.collect()
    assert "never retrieved" not in capsys.readouterr().err
