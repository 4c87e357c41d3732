"""The coordinator reacts to lost links, low batteries, no-fly zones and head-on pairs with
events and safety commands, once per problem, and sends a yielding vehicle back when clear."""

from __future__ import annotations

import pytest

from fleet_core.fleet.airspace import Airspace, NoFlyZone
from fleet_core.fleet.config import (
    FleetSettings,
    ResponsePolicy,
    SafetyAction,
    SeparationStrategy,
)
from fleet_core.fleet.coordination import (
    Coordinator,
    Hold,
    HoldAt,
    Land,
    Reaction,
    ResumeMission,
    ReturnToLaunch,
    safety_command,
)
from fleet_core.fleet.events import Event, EventSeverity, EventType
from fleet_core.fleet.model import LivenessThresholds, VehicleSpec, VehicleState
from fleet_core.geo import GeoPoint, LocalFrame
from fleet_core.mavlink import LandedState, Px4Mode

ORIGIN = GeoPoint(47.397742, 8.545594, 488.0)
FRAME = LocalFrame.at(ORIGIN)
NOW = 1000.0
LIVENESS = LivenessThresholds(stale_after_s=3.0, lost_after_s=10.0)


def vehicle(vid: str, east: float = 0.0, *, north: float = 0.0, up: float = 30.0,
            ve: float = 0.0, mode: str = Px4Mode.MISSION, battery: float = 80.0,
            home_east: float | None = None, airborne: bool = True,
            seen: float = NOW) -> VehicleState:
    """A vehicle ``east`` metres east of the origin, flying ``ve`` m/s east."""
    v = VehicleState(VehicleSpec(vid, f"/{vid}/mavros"), connected=True, armed=airborne,
                     mode=mode, battery_percent=battery)
    v.landed_state = LandedState.IN_AIR if airborne else LandedState.ON_GROUND
    v.position = FRAME.to_geo(east, north, up if airborne else 0.0)
    v.position_time = seen
    v.relative_altitude = up if airborne else 0.0
    v.velocity_enu = (ve, 0.0, 0.0)
    v.home = FRAME.to_geo(east if home_east is None else home_east, north, 0.0)
    v.touch(seen)
    return v


def fleet(*vehicles: VehicleState) -> dict[str, VehicleState]:
    return {v.vehicle_id: v for v in vehicles}


def zone(e0: float, e1: float) -> NoFlyZone:
    ring = tuple(FRAME.to_geo(e, n, 0.0) for e, n in ((e0, -50), (e1, -50), (e1, 50), (e0, 50)))
    return NoFlyZone("nfz", "nfz", ring, floor_m=0.0, ceiling_m=150.0)


def coordinator(*, zones: tuple[NoFlyZone, ...] = (), separation: bool = True,
                **response: object) -> Coordinator:
    settings = FleetSettings(vehicles=(), origin=ORIGIN, liveness=LIVENESS,
                             separation_enabled=separation,
                             response=ResponsePolicy(**response))  # type: ignore[arg-type]
    airspace = Airspace(FRAME)
    airspace.set_zones(list(zones))
    return Coordinator(settings, airspace)


def only(reaction: Reaction, type_: EventType) -> Event:
    events = [e for e in reaction.events if e.type is type_]
    assert len(events) == 1, reaction.events
    return events[0]


# ------------------------------------------------------------------ separation
def head_on(east0: float = 0.0, east1: float = 100.0, *, mode0: str = Px4Mode.MISSION,
            up1: float = 30.0) -> dict[str, VehicleState]:
    """uav0 flies east, uav1 west, on one line at one height."""
    return fleet(vehicle("uav0", east0, ve=8.0, mode=mode0),
                 vehicle("uav1", east1, ve=-8.0, up=up1))


