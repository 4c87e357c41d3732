"""A mission event's details: written and read by one schema; garbage named; bad waypoints
left out with the reason."""

from __future__ import annotations

import json

import pytest

from fleet_core.planning import PlanningContext, parse_request, plan_mission
from fleet_core.planning.event_details import (
    EventWaypoint,
    MissionEventDetails,
    PlannedRoute,
    parse_waypoints,
    planned_details,
)

from .conftest import rect, ring, survey_spec


def test_the_details_of_a_plan_read_back_equal_to_what_was_written(
        ctx: PlanningContext) -> None:
    request = parse_request(survey_spec([ring(rect(0, 0, 120, 90))]))
    plan = plan_mission(request, ctx)
    written = planned_details(mission_type="survey", priority=5, area=request.area, plan=plan)
    read = MissionEventDetails.from_json(written.to_json())
    assert read == written
    assert read.route is not None
    assert len(read.route.path) == len(plan.waypoints)
    assert read.route.distance_m == pytest.approx(plan.distance_m)
    assert read.waypoints is not None
    assert (read.waypoints[0].kind, read.waypoints[-1].kind) == ("takeoff", "land")
    assert read.area is not None
    assert read.area["type"] == "Polygon"


def test_the_json_keeps_the_shape_the_dashboard_and_older_recorders_read() -> None:
    details = MissionEventDetails(
        mission_type="patrol", priority=3, route=PlannedRoute(((8.5, 47.4), (8.6, 47.5)), 10.0,
                                                              20.0, 1.5),
        waypoints=(EventWaypoint(8.5, 47.4, 30.0, "transit", 2.0),))
    assert json.loads(details.to_json()) == {
        "type": "patrol", "priority": 3,
        "plan": {"path": [[8.5, 47.4], [8.6, 47.5]], "distance_m": 10.0, "duration_s": 20.0,
                 "energy_wh": 1.5},
        "waypoints": [[8.5, 47.4, 30.0, "transit", 2.0]]}


def test_keys_the_schema_does_not_name_are_kept() -> None:
    read = MissionEventDetails.from_json('{"type": "survey", "operator_note": "windy"}')
    assert read.extra == {"operator_note": "windy"}
    assert json.loads(read.to_json()) == {"type": "survey", "operator_note": "windy"}


def test_empty_details_are_no_details() -> None:
    assert MissionEventDetails.from_json("") == MissionEventDetails()


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("{not json", "details_json is not JSON", id="not-json"),
    pytest.param("[1, 2]", "details_json is not an object", id="not-an-object"),
    pytest.param('{"priority": "high"}', "priority 'high' is not an integer", id="priority"),
    pytest.param('{"type": 7}', "mission type 7 is not a string", id="type"),
    pytest.param('{"area": [1]}', "area must be a GeoJSON object", id="area"),
    pytest.param('{"plan": {"path": [[8.5, 95.0]]}}', "plan path point 0", id="path"),
    pytest.param('{"plan": {"path": [], "energy_wh": "lots"}}', "plan energy_wh 'lots'",
                 id="estimate"),
])
def test_a_bad_value_is_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MissionEventDetails.from_json(text)


def test_bad_waypoints_are_left_out_with_the_reason_and_the_event_kept() -> None:
    read = MissionEventDetails.from_json(
        '{"type": "patrol", "waypoints": [[8.5, 95.0, 40.0, "transit", 0.0]]}')
    assert read.mission_type == "patrol"
    assert read.waypoints is None
    assert read.waypoints_rejected is not None
    assert read.waypoints_rejected.startswith("waypoint 0 has a bad position")
    # Read again (a journal replay), the reason stays and nothing else appears.
    assert MissionEventDetails.from_dict(read.to_dict()) == read


@pytest.mark.parametrize(("raw", "message"), [
    pytest.param({"w": 1}, "waypoints must be a list, got dict", id="not-a-list"),
    pytest.param([[8.5, 47.4, 30.0]], r"waypoint 0 is not \[lon, lat, alt, kind, hold_s\]",
                 id="short"),
    pytest.param([[8.5, 47.4, 30.0, "loiter", -1.0]], "waypoint 0 has a bad position or hold",
                 id="negative-hold"),
    pytest.param([[True, 47.4, 30.0, "loiter", 1.0]], "waypoint 0 has a bad position or hold",
                 id="bool"),
])
def test_waypoints_that_are_not_five_sound_values_are_refused(raw: object,
                                                              message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_waypoints(raw)
