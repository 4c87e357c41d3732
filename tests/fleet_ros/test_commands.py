"""CommandRunner against a real service: deadlines, the per-command timeout, one outcome."""

from __future__ import annotations

import time
from typing import Any

import pytest
from std_srvs.srv import Trigger

from fleet_ros.commands import CommandOutcome, CommandRunner
from fleet_ros.graph import RosGraph

pytestmark = pytest.mark.ros

SLOW_S = 1.0  # the service's answer takes this long


@pytest.fixture
def slow_service(graph: RosGraph) -> str:
    def answer(_request: Any, response: Any) -> Any:
        time.sleep(SLOW_S)  # on a thread of the graph's multi-threaded executor
        response.success = True
        return response

    graph.node("vehicle").create_service(Trigger, "/uav0/slow", answer)
    return "/uav0/slow"


def run_one(graph: RosGraph, service: str, **send: Any) -> CommandOutcome:
    node = graph.node("caller")
    outcomes: list[CommandOutcome] = []
    runner = CommandRunner(node, timeout_s=0.3, retries=0, on_done=outcomes.append)
    client = node.create_client(Trigger, service)
    assert client.wait_for_service(timeout_sec=10.0)

    def once() -> None:
        timer.cancel()
        runner.send(client, Trigger.Request(), vehicle_id="uav0", what="slow",
                    accept=lambda r: bool(r.success), **send)
    timer = node.create_timer(0.01, once)
    graph.wait_for(lambda: outcomes, 10.0, "the command's outcome")
    time.sleep(SLOW_S)  # no second outcome, and the service done answering before the close
    [outcome] = outcomes
    return outcome


def test_an_answer_later_than_the_timeout_fails_naming_the_timeout(
        graph: RosGraph, slow_service: str) -> None:
    outcome = run_one(graph, slow_service)
    assert (outcome.ok, outcome.detail) == (False, "no answer within 0.3 s")


def test_a_command_given_a_longer_timeout_waits_for_its_answer(
        graph: RosGraph, slow_service: str) -> None:
    outcome = run_one(graph, slow_service, timeout_s=SLOW_S + 2.0)
    assert outcome.ok, outcome.detail
    assert outcome.attempts == 1


def test_a_timeout_that_is_not_positive_is_refused(graph: RosGraph) -> None:
    node = graph.node("caller")
    runner = CommandRunner(node, timeout_s=0.3, retries=0, on_done=lambda _o: None)
    client = node.create_client(Trigger, "/uav0/none")
    with pytest.raises(ValueError, match="timeout_s > 0"):
        runner.send(client, Trigger.Request(), vehicle_id="uav0", what="x",
                    accept=lambda _r: True, timeout_s=0.0)