def test_of_a_head_on_pair_on_missions_the_larger_id_yields_and_holds_higher() -> None:
    c = coordinator()
    reaction = c.check(head_on(), NOW)
    event = only(reaction, EventType.COLLISION_AVOIDANCE)
    assert (event.vehicle_ids, event.severity) == (("uav0", "uav1"), EventSeverity.CRITICAL)
    assert event.resolution == "uav1 holds position until separation is restored"
    assert dict(event.data)["yielding"] == "uav1"
    climb = 8.0 + 4.0  # the vertical minimum + 4 m
    assert reaction.commands == (HoldAt("uav1", ORIGIN.altitude + 30.0 + climb,
                                        "hold 12 m higher for separation"),)
    assert c.held == {"uav1": Px4Mode.MISSION}


def test_a_vehicle_not_flying_a_mission_yields_to_one_that_is() -> None:
    reaction = coordinator().check(head_on(mode0=Px4Mode.LOITER), NOW)
    assert [c.vehicle_id for c in reaction.commands] == ["uav0"]


def test_the_hold_strategy_holds_where_the_vehicle_is() -> None:
    reaction = coordinator(separation_strategy=SeparationStrategy.HOLD).check(head_on(), NOW)
    assert reaction.commands == (Hold("uav1", "hold for separation"),)


def test_a_configured_climb_is_the_offset_the_yielding_vehicle_holds_at() -> None:
    reaction = coordinator(separation_climb_m=20.0).check(head_on(), NOW)
    assert reaction.commands == (HoldAt("uav1", ORIGIN.altitude + 30.0 + 20.0,
                                        "hold 20 m higher for separation"),)


def test_an_open_conflict_is_neither_reported_nor_commanded_again() -> None:
    c = coordinator()
    c.check(head_on(), NOW)
    assert c.check(head_on(10.0, 90.0), NOW + 1.0) == Reaction()


def test_the_yielding_vehicle_resumes_its_mission_only_once_the_paths_are_clear() -> None:
    c = coordinator()
    opened = only(c.check(head_on(), NOW), EventType.COLLISION_AVOIDANCE)
    # 12 m higher, the pair is separated vertically but still converging horizontally:
    # descending back to the mission's height now would be a conflict again.
    assert c.check(head_on(45.0, 55.0, up1=42.0), NOW + 5.0) == Reaction()
    passed = c.check(head_on(80.0, 20.0, up1=42.0), NOW + 10.0)
    resolved = only(passed, EventType.COLLISION_AVOIDANCE)
    assert (resolved.event_id, resolved.resolved) == (opened.event_id, True)
    assert resolved.resolution == "separation restored"
    assert passed.commands == (ResumeMission("uav1", "resume after separation hold"),)
    assert c.held == {}


def test_a_vehicle_that_was_not_on_a_mission_is_not_sent_on_one_after_yielding() -> None:
    c = coordinator()
    c.check(head_on(mode0=Px4Mode.LOITER), NOW)
    clear = c.check(head_on(80.0, 20.0, mode0=Px4Mode.LOITER), NOW + 10.0)
    assert only(clear, EventType.COLLISION_AVOIDANCE).resolved
    assert clear.commands == ()


def test_a_vehicle_going_home_keeps_going_and_one_on_a_mission_yields_to_it() -> None:
    reaction = coordinator().check(head_on(mode0=Px4Mode.RTL), NOW)
    assert [c.vehicle_id for c in reaction.commands] == ["uav1"]


def test_a_vehicle_that_yielded_on_its_way_home_is_sent_home_again_once_clear() -> None:
    # Both going home: the larger id yields; left holding it would hover until its battery
    # forced a landing wherever it was.
    c = coordinator()
    both_home = fleet(vehicle("uav0", 0.0, ve=8.0, mode=Px4Mode.RTL),
                      vehicle("uav1", 100.0, ve=-8.0, mode=Px4Mode.RTL))
    assert [cmd.vehicle_id for cmd in c.check(both_home, NOW).commands] == ["uav1"]
    clear = c.check(fleet(vehicle("uav0", 80.0, ve=8.0, mode=Px4Mode.RTL),
                          vehicle("uav1", 20.0, ve=-8.0, up=42.0, mode=Px4Mode.LOITER)),
                    NOW + 10.0)
    assert clear.commands == (ReturnToLaunch("uav1", "return home after separation hold"),)


