"""The charging queue serves urgency first, then its policy, at stations within reach."""

from __future__ import annotations

import pytest

from fleet_core.charging.errors import ChargingError
from fleet_core.charging.model import (
    ChargeRequest,
    ChargingPolicy,
    ChargingStation,
    PadAssignment,
    Urgency,
)
from fleet_core.charging.queue import ChargingQueue
from fleet_core.geo import GeoPoint, LocalFrame

FRAME = LocalFrame.at(GeoPoint(47.4, 8.5))


def at(east: float) -> GeoPoint:
    return FRAME.to_geo(east, 0.0, 0.0)


def station(station_id: str = "s1", east: float = 0.0, pads: int = 1,
            rate_w: float = 100.0) -> ChargingStation:
    return ChargingStation(station_id, at(east), pads, rate_w)


def req(vehicle_id: str, battery: float, target: float = 100.0, *,
        urgency: Urgency = Urgency.NORMAL, requested_at: float | None = None,
        east: float = 100.0, range_m: float = 5000.0, capacity: float = 100.0) -> ChargeRequest:
    return ChargeRequest(vehicle_id, target, urgency, battery, capacity, at(east), range_m,
                         requested_at)


def serve_all(queue: ChargingQueue, start: float = 10.0) -> list[str]:
    """Run the single pad until the queue is empty; return who got it, in order."""
    served: list[str] = []
    now = start
    while queue.waiting() or queue.busy_vehicles():
        [a] = queue.tick(now)
        served.append(a.vehicle_id)
        queue.charging_started(a.vehicle_id, 50.0, now)
        now += a.expected_charge_s
        queue.release(a.vehicle_id, 100.0, now)
    return served


# a: 40 Wh to charge, asked first; b: 10 Wh, lowest battery; c: 60 Wh, asked last.
CONTENDERS = [("a", 50.0, 90.0, 0.0), ("b", 30.0, 40.0, 1.0), ("c", 40.0, 100.0, 2.0)]


@pytest.mark.parametrize(("policy", "order"), [
    (ChargingPolicy.LOWEST_BATTERY, ["b", "c", "a"]),
    (ChargingPolicy.FIFO, ["a", "b", "c"]),
    (ChargingPolicy.LEAST_TOTAL_WAIT, ["b", "a", "c"]),
], ids=lambda v: v.value if isinstance(v, ChargingPolicy) else None)
def test_three_vehicles_share_one_pad_in_policy_order(policy: ChargingPolicy,
                                                      order: list[str]) -> None:
    queue = ChargingQueue([station()], policy)
    for vehicle_id, battery, target, t in CONTENDERS:
        queue.request(req(vehicle_id, battery, target, requested_at=t), now=t)
    assert queue.waiting() == order
    assert serve_all(queue) == order


def test_least_total_wait_really_minimises_the_sum_of_waits() -> None:
    totals = {}
    for policy in ChargingPolicy:
        queue = ChargingQueue([station()], policy)
        for vehicle_id, battery, target, t in CONTENDERS:
            queue.request(req(vehicle_id, battery, target, requested_at=t), now=t)
        totals[policy] = sum(e.wait_s for e in queue.estimates(3.0))
    assert totals[ChargingPolicy.LEAST_TOTAL_WAIT] == min(totals.values())
    assert totals[ChargingPolicy.LEAST_TOTAL_WAIT] < totals[ChargingPolicy.FIFO]


def test_emergency_then_critical_go_before_the_policy() -> None:
    queue = ChargingQueue([station()], ChargingPolicy.FIFO, critical_pct=20.0)
    queue.request(req("normal", 60.0, requested_at=0.0), now=0.0)
    queue.request(req("critical", 25.0, urgency=Urgency.CRITICAL, requested_at=1.0), now=1.0)
    queue.request(req("low", 15.0, requested_at=2.0), now=2.0)  # below 20 %: critical too
    queue.request(req("sos", 70.0, urgency=Urgency.EMERGENCY, requested_at=3.0), now=3.0)
    assert queue.waiting() == ["sos", "critical", "low", "normal"]
    assert serve_all(queue) == ["sos", "critical", "low", "normal"]