def test_a_vehicle_that_yielded_while_landing_lands_once_clear() -> None:
    c = coordinator()
    c.check(fleet(vehicle("uav0", 0.0, ve=8.0, mode=Px4Mode.LAND),
                  vehicle("uav1", 100.0, ve=-8.0, mode=Px4Mode.LAND)), NOW)
    clear = c.check(fleet(vehicle("uav0", 80.0, ve=8.0), vehicle("uav1", 20.0, up=42.0)),
                    NOW + 10.0)
    assert clear.commands == (Land("uav1", "land after separation hold"),)


def test_a_pair_resolves_when_one_of_them_lands() -> None:
    c = coordinator()
    c.check(head_on(), NOW)
    landed = fleet(vehicle("uav0", 40.0, ve=8.0), vehicle("uav1", 60.0, airborne=False))
    reaction = c.check(landed, NOW + 5.0)
    assert only(reaction, EventType.COLLISION_AVOIDANCE).resolution == "separation restored"
    assert reaction.commands == (ResumeMission("uav1", "resume after separation hold"),)


def test_separation_can_be_switched_off() -> None:
    assert coordinator(separation=False).check(head_on(), NOW) == Reaction()


# ------------------------------------------------------------------ airspace
def test_a_vehicle_about_to_enter_a_zone_holds_before_it() -> None:
    reaction = coordinator(zones=(zone(150, 250),)).check(
        fleet(vehicle("uav0", 100.0, ve=8.0)), NOW)
    event = only(reaction, EventType.AIRSPACE_CONFLICT)
    assert (event.severity, event.resolution) == (EventSeverity.WARNING,
                                                  "commanded hold before the zone")
    assert dict(event.data) == {"zone": "nfz", "inside": "false"}
    assert reaction.commands == (Hold("uav0", "hold before the zone"),)


def test_a_vehicle_inside_a_zone_returns_to_launch() -> None:
    reaction = coordinator(zones=(zone(150, 250),)).check(fleet(vehicle("uav0", 200.0)), NOW)
    event = only(reaction, EventType.AIRSPACE_CONFLICT)
    assert (event.severity, event.resolution) == (EventSeverity.CRITICAL,
                                                  "commanded return to launch")
    assert reaction.commands == (ReturnToLaunch("uav0", "return to launch"),)


@pytest.mark.parametrize(("entry", "inside", "expected_entry", "expected_inside"), [
    (SafetyAction.RTL, SafetyAction.LAND, ReturnToLaunch("uav0", "return to launch"),
     Land("uav0", "land where it is")),
    (SafetyAction.LAND, SafetyAction.HOLD, Land("uav0", "land where it is"),
     Hold("uav0", "hold")),
])
def test_the_airspace_responses_are_the_configured_ones(
        entry: SafetyAction, inside: SafetyAction, expected_entry: object,
        expected_inside: object) -> None:
    zones = (zone(150, 250),)
    about_to_enter = coordinator(zones=zones, airspace_on_predicted_entry=entry,
                                 airspace_on_inside=inside)
    assert about_to_enter.check(fleet(vehicle("uav0", 100.0, ve=8.0)), NOW).commands == (
        expected_entry,)
    already_inside = coordinator(zones=zones, airspace_on_predicted_entry=entry,
                                 airspace_on_inside=inside)
    assert already_inside.check(fleet(vehicle("uav0", 200.0)), NOW).commands == (
        expected_inside,)


def test_a_zone_conflict_is_commanded_once_and_again_after_it_cleared() -> None:
    c = coordinator(zones=(zone(150, 250),))
    approaching = fleet(vehicle("uav0", 100.0, ve=8.0))
    first = c.check(approaching, NOW)
    assert c.check(approaching, NOW + 1.0) == Reaction()
    clear = c.check(fleet(vehicle("uav0", 100.0)), NOW + 2.0)  # stopped short of the zone
    resolved = only(clear, EventType.AIRSPACE_CONFLICT)
    assert resolved.event_id == first.events[0].event_id
    assert resolved.resolution == "clear of the zone"
    assert clear.commands == ()
    assert c.check(approaching, NOW + 3.0).commands == (Hold("uav0", "hold before the zone"),)


@pytest.mark.parametrize("why", ["on the ground", "in maintenance"])
def test_vehicles_on_the_ground_or_in_maintenance_are_not_checked_against_zones(
        why: str) -> None:
    v = vehicle("uav0", 200.0, airborne=why != "on the ground")
    v.maintenance = why == "in maintenance"
    assert coordinator(zones=(zone(150, 250),)).check(fleet(v), NOW) == Reaction()


# ------------------------------------------------------------------ battery
def test_a_low_battery_is_a_warning_only() -> None:
    reaction = coordinator().check(fleet(vehicle("uav0", battery=25.0)), NOW)
    event = only(reaction, EventType.LOW_BATTERY)
    assert (event.severity, event.resolution) == (EventSeverity.WARNING, "warning only")
    assert reaction.commands == ()


def test_a_critical_battery_with_home_in_reach_returns_to_launch() -> None:
    # 15 % of which 5 % is reserve: 10 % of the 10 km full range, 1 km; home is 500 m away.
    reaction = coordinator().check(fleet(vehicle("uav0", 500.0, home_east=0.0,
                                                 battery=15.0)), NOW)
    event = only(reaction, EventType.LOW_BATTERY)
    assert (event.severity, event.resolution) == (EventSeverity.CRITICAL,
                                                  "commanded return to launch")
    data = dict(event.data)
    assert data["percent"] == "15.0"
    assert float(data["distance_home_m"]) == pytest.approx(500.0, abs=2.0)
    assert reaction.commands == (ReturnToLaunch("uav0", "return to launch"),)


def test_a_critical_battery_with_home_out_of_reach_lands_where_it_is() -> None:
    reaction = coordinator().check(fleet(vehicle("uav0", 2000.0, home_east=0.0,
                                                 battery=15.0)), NOW)
    assert only(reaction, EventType.LOW_BATTERY).resolution == (
        "commanded land: home out of reach")
    assert reaction.commands == (Land("uav0", "land: home out of reach"),)


@pytest.mark.parametrize("mode", [Px4Mode.RTL, Px4Mode.LAND])
def test_a_vehicle_already_going_down_is_not_commanded(mode: Px4Mode) -> None:
    reaction = coordinator().check(fleet(vehicle("uav0", battery=15.0, mode=mode)), NOW)
    assert only(reaction, EventType.LOW_BATTERY).severity is EventSeverity.CRITICAL
    assert reaction.commands == ()


def test_a_critical_battery_is_commanded_once_until_the_battery_recovers() -> None:
    c = coordinator()
    low = fleet(vehicle("uav0", battery=15.0))
    assert len(c.check(low, NOW).commands) == 1
    assert c.check(low, NOW + 1.0) == Reaction()
    recovered = c.check(fleet(vehicle("uav0", battery=95.0)), NOW + 2.0)
    assert only(recovered, EventType.LOW_BATTERY).resolution == "battery above the warning level"
    assert c.check(low, NOW + 3.0).commands == (ReturnToLaunch("uav0", "return to launch"),)


def test_a_warning_that_turns_critical_is_reissued_as_critical_and_commanded() -> None:
    c = coordinator()
    warned = only(c.check(fleet(vehicle("uav0", battery=25.0)), NOW), EventType.LOW_BATTERY)
    critical = c.check(fleet(vehicle("uav0", battery=15.0)), NOW + 1.0)
    event = only(critical, EventType.LOW_BATTERY)
    assert (event.event_id, event.severity) == (warned.event_id, EventSeverity.CRITICAL)
    assert critical.commands == (ReturnToLaunch("uav0", "return to launch"),)