def test_a_station_out_of_reach_is_skipped_even_with_a_free_pad() -> None:
    near, far = station("near", 0.0), station("far", 8000.0)
    queue = ChargingQueue([far, near], ChargingPolicy.FIFO)
    queue.request(req("first", 50.0, east=500.0, range_m=2000.0), now=0.0)
    queue.request(req("second", 50.0, east=500.0, range_m=2000.0), now=1.0)
    # Haversine on the mean sphere differs from the ellipsoidal test frame by ~0.3 %.
    assert queue.tick(2.0) == [PadAssignment("first", "near", 0, pytest.approx(500.0, abs=5),
                                             1800.0)]
    assert queue.tick(3.0) == []  # "far" is free but 7.5 km away: "second" waits for "near"
    [estimate] = queue.estimates(3.0)
    assert estimate.station_id == "near"
    queue.cancel("first")
    assert [a.station_id for a in queue.tick(4.0)] == ["near"]


def test_a_vehicle_that_reaches_no_station_is_refused() -> None:
    queue = ChargingQueue([station("s1", 0.0)])
    with pytest.raises(ChargingError, match=r"no station within its range 300 m \(nearest s1 "
                                            r"at 99\d m\)"):
        queue.request(req("v", 30.0, east=1000.0, range_m=300.0), now=0.0)


def test_each_vehicle_goes_to_the_nearest_station_with_a_free_pad() -> None:
    queue = ChargingQueue([station("a", 0.0), station("b", 3000.0, pads=2)])
    queue.request(req("v1", 40.0, east=2500.0), now=0.0)
    queue.request(req("v2", 30.0, east=200.0), now=0.0)
    queue.request(req("v3", 20.0, east=100.0), now=0.0)
    got = {a.vehicle_id: (a.station_id, a.pad) for a in queue.tick(1.0)}
    assert got == {"v3": ("a", 0), "v2": ("b", 0), "v1": ("b", 1)}


def test_estimates_follow_the_pads_expected_finish_times() -> None:
    queue = ChargingQueue([station(rate_w=100.0)], ChargingPolicy.FIFO)
    queue.request(req("on_pad", 50.0, 100.0), now=0.0)  # 50 Wh: 1800 s at 100 W
    queue.tick(0.0)
    queue.charging_started("on_pad", 50.0, 0.0)
    queue.progress("on_pad", 75.0, 900.0)  # 25 Wh left: 900 s
    queue.request(req("b", 80.0, 90.0), now=900.0)  # 10 Wh: 360 s
    queue.request(req("c", 60.0, 100.0), now=900.0)  # 40 Wh: 1440 s
    first, second = queue.estimates(900.0)
    assert (first.vehicle_id, first.position, first.wait_s, first.time_to_full_s) == (
        "b", 1, pytest.approx(900.0), pytest.approx(1260.0))
    assert (second.vehicle_id, second.position, second.wait_s, second.time_to_full_s) == (
        "c", 2, pytest.approx(1260.0), pytest.approx(2700.0))


def test_a_session_records_what_happened_on_the_pad() -> None:
    queue = ChargingQueue([station("s1", rate_w=200.0)])
    queue.request(req("v", 30.0, 80.0, capacity=200.0, requested_at=5.0), now=5.0)
    [a] = queue.tick(15.0)
    assert a.expected_charge_s == pytest.approx(1800.0)  # 100 Wh at 200 W
    queue.charging_started("v", 32.0, 70.0)
    assert queue.progress("v", 60.0, 600.0) is False
    assert queue.progress("v", 80.0, 1000.0) is True
    session = queue.release("v", 81.0, 1010.0)
    assert (session.vehicle_id, session.station_id, session.pad) == ("v", "s1", 0)
    assert (session.requested_at, session.assigned_at, session.started_at,
            session.ended_at) == (5.0, 15.0, 70.0, 1010.0)
    assert session.queue_wait_s == 10.0
    assert (session.start_pct, session.end_pct) == (32.0, 81.0)
    assert session.energy_wh == pytest.approx(98.0)
    assert session.completed
    assert not queue.is_busy("v")
    assert queue.free_pads() == 1