def test_a_critical_battery_on_the_ground_is_a_warning_only() -> None:
    reaction = coordinator().check(fleet(vehicle("uav0", battery=15.0, airborne=False)), NOW)
    assert only(reaction, EventType.LOW_BATTERY).severity is EventSeverity.WARNING
    assert reaction.commands == ()


def test_the_battery_of_a_lost_vehicle_or_one_in_maintenance_is_not_judged() -> None:
    lost = vehicle("uav0", battery=15.0, seen=NOW - 60.0)
    serviced = vehicle("uav1", 1000.0, battery=15.0)
    serviced.maintenance = True
    reaction = coordinator().check(fleet(lost, serviced), NOW)
    assert [e.type for e in reaction.events] == [EventType.LINK_LOST]
    assert reaction.commands == ()


# ------------------------------------------------------------------ link
def test_a_lost_link_opens_an_event_that_a_fresh_sample_resolves() -> None:
    c = coordinator()
    lost = c.check(fleet(vehicle("uav0", battery=95.0, seen=NOW - 12.5)), NOW)
    event = only(lost, EventType.LINK_LOST)
    assert (event.severity, event.resolution) == (EventSeverity.CRITICAL,
                                                  "waiting for the link to recover")
    assert dict(event.data) == {"last_seen_s_ago": "12.5"}
    assert lost.commands == ()
    # Stale is not fresh: the link is not restored yet.
    assert c.check(fleet(vehicle("uav0", battery=95.0, seen=NOW - 5.0)), NOW) == Reaction()
    restored = only(c.check(fleet(vehicle("uav0", battery=95.0)), NOW), EventType.LINK_LOST)
    assert (restored.event_id, restored.resolved, restored.resolution) == (
        event.event_id, True, "link restored")


def test_a_vehicle_never_heard_from_has_no_link_to_lose() -> None:
    silent = VehicleState(VehicleSpec("uav0", "/uav0/mavros"))
    assert coordinator().check(fleet(silent), NOW) == Reaction()


# ------------------------------------------------------------------ bookkeeping
def test_a_removed_vehicle_has_its_link_and_battery_events_resolved_and_is_forgotten() -> None:
    c = coordinator()
    c.check(fleet(vehicle("uav0", battery=15.0)), NOW)
    c.check(fleet(vehicle("uav0", battery=15.0, seen=NOW)), NOW + 11.0)  # and lost
    resolved = c.forget("uav0", NOW + 12.0)
    assert sorted(e.type for e in resolved) == [EventType.LOW_BATTERY, EventType.LINK_LOST]
    assert {e.resolution for e in resolved} == {"uav0 removed from the fleet"}
    # Back in the fleet and still critical: commanded again.
    assert c.check(fleet(vehicle("uav0", battery=15.0, seen=NOW + 13.0)),
                   NOW + 13.0).commands == (ReturnToLaunch("uav0", "return to launch"),)


def test_a_failed_command_is_a_one_shot_critical_event() -> None:
    event = coordinator().command_failed("uav0", "return to launch", 2, "refused", NOW)
    assert (event.type, event.severity, event.resolved) == (EventType.COMMAND_FAILED,
                                                            EventSeverity.CRITICAL, True)
    assert dict(event.data) == {"command": "return to launch", "attempts": "2"}
    assert event.resolution == "return to launch failed: refused"


def test_events_and_failed_commands_share_one_sequence_of_ids() -> None:
    c = coordinator()
    opened = only(c.check(fleet(vehicle("uav0", battery=25.0)), NOW), EventType.LOW_BATTERY)
    failed = c.command_failed("uav0", "hold", 1, "timeout", NOW)
    assert (opened.event_id, failed.event_id) == ("fm-1", "fm-2")


@pytest.mark.parametrize(("action", "command"), [
    (SafetyAction.HOLD, Hold("uav0", "why")), (SafetyAction.RTL, ReturnToLaunch("uav0", "why")),
    (SafetyAction.LAND, Land("uav0", "why"))])
def test_each_safety_action_has_its_command(action: SafetyAction, command: object) -> None:
    assert safety_command("uav0", action, "why") == command