def test_a_session_in_progress_shows_how_far_it_has_got() -> None:
    queue = ChargingQueue([station("s1", rate_w=200.0)])
    queue.request(req("v", 30.0, 80.0, capacity=200.0, requested_at=5.0), now=5.0)
    queue.tick(15.0)
    queue.charging_started("v", 32.0, 70.0)
    assert queue.progress("v", 50.0, 600.0) is False
    now = queue.session("v")
    assert (now.started_at, now.ended_at, now.completed) == (70.0, None, False)
    assert (now.start_pct, now.end_pct) == (32.0, 50.0)
    assert now.energy_wh == pytest.approx(36.0)
    assert queue.is_busy("v")  # asking changes nothing


def test_a_session_released_early_is_not_completed() -> None:
    queue = ChargingQueue([station()])
    queue.request(req("v", 30.0, 90.0), now=0.0)
    queue.tick(0.0)
    queue.charging_started("v", 30.0, 10.0)
    assert not queue.release("v", 60.0, 500.0).completed


def test_queued_and_charging_vehicles_are_busy_for_the_dispatcher() -> None:
    queue = ChargingQueue([station()])
    queue.request(req("a", 30.0), now=0.0)
    queue.request(req("b", 40.0), now=0.0)
    queue.tick(1.0)
    assert queue.busy_vehicles() == {"a", "b"}
    queue.cancel("b")
    assert queue.busy_vehicles() == {"a"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"battery": 50.0, "target": 50.0}, "target_pct 50.0 is not above the current battery 50"),
    ({"battery": 50.0, "target": 40.0}, "target_pct 40.0 is not above"),
    ({"battery": 50.0, "target": 101.0}, "target_pct must be at most 100, got 101"),
    ({"battery": -1.0, "target": 50.0}, "battery_pct must be 0..100, got -1"),
    ({"battery": 10.0, "target": 50.0, "range_m": float("nan")}, "range_m must be finite"),
], ids=["equal", "below", "over-100", "negative-battery", "nan-range"])
def test_a_bad_request_is_refused_naming_the_value(kwargs: dict[str, float],
                                                   message: str) -> None:
    queue = ChargingQueue([station()])
    with pytest.raises(ChargingError, match=message):
        queue.request(req("v", **kwargs), now=0.0)  # type: ignore[arg-type]


def test_a_second_request_for_the_same_vehicle_is_refused() -> None:
    queue = ChargingQueue([station()])
    queue.request(req("v", 30.0), now=0.0)
    with pytest.raises(ChargingError, match="'v' already has a charging request"):
        queue.request(req("v", 20.0), now=1.0)
    queue.tick(2.0)
    with pytest.raises(ChargingError, match="'v' already has a charging request"):
        queue.request(req("v", 20.0), now=3.0)


def test_pad_reports_out_of_order_are_refused() -> None:
    queue = ChargingQueue([station()])
    queue.request(req("a", 30.0), now=0.0)
    queue.request(req("b", 30.0), now=0.0)
    queue.tick(1.0)
    with pytest.raises(ChargingError, match="'b' is still waiting for a pad"):
        queue.charging_started("b", 30.0, 2.0)
    with pytest.raises(ChargingError, match="'a' has not started charging"):
        queue.release("a", 40.0, 2.0)
    queue.charging_started("a", 30.0, 2.0)
    with pytest.raises(ChargingError, match="'a' is charging: release it"):
        queue.cancel("a")
    with pytest.raises(ChargingError, match="'zz' has no charging request"):
        queue.cancel("zz")


@pytest.mark.parametrize(("build", "message"), [
    (lambda: ChargingStation("s", at(0), 0, 100.0), "pads must be an integer >= 1, got 0"),
    (lambda: ChargingStation("s", at(0), 1, -5.0), "charge_rate_w must be > 0, got -5"),
    (lambda: ChargingQueue([station("s"), station("s")]), r"repeated: \['s'\]"),
], ids=["no-pads", "negative-rate", "duplicate-station"])
def test_bad_stations_are_refused(build: object, message: str) -> None:
    with pytest.raises(ChargingError, match=message):
        build()  # type: ignore[operator]


def test_a_fleet_without_stations_refuses_every_request_with_the_reason() -> None:
    queue = ChargingQueue([])
    request = ChargeRequest("uav0", 90.0, Urgency.NORMAL, 40.0, 222.0, GeoPoint(47.0, 8.0),
                            5000.0)
    with pytest.raises(ChargingError, match="no charging station is configured"):
        queue.request(request, 0.0)
    assert queue.tick(0.0) == []
